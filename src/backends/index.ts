// Every backend by name: the command line and the worker threads make backends here only.
// Real backends are loaded when named, so the model's start-up stays small.
import type { Backend, BackendOptions } from "./backend.js";
import { ModelBackend } from "./model.js";

const FACTORIES: Record<string, (options: BackendOptions) => Promise<Backend>> = {
  model: async (options) => new ModelBackend(options.bail ?? false),
  qemu: async (options) => {
    const { QemuBackend } = await import("./qemu/backend.js");
    const { isQemuVersion, QEMU_VERSIONS } = await import("./qemu/versions.js");
    const version = options.qemuVersion ?? "7.2";
    if (!isQemuVersion(version))
      throw new UnknownBackendError(`unknown QEMU version '${version}' (versions: ${Object.keys(QEMU_VERSIONS).join(", ")})`);
    return new QemuBackend({ binary: options.qemu, timeoutMs: options.timeoutMs, version });
  },
  kvm: async (options) => {
    const { isQemuVersion, QEMU_VERSIONS } = await import("./qemu/versions.js");
    const version = options.qemuVersion ?? "7.2";
    if (!isQemuVersion(version))
      throw new UnknownBackendError(`unknown QEMU version '${version}' (versions: ${Object.keys(QEMU_VERSIONS).join(", ")})`);
    // On the kvm backend --qemu is L0 and --qemu-version the QEMU inside L1.
    return new (await import("./kvm/backend.js")).KvmBackend({ kernel: options.kernel, timeoutMs: options.timeoutMs, binary: options.qemu, qemuVersion: version });
  },
};

export const BACKEND_NAMES = Object.keys(FACTORIES);

export class UnknownBackendError extends Error {}

export async function createBackend(name: string, options: BackendOptions): Promise<Backend> {
  const factory = FACTORIES[name];
  if (!factory) throw new UnknownBackendError(`unknown backend '${name}' (backends: ${BACKEND_NAMES.join(", ")})`);
  return factory(options);
}
