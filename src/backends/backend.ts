// Who executes a spec's steps: the model (the engine) or a real QEMU.
import type { CompiledSpec } from "../compile/program.js";
import type { ProfileName } from "../engine/types.js";
import type { RunResult } from "../run/outcome.js";

export interface Backend {
  readonly name: string;
  /** The profiles this backend can play (the qemu backend is QEMU 7.2 itself). */
  readonly profiles: readonly ProfileName[];
  run(spec: CompiledSpec, profile: ProfileName): Promise<RunResult>;
  close?(): Promise<void>;
}
