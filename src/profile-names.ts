// The profiles' names, defined once: the language, the engine, the schemas and the reports take
// them from here. A profile is a QEMU behaviour; src/engine/profiles.ts says what each does.
export const PROFILE_NAMES = ["pre-fix", "seed-v10", "qemu-2.7", "qemu-7.2", "qemu-10.0"] as const;
export type ProfileName = (typeof PROFILE_NAMES)[number];

/**
 * The host kernels' TCE hypercall rules, by name (`when kernel …`, --kernel-rules); a profile
 * names its own, src/engine/kvm.ts says what each does.
 */
export const KERNEL_RULES_NAMES = ["linux-4", "linux-6", "linux-6-checked"] as const;
export type KernelRulesName = (typeof KERNEL_RULES_NAMES)[number];
export const isKernelRules = (name: string): name is KernelRulesName => (KERNEL_RULES_NAMES as readonly string[]).includes(name);

/**
 * The hosts whose KVM a run stands for (`when host …`, --kvm-host): a pseries machine running
 * KVM-HV nested (the kvm backend's default L1), or a PowerNV one (a POWER server's bare metal).
 * Their IOMMUs differ (src/engine/host.ts says how).
 */
export const HOST_NAMES = ["pseries", "powernv"] as const;
export type HostName = (typeof HOST_NAMES)[number];
export const isHostName = (name: string): name is HostName => (HOST_NAMES as readonly string[]).includes(name);
