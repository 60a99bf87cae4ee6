// Every backend by name: the command line and the worker threads make backends here only.
// Real backends are loaded when named, so the model's start-up stays small.
import type { Backend, BackendOptions } from "./backend.js";
import { ModelBackend } from "./model.js";

/** A QEMU build named on the command line, found and checked, with the profile its runs stand for. */
async function buildOf(options: BackendOptions) {
  if (!options.qemuBuild) return {};
  const { findBuild, buildProfile } = await import("./qemu/build.js");
  const build = findBuild(options.qemuBuild);
  if ("problem" in build) throw new BackendUnavailableError(build.problem);
  const profile = buildProfile(build, options.standsFor);
  if (typeof profile !== "string") throw new BackendUnavailableError(profile.problem);
  return { build, ...(options.standsFor ? { standsFor: options.standsFor } : {}) };
}

/** --kernel: a kernel build's name (it starts with a letter), found and checked, or a Debian kernel version. */
async function kernelOf(options: BackendOptions) {
  if (!options.kernel) return {};
  const { findKernel, validKernelName } = await import("./kvm/kernel.js");
  if (!validKernelName(options.kernel)) return { kernel: options.kernel };
  const build = findKernel(options.kernel);
  if ("problem" in build) throw new BackendUnavailableError(build.problem);
  return { hostKernel: build };
}

const FACTORIES: Record<string, (options: BackendOptions) => Promise<Backend>> = {
  // The model plays the host kernel's rules: --kernel-rules, else those of the kernel build --kernel names.
  model: async (options) => {
    const { isHostName, HOST_NAMES } = await import("../profile-names.js");
    if (options.kvmHost !== undefined && !isHostName(options.kvmHost)) throw new UnknownBackendError(`unknown KVM host '${options.kvmHost}' (hosts: ${HOST_NAMES.join(", ")})`);
    return new ModelBackend(options.bail ?? false, options.kernelRules ?? (await kernelOf(options)).hostKernel?.manifest.rules, options.kvmHost);
  },
  qemu: async (options) => {
    const { QemuBackend } = await import("./qemu/backend.js");
    const { isQemuVersion, QEMU_VERSIONS } = await import("./qemu/versions.js");
    const version = options.qemuVersion ?? "7.2";
    if (!isQemuVersion(version))
      throw new UnknownBackendError(`unknown QEMU version '${version}' (versions: ${Object.keys(QEMU_VERSIONS).join(", ")})`);
    if (options.qemuBuild && options.qemu) throw new UnknownBackendError("--qemu names a binary and --qemu-build a build: the qemu backend runs one of them");
    return new QemuBackend({ binary: options.qemu, timeoutMs: options.timeoutMs, timeoutScale: options.timeoutScale, version, ...(options.kernelRules ? { kernelRules: options.kernelRules } : {}), ...(await buildOf(options)) });
  },
  kvm: async (options) => {
    const { isQemuVersion, QEMU_VERSIONS } = await import("./qemu/versions.js");
    const version = options.qemuVersion ?? "7.2";
    if (!isQemuVersion(version))
      throw new UnknownBackendError(`unknown QEMU version '${version}' (versions: ${Object.keys(QEMU_VERSIONS).join(", ")})`);
    const { isHostName, HOST_NAMES } = await import("../profile-names.js");
    if (options.kvmHost !== undefined && !isHostName(options.kvmHost)) throw new UnknownBackendError(`unknown KVM host '${options.kvmHost}' (hosts: ${HOST_NAMES.join(", ")})`);
    // On the kvm backend --qemu is L0 and --qemu-version the QEMU inside L1.
    return new (await import("./kvm/backend.js")).KvmBackend({
      ...(options.kvmHost ? { host: options.kvmHost } : {}),
      ...(options.idleSkips ? { idleSkips: true } : {}),
      ...(await kernelOf(options)),
      ...(options.kernelRules ? { kernelRules: options.kernelRules } : {}),
      timeoutMs: options.timeoutMs,
      timeoutScale: options.timeoutScale,
      binary: options.qemu,
      qemuVersion: version,
      ...(await buildOf(options)),
    });
  },
};

export const BACKEND_NAMES = Object.keys(FACTORIES);

export class UnknownBackendError extends Error {}
/** A backend that cannot be made as asked (a build that does not exist): one line, no usage text. */
export class BackendUnavailableError extends Error {}

export async function createBackend(name: string, options: BackendOptions): Promise<Backend> {
  const factory = FACTORIES[name];
  if (!factory) throw new UnknownBackendError(`unknown backend '${name}' (backends: ${BACKEND_NAMES.join(", ")})`);
  return factory(options);
}
