// Values as the language writes them: hex for addresses and TCEs, sizes with their suffix,
// names for codes and states. Expected and actual values are compared in this form.
import { HCALL_RC, RTAS_STATUS } from "./engine/types.js";

/** The base-2 logarithm of a power of two (of any positive value: its highest bit). */
export function log2(value: bigint): number {
  return value.toString(2).length - 1;
}

export function hex(value: bigint): string {
  return `0x${value.toString(16)}`;
}

const SIZE_SUFFIXES: [bigint, string][] = [
  [1n << 50n, "P"],
  [1n << 40n, "T"],
  [1n << 30n, "G"],
  [1n << 20n, "M"],
  [1n << 10n, "K"],
];

export function size(value: bigint): string {
  for (const [unit, suffix] of SIZE_SUFFIXES) {
    if (value >= unit && value % unit === 0n) return `${value / unit}${suffix}`;
  }
  return value.toString();
}

export function geometry(windowSize: bigint, pageSize: bigint, offset?: bigint): string {
  const base = `size ${size(windowSize)} page ${size(pageSize)}`;
  return offset === undefined ? base : `${base} offset ${hex(offset)}`;
}

const CODE_VALUES: Record<string, bigint> = { ...HCALL_RC, ...RTAS_STATUS };

export function isHcallCode(name: string): boolean {
  return Object.hasOwn(HCALL_RC, name);
}
export function isRtasStatus(name: string): boolean {
  return Object.hasOwn(RTAS_STATUS, name);
}

/** Equal as the language means it: RTAS_NOT_SUPPORTED and RTAS_PARAM_ERROR are both -3. */
export function sameValue(expected: string, actual: string): boolean {
  if (expected === actual) return true;
  const a = CODE_VALUES[expected];
  const b = CODE_VALUES[actual];
  return a !== undefined && b !== undefined && a === b && expected.startsWith("RTAS_") === actual.startsWith("RTAS_");
}
