// The checked program: what the runner executes. Names are resolved to PHB indices and LIOBNs.
import type { HostName, KernelRulesName } from "../profile-names.js";
import type { MachineConfig, Operation, ProfileName } from "../engine/types.js";
import type { Comparison, Pos } from "./ast.js";

/** What an expectation observes; the runner asks the engine for it. */
export type Probe =
  | { kind: "operation"; operation: Operation }
  | { kind: "placement"; liobn: bigint }
  /** The window the expectation names: a real backend probes for exactly this geometry. */
  | { kind: "geometry"; liobn: bigint; withOffset: boolean; windowSize: bigint; pageSize: bigint; offset?: bigint }
  | { kind: "guest"; liobn: bigint; ioba: bigint }
  | { kind: "hw-entry"; liobn: bigint; ioba: bigint }
  | { kind: "hw-state"; liobn: bigint }
  | { kind: "vfio"; phbIndex: number }
  | { kind: "windows"; phbIndex: number }
  | { kind: "notifiers"; liobn: bigint }
  /** Whether the host is still up: the model's never crashes; a real one reads `crashed` after a crash. */
  /** `atExit`: the host once the machine's QEMU has exited, over the whole run (the spec's last expectations only). */
  | { kind: "host"; atExit?: true };

/** An expected value in its canonical printed form, the form actual values take too. */
export interface Expected {
  op: Comparison;
  text: string;
}

export type Step =
  | ({ kind: "do"; operation: Operation; source: string } & Pos)
  | ({ kind: "expect"; probe: Probe; expected: Expected; when?: ProfileName[]; whenKernel?: KernelRulesName[]; whenHost?: HostName[]; xfail?: string; source: string } & Pos);

export interface CompiledSpec extends Pos {
  file: string;
  suite: string;
  name: string;
  tags: string[];
  profiles: ProfileName[];
  machine: MachineConfig;
  steps: Step[];
}

export interface Program {
  file: string;
  suite: string;
  specs: CompiledSpec[];
}
