// The typed AST of a spec file. Every number is a bigint; every node has a position.

export interface Pos {
  line: number; // 1-based
  column: number; // 1-based
}

import type { HostName, KernelRulesName } from "../profile-names.js";
import type { ProfileName } from "../profile-names.js";
export { PROFILE_NAMES as PROFILES, type ProfileName } from "../profile-names.js";

export const CAPABILITIES = ["spapr_tce", "spapr_tce_64", "spapr_tce_vfio", "multi_tce"] as const;
export type Capability = (typeof CAPABILITIES)[number];
/** `machine kvm` without `caps`. */
export const DEFAULT_CAPABILITIES: readonly Capability[] = ["spapr_tce", "multi_tce"];

export type Permission = "r" | "w" | "rw" | "none";

/** A number as written, and its value. */
export interface NumberNode extends Pos {
  value: bigint;
  text: string;
}

/** A TCE: a number, or an address with a permission (`0x1000 rw` = 0x1003). */
export interface TceNode extends Pos {
  value: bigint;
  text: string;
}

export type TableRef =
  ({ kind: "liobn"; liobn: bigint; text: string } & Pos) | ({ kind: "phb"; phb: string; window: number; text: string } & Pos);

export type Comparison = "==" | "!=";

/** The right-hand side of an expectation, as written. */
export type ExpectedValue =
  | ({ kind: "code"; code: string } & Pos)
  | ({ kind: "number"; value: bigint; text: string; hasPermission: boolean } & Pos)
  | ({ kind: "word"; word: "fault" | "ok" | "blocked" } & Pos);

export type Action =
  | ({ kind: "put_tce"; table: TableRef; ioba: NumberNode; tce: TceNode } & Pos)
  | ({ kind: "get_tce"; table: TableRef; ioba: NumberNode } & Pos)
  | ({ kind: "stuff_tce"; table: TableRef; ioba: NumberNode; tce: TceNode; count: NumberNode } & Pos)
  | ({ kind: "put_tce_indirect"; table: TableRef; ioba: NumberNode; tces: TceNode[]; listAddress?: NumberNode } & Pos)
  | ({ kind: "create_window"; phb: string; phbPos: Pos; pageSize: NumberNode; windowSize: NumberNode } & Pos)
  | ({ kind: "remove_window"; table: TableRef } & Pos)
  | ({ kind: "reset_windows"; phb: string; phbPos: Pos } & Pos)
  | ({ kind: "query_window"; phb: string; phbPos: Pos } & Pos)
  | ({ kind: "dma"; device: string; devicePos: Pos; access: "read" | "write"; ioba: NumberNode } & Pos)
  | ({ kind: "reset" } & Pos)
  | ({ kind: "migrate" } & Pos);

export type Check =
  | { kind: "action"; action: Action; op: Comparison; value: ExpectedValue }
  | { kind: "placement"; table: TableRef; placement: "kvm" | "userspace" | "absent" }
  | { kind: "geometry"; table: TableRef; windowSize: NumberNode; pageSize: NumberNode; offset?: NumberNode }
  | { kind: "guest"; table: TableRef; ioba: NumberNode; op: Comparison; value: ExpectedValue }
  | { kind: "hw-entry"; table: TableRef; ioba: NumberNode; op: Comparison; value: ExpectedValue }
  | { kind: "hw-state"; table: TableRef; state: "in_sync" | "out_of_sync" | "absent" }
  | { kind: "vfio"; phb: string; phbPos: Pos; present: boolean }
  | { kind: "windows"; phb: string; phbPos: Pos; op: Comparison; value: ExpectedValue }
  /** The host (its kernel, and the machine's QEMU) is still up, or has crashed, by this point. */
  /**
   * ok: up; warned: its kernel WARNed (and went on); crashed: down. `atExit`: once the machine's
   * QEMU has exited (its devices released), over the whole run: only last in a spec.
   */
  | { kind: "host"; state: "ok" | "warned" | "crashed"; atExit?: true }
  | { kind: "notifiers"; table: TableRef; op: Comparison; value: ExpectedValue };

/** What every statement has: where it starts and its text as written (taken from the CST's offsets). */
export interface StatementBase extends Pos {
  source: string;
}

export interface Expectation extends StatementBase {
  kind: "expect";
  check: Check;
  when?: { profiles: ProfileName[] } & Pos;
  /** `when kernel …`: the host kernel rules under which the expectation holds. */
  whenKernel?: { kernels: KernelRulesName[] } & Pos;
  /** `when host …`: the hosts (pseries, powernv) on which the expectation holds. */
  whenHost?: { hosts: HostName[] } & Pos;
  xfail?: { reason: string } & Pos;
}

export interface MachineStmt extends StatementBase {
  kind: "machine";
  accel: "kvm" | "tcg";
  caps: Capability[];
  /** `ram SIZE`: the guest's RAM (default GUEST_RAM). */
  ram?: NumberNode;
}

export interface PhbStmt extends StatementBase {
  kind: "phb";
  name: string;
  index: NumberNode;
  dma32?: NumberNode;
  page?: NumberNode;
  ddw: boolean;
}

export interface PlugStmt extends StatementBase {
  kind: "plug";
  device: "vfio" | "emulated";
  name?: string;
  phb: string;
  phbPos: Pos;
}

export interface UnplugStmt extends StatementBase {
  kind: "unplug";
  name: string;
  /** Where the device's name is: an error about it points there. */
  namePos: Pos;
}

export interface ActionStmt extends StatementBase {
  kind: "action";
  action: Action;
}

export type Statement = MachineStmt | PhbStmt | PlugStmt | UnplugStmt | ActionStmt | Expectation;

export interface SpecBlock extends Pos {
  name: string;
  tags: string[];
  profiles?: { names: ProfileName[] } & Pos;
  statements: Statement[];
}

export interface SpecFile {
  path: string;
  suite?: string;
  setup: Statement[];
  /** Spec blocks, or a single spec named after the file for the flat form. */
  specs: SpecBlock[];
}
