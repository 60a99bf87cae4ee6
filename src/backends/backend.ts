// Who executes a spec's steps: the model (the engine) or real software. The runner knows
// backends only through this interface; what each can do, it declares here.
import type { CompiledSpec } from "../compile/program.js";
import type { ProfileName } from "../engine/types.js";
import type { KernelRulesName } from "../engine/kvm.js";
import type { HostName } from "../profile-names.js";
import type { RunResult } from "../verdict/outcome.js";

/** What the command line hands to a backend's factory; each backend reads what it needs. */
export interface BackendOptions {
  bail?: boolean;
  /** The qemu-system-ppc64 to run (qemu backend; L0 on the kvm backend). */
  qemu?: string;
  /** Which QEMU the qemu backend runs: 7.2 or 10.0. */
  qemuVersion?: string;
  /** Per-spec timeout in milliseconds on a real backend. */
  timeoutMs?: number;
  /**
   * Without `timeoutMs`: the backend's own per-spec timeout times this (the explorer's machines
   * run several scenarios each; a PowerNV L1 allows a spec three times a pseries one's time).
   */
  timeoutScale?: number;
  /** The kernel L1 boots (kvm backend): a kernel build's name ('tcespec kvm kernel build'), or a Debian kernel version. */
  kernel?: string;
  /**
   * The host kernel's TCE hypercall rules the model plays for every profile (linux-4, linux-6,
   * linux-6-checked) instead of each profile's own; a kernel build named by `kernel` brings its own.
   */
  kernelRules?: KernelRulesName;
  /** A QEMU build by name ('tcespec qemu build'): the qemu backend runs its host binary, the kvm backend overlays its ppc64el binary on L1. */
  qemuBuild?: string;
  /** The profile a build's runs stand for (default: its base version's). */
  standsFor?: ProfileName;
  /** The machine L1 is on the kvm backend: pseries (default) or powernv. */
  kvmHost?: string;
  /** The kvm backend's L0 skips L1's idle time (already so on PowerNV): the explorer's choice, whose guests mostly wait for DMA. */
  idleSkips?: boolean;
}

/** How a worker thread makes the same backend anew. */
export interface BackendRecipe {
  name: string;
  options: BackendOptions;
}

export interface Task {
  spec: CompiledSpec;
  profile: ProfileName;
}

/**
 * The real software that judged a backend's runs, as that software reports itself (a binary's
 * `--version`, `uname -r` where the host kernel runs): every report names it.
 */
export interface BackendIdentity {
  /** The QEMU that ran the guests, as its `--version` says: "7.2.22 (Debian 1:7.2+dfsg-7+deb12u18)". */
  qemu?: string;
  /** The kernel whose KVM ran the guests (kvm backend), as `uname -r` says there. */
  kernel?: string;
  /** Where that software was: the binary's path, L1's image. */
  where?: string;
  /** The platform whose KVM ran the guests (kvm backend), as its kernel said: pseries (KVM-HV nested) or powernv (bare metal, as a POWER host's own). */
  host?: HostName;
  /** A QEMU built by tcespec: its name, base version, source and patches (so no one takes a mutant's verdict for stock QEMU's). */
  build?: string;
}

export interface Backend {
  readonly name: string;
  /** The profiles it plays: the model plays them all; real software stands for the one it is. */
  readonly profiles: readonly ProfileName[];
  /** Real software: each of its runs is compared with the model's run of the same profile. */
  readonly real: boolean;
  /** In-process and CPU-bound: worker threads may run it, each making it anew from this recipe. */
  readonly recipe?: BackendRecipe;
  run(spec: CompiledSpec, profile: ProfileName): Promise<RunResult>;
  /** Synchronous, in this thread. */
  runSync?(spec: CompiledSpec, profile: ProfileName): RunResult;
  /** A backend whose machines are dear to start takes its whole share at once, with `jobs` machines. */
  runBatch?(tasks: readonly Task[], jobs: number, progress?: GuestsDone): Promise<RunResult[]>;
  close?(): Promise<void>;
  /** Real software: what judged its runs, once it ran (undefined before, or where nothing ran). */
  identity?(): BackendIdentity | undefined;
}

/** Told each time a real machine finishes a guest (for a progress line): how many have, of the batch. */
export type GuestsDone = (done: number) => void;
