// Checked statements → the steps the runner executes. The checker (check.ts) resolves names and
// validates values; it hands each statement here with what it resolved, and this file alone says
// what a step is: the operation or probe, its expected value, and where it was written.
import type * as A from "./ast.js";
import type { CompiledSpec, Expected, Probe, Step } from "./program.js";
import { DEFAULT_DMA32, DEFAULT_PAGE_SHIFT, type Operation, type PhbConfig } from "../engine/types.js";
import { PROFILES } from "./ast.js";

/** A spec before its steps: what its block says about it. */
export function specShell(file: string, suite: string, block: A.SpecBlock): CompiledSpec {
  return {
    file,
    suite,
    name: block.name,
    tags: block.tags,
    profiles: block.profiles?.names ?? [...PROFILES],
    machine: { accel: "tcg", caps: [] },
    steps: [],
    line: block.line,
    column: block.column,
  };
}

/**
 * QEMU's pseries machine always has PHB 0 (seen on QEMU 7.2 and 10.0.2, -nodefaults or not): a
 * spec that does not declare index 0 has it from the start with QEMU's defaults, named phb0 unless
 * the spec gives that name to another PHB. Answers the PHB to bind, or nothing.
 */
export function defaultPhb(declared: readonly A.PhbStmt[]): PhbConfig | undefined {
  if (declared.some((s) => s.index.value === 0n)) return undefined;
  const name = declared.some((s) => s.name === "phb0") ? "(QEMU's PHB 0)" : "phb0";
  return { name, index: 0, dma32: DEFAULT_DMA32, pageShift: DEFAULT_PAGE_SHIFT, ddw: true };
}

export function defaultPhbStep(phb: PhbConfig, block: A.SpecBlock): Step {
  return { kind: "do", operation: { kind: "add_phb", phb }, source: "(the default phb0)", line: block.line, column: block.column };
}

/** A statement that does something. */
export function doStep(operation: Operation, statement: A.Statement): Step {
  return { kind: "do", operation, source: statement.source, line: statement.line, column: statement.column };
}

/** An expectation: what it observes and what it expects, under which profiles, xfail or not. */
export function expectStep(statement: A.Expectation, probe: Probe, expected: Expected): Step {
  return {
    kind: "expect",
    probe,
    expected,
    when: statement.when?.profiles,
    whenKernel: statement.whenKernel?.kernels,
    whenHost: statement.whenHost?.hosts,
    xfail: statement.xfail?.reason,
    source: statement.source,
    line: statement.line,
    column: statement.column,
  };
}
