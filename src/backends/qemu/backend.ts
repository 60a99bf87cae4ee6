import type { CompiledSpec } from "../../compile/program.js";
import type { ProfileName } from "../../engine/types.js";
import type { RunResult } from "../../run/outcome.js";
import type { Backend } from "../backend.js";

export interface QemuOptions {
  binary?: string;
  timeoutMs?: number;
}

export class QemuBackend implements Backend {
  readonly name = "qemu";
  readonly profiles: readonly ProfileName[] = ["qemu-7.2"];
  constructor(readonly options: QemuOptions = {}) {}
  async run(spec: CompiledSpec, profile: ProfileName): Promise<RunResult> {
    return { file: spec.file, suite: spec.suite, spec: spec.name, tags: spec.tags, profile, backend: this.name, status: "unsupported", reason: "the qemu backend is not built yet", expectations: [] };
  }
}
