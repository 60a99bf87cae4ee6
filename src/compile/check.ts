// AST → checked program: names bound (PHBs to indices and LIOBNs, devices to what is plugged, in
// the order the statements come) and values checked. Every error a user can make before anything
// runs is found here: unknown or duplicate PHB and device names, `machine` not first or twice,
// tables that can never exist, zero-sized windows, page sizes that are not powers of two, values
// of the wrong kind. The steps themselves are made by lower.ts.
import { unknown } from "./suggest.js";
import type * as A from "./ast.js";
import { diagnostic, type Diagnostic } from "./diagnostics.js";
import type { CompiledSpec, Expected, Probe, Program } from "./program.js";
import { DEFAULT_DMA32, DEFAULT_PAGE_SHIFT, GUEST_RAM_BLOCK, liobnOf, type Operation, type PhbConfig } from "../engine/types.js";
import { defaultPhb, defaultPhbStep, doStep, expectStep, specShell } from "./lower.js";
import { geometry, hex, log2 } from "../values.js";
import { expectedValue, type Accepted } from "./expected.js";
import { unreachable } from "../unreachable.js";

// QEMU 7.2 refuses a larger index: '"index" for PAPR PHB is too large (max 30)' (seen).
const MAX_PHB_INDEX = 30n;

function isPowerOfTwo(value: bigint): boolean {
  return value > 0n && (value & (value - 1n)) === 0n;
}

/** Per-spec scope: PHBs and devices as the statements declare them, in order. */
class Scope {
  readonly phbs = new Map<string, PhbConfig>();
  readonly liveDevices = new Map<string, "vfio" | "emulated">();
  readonly everPlugged = new Set<string>();
  machineSeen = false;
  statementsSeen = 0;
  /** An `expect host … at exit` came: only more of them may follow. */
  atExitSeen = false;
}

export class Checker {
  readonly diagnostics: Diagnostic[] = [];
  constructor(private readonly file: string) {}

  private error(pos: A.Pos, message: string): void {
    this.diagnostics.push(diagnostic(this.file, pos, message));
  }

  program(ast: A.SpecFile): Program {
    const suite = ast.suite ?? this.file.replace(/^.*[\\/]/, "").replace(/\.tce$/, "");
    const names = new Set<string>();
    const specs: CompiledSpec[] = [];
    // The setup's own errors are reported once, not once per spec.
    let reportSetup = true;
    for (const block of ast.specs) {
      if (names.has(block.name)) this.error(block, `a second spec named "${block.name}" in this file`);
      names.add(block.name);
      specs.push(this.spec(ast, suite, block, reportSetup));
      reportSetup = false;
    }
    return { file: this.file, suite, specs };
  }

  private spec(ast: A.SpecFile, suite: string, block: A.SpecBlock, reportSetup: boolean): CompiledSpec {
    const scope = new Scope();
    const spec = specShell(this.file, suite, block);
    const phb0 = defaultPhb([...ast.setup, ...block.statements].filter((s): s is A.PhbStmt => s.kind === "phb"));
    if (phb0) {
      scope.phbs.set(phb0.name, phb0);
      spec.steps.push(defaultPhbStep(phb0, block));
    }
    const before = this.diagnostics.length;
    for (const statement of ast.setup) this.statement(statement, scope, spec);
    if (!reportSetup) this.diagnostics.length = before;
    for (const statement of block.statements) this.statement(statement, scope, spec);
    return spec;
  }

  private statement(statement: A.Statement, scope: Scope, spec: CompiledSpec): void {
    const counted = scope.statementsSeen++;
    // `expect host … at exit` reads the host once the machine is gone: nothing but more of them after it.
    const atExit = statement.kind === "expect" && statement.check.kind === "host" && statement.check.atExit === true;
    if (scope.atExitSeen && !atExit) this.error(statement, "only 'expect host … at exit' may follow 'expect host … at exit': it reads the host once the machine's QEMU has exited");
    if (atExit) scope.atExitSeen = true;
    switch (statement.kind) {
      case "machine":
        if (scope.machineSeen) this.error(statement, "'machine' appears twice: a spec has one machine");
        else if (counted > 0) this.error(statement, "'machine' must come first in a spec (a setup block counts as its start)");
        scope.machineSeen = true;
        spec.machine = { accel: statement.accel, caps: statement.caps };
        if (statement.ram) {
          const ram = statement.ram.value;
          if (ram === 0n || ram % GUEST_RAM_BLOCK !== 0n)
            this.error(statement.ram, `guest RAM of ${statement.ram.text}: pseries RAM is a whole number of 256M blocks`);
          else spec.machine.ram = ram;
        }
        return;
      case "phb":
        return this.phb(statement, scope, spec);
      case "plug": {
        const phb = this.phbNamed(statement.phb, statement.phbPos, scope);
        let name = statement.name;
        if (name === undefined) {
          const prefix = statement.device === "vfio" ? "vfio" : "emu";
          let n = 0;
          while (scope.liveDevices.has(`${prefix}${n}`) || scope.everPlugged.has(`${prefix}${n}`)) n++;
          name = `${prefix}${n}`;
        } else if (scope.liveDevices.has(name)) {
          this.error(statement, `a device named '${name}' is already plugged`);
        } else if (scope.phbs.has(name)) {
          this.error(statement, `'${name}' is a PHB's name; give the device another`);
        }
        scope.liveDevices.set(name, statement.device);
        scope.everPlugged.add(name);
        if (phb)
          spec.steps.push(doStep({ kind: "plug", device: statement.device, name, phbIndex: phb.index }, statement));
        return;
      }
      case "unplug":
        if (!this.device(statement.name, statement.namePos, scope)) return;
        scope.liveDevices.delete(statement.name);
        spec.steps.push(doStep({ kind: "unplug", name: statement.name }, statement));
        return;
      case "action": {
        const operation = this.operation(statement.action, scope);
        if (operation) spec.steps.push(doStep(operation, statement));
        return;
      }
      case "expect":
        return this.expectation(statement, scope, spec);
      default:
        return unreachable(statement);
    }
  }

  private phb(statement: A.PhbStmt, scope: Scope, spec: CompiledSpec): void {
    if (scope.phbs.has(statement.name)) {
      this.error(statement, `a second PHB named '${statement.name}'`);
      return;
    }
    if (statement.index.value > MAX_PHB_INDEX) {
      this.error(statement.index, `a PHB index is at most ${MAX_PHB_INDEX}, not ${statement.index.text}`);
      return;
    }
    const index = Number(statement.index.value);
    for (const other of scope.phbs.values()) {
      if (other.index === index) {
        this.error(statement.index, `PHB index ${index} is already taken by '${other.name}'`);
        return;
      }
    }
    const pageSize = statement.page?.value ?? 1n << BigInt(DEFAULT_PAGE_SHIFT);
    const dma32 = statement.dma32?.value ?? DEFAULT_DMA32;
    let ok = true;
    if (statement.page && !isPowerOfTwo(pageSize)) {
      this.error(statement.page, `the page size ${statement.page.text} is not a power of two`);
      ok = false;
    }
    if (statement.dma32 && dma32 === 0n) {
      this.error(statement.dma32, "a DMA window of size 0");
      ok = false;
    } else if (ok && dma32 % pageSize !== 0n) {
      this.error(
        statement.dma32 ?? statement,
        `the window size ${statement.dma32?.text ?? "1G"} is not a whole number of ${statement.page?.text ?? "4K"} pages`,
      );
      ok = false;
    }
    const phb: PhbConfig = { name: statement.name, index, dma32, pageShift: ok ? log2(pageSize) : DEFAULT_PAGE_SHIFT, ddw: statement.ddw };
    scope.phbs.set(statement.name, phb);
    if (ok) spec.steps.push(doStep({ kind: "add_phb", phb }, statement));
  }

  private phbNamed(name: string, pos: A.Pos, scope: Scope): PhbConfig | undefined {
    const phb = scope.phbs.get(name);
    if (!phb) {
      this.error(pos, unknown("PHB", name, [...scope.phbs.keys()], "declared"));
    }
    return phb;
  }

  private liobn(table: A.TableRef, scope: Scope): bigint | undefined {
    if (table.kind === "liobn") return table.liobn;
    const phb = this.phbNamed(table.phb, table, scope);
    return phb && liobnOf(phb.index, table.window);
  }

  private device(name: string, pos: A.Pos, scope: Scope): boolean {
    if (scope.liveDevices.has(name)) return true;
    this.error(pos, scope.everPlugged.has(name) ? `device '${name}' was unplugged before this line` : unknown("device", name, [...scope.liveDevices.keys()]));
    return false;
  }

  private operation(action: A.Action, scope: Scope): Operation | undefined {
    switch (action.kind) {
      case "put_tce": {
        const liobn = this.liobn(action.table, scope);
        return liobn === undefined ? undefined : { kind: "put_tce", liobn, ioba: action.ioba.value, tce: action.tce.value };
      }
      case "get_tce": {
        const liobn = this.liobn(action.table, scope);
        return liobn === undefined ? undefined : { kind: "get_tce", liobn, ioba: action.ioba.value };
      }
      case "stuff_tce": {
        const liobn = this.liobn(action.table, scope);
        return liobn === undefined
          ? undefined
          : { kind: "stuff_tce", liobn, ioba: action.ioba.value, tce: action.tce.value, count: action.count.value };
      }
      case "put_tce_indirect": {
        const liobn = this.liobn(action.table, scope);
        return liobn === undefined
          ? undefined
          : {
              kind: "put_tce_indirect",
              liobn,
              ioba: action.ioba.value,
              tces: action.tces.map((t) => t.value),
              listAddress: action.listAddress?.value ?? 0x10000n,
            };
      }
      case "create_window": {
        const phb = this.phbNamed(action.phb, action.phbPos, scope);
        let ok = true;
        if (!isPowerOfTwo(action.pageSize.value)) {
          this.error(action.pageSize, `the page size ${action.pageSize.text} is not a power of two`);
          ok = false;
        }
        if (action.windowSize.value === 0n) {
          this.error(action.windowSize, "a DMA window of size 0");
          ok = false;
        } else if (!isPowerOfTwo(action.windowSize.value)) {
          this.error(action.windowSize, `the window size ${action.windowSize.text} is not a power of two (RTAS takes its log2)`);
          ok = false;
        }
        return phb && ok
          ? { kind: "create_window", phbIndex: phb.index, pageSize: action.pageSize.value, windowSize: action.windowSize.value }
          : undefined;
      }
      case "remove_window": {
        const liobn = this.liobn(action.table, scope);
        // RTAS arguments are 32-bit cells: QEMU would see only the low half (0x180000000 → 0x80000000).
        if (liobn !== undefined && liobn > 0xffff_ffffn) {
          this.error(action.table, `the LIOBN ${hex(liobn)} does not fit RTAS's 32-bit argument cell`);
          return undefined;
        }
        return liobn === undefined ? undefined : { kind: "remove_window", liobn };
      }
      case "reset_windows":
      case "query_window": {
        const phb = this.phbNamed(action.phb, action.phbPos, scope);
        return phb && { kind: action.kind, phbIndex: phb.index };
      }
      case "dma":
        return this.device(action.device, action.devicePos, scope)
          ? { kind: "dma", device: action.device, access: action.access, ioba: action.ioba.value }
          : undefined;
      case "reset":
        return { kind: "reset" };
      case "migrate":
        return { kind: "migrate" };
      default:
        return unreachable(action);
    }
  }

  private expectation(statement: A.Expectation, scope: Scope, spec: CompiledSpec): void {
    const resolved = this.probe(statement.check, scope);
    if (!resolved) return;
    spec.steps.push(expectStep(statement, ...resolved));
  }

  private value(value: A.ExpectedValue, op: A.Comparison, what: string, accepts: Accepted[]): Expected | undefined {
    return expectedValue(value, op, what, accepts, (pos, message) => this.error(pos, message));
  }

  private probe(check: A.Check, scope: Scope): [Probe, Expected] | undefined {
    switch (check.kind) {
      case "action": {
        const operation = this.operation(check.action, scope);
        const accepts = (
          {
            put_tce: ["hcall"],
            stuff_tce: ["hcall"],
            put_tce_indirect: ["hcall"],
            get_tce: ["hcall", "tce"],
            create_window: ["rtas", "tce"],
            remove_window: ["rtas"],
            reset_windows: ["rtas"],
            query_window: ["rtas", "number"],
            dma: ["fault"],
            reset: [],
            migrate: ["migrate"],
          } as const
        )[check.action.kind];
        if (accepts.length === 0) {
          this.error(check.action, `'${check.action.kind}' answers nothing to compare; write it as a bare statement`);
          return undefined;
        }
        const expected = this.value(check.value, check.op, check.action.kind, [...accepts]);
        return operation && expected && [{ kind: "operation", operation }, expected];
      }
      case "placement": {
        const liobn = this.liobn(check.table, scope);
        return liobn === undefined
          ? undefined
          : [
              { kind: "placement", liobn },
              { op: "==", text: check.placement },
            ];
      }
      case "geometry": {
        const liobn = this.liobn(check.table, scope);
        if (!isPowerOfTwo(check.pageSize.value)) this.error(check.pageSize, `the page size ${check.pageSize.text} is not a power of two`);
        if (check.windowSize.value === 0n) this.error(check.windowSize, "a DMA window of size 0");
        const text = geometry(check.windowSize.value, check.pageSize.value, check.offset?.value);
        return liobn === undefined
          ? undefined
          : [
              {
                kind: "geometry",
                liobn,
                withOffset: check.offset !== undefined,
                windowSize: check.windowSize.value,
                pageSize: check.pageSize.value,
                ...(check.offset ? { offset: check.offset.value } : {}),
              },
              { op: "==", text },
            ];
      }
      case "guest":
      case "hw-entry": {
        const liobn = this.liobn(check.table, scope);
        const expected = this.value(check.value, check.op, `${check.kind === "guest" ? "guest" : "hw"}(T, IOBA)`, ["tce"]);
        return liobn === undefined || !expected ? undefined : [{ kind: check.kind, liobn, ioba: check.ioba.value }, expected];
      }
      case "hw-state": {
        const liobn = this.liobn(check.table, scope);
        return liobn === undefined
          ? undefined
          : [
              { kind: "hw-state", liobn },
              { op: "==", text: check.state },
            ];
      }
      case "vfio": {
        const phb = this.phbNamed(check.phb, check.phbPos, scope);
        return (
          phb && [
            { kind: "vfio", phbIndex: phb.index },
            { op: "==", text: check.present ? "yes" : "no" },
          ]
        );
      }
      case "windows": {
        const phb = this.phbNamed(check.phb, check.phbPos, scope);
        const expected = this.value(check.value, check.op, "windows(PHB)", ["number"]);
        return phb && expected && [{ kind: "windows", phbIndex: phb.index }, expected];
      }
      case "host":
        return [{ kind: "host", ...(check.atExit ? { atExit: true as const } : {}) }, { op: "==", text: check.state }];
      case "notifiers": {
        const liobn = this.liobn(check.table, scope);
        const expected = this.value(check.value, check.op, "notifiers(T)", ["number"]);
        return liobn === undefined || !expected ? undefined : [{ kind: "notifiers", liobn }, expected];
      }
      default:
        return unreachable(check);
    }
  }
}
