// Literals as the language writes them: numbers with `_` and size suffixes, permissions.
import type { Permission } from "./ast.js";

const MAX_U64 = (1n << 64n) - 1n;
const SUFFIX: Record<string, bigint> = { K: 1n << 10n, M: 1n << 20n, G: 1n << 30n, T: 1n << 40n, P: 1n << 50n };
export const PERMISSION_BITS: Record<Permission, bigint> = { none: 0n, r: 1n, w: 2n, rw: 3n };

/** The value of a number literal, or why it has none (it does not fit in 64 bits). */
export function parseNumber(text: string): bigint | string {
  let digits = text.replace(/_/g, "");
  let scale = 1n;
  const last = digits[digits.length - 1]!;
  if (!/^0[xX]/.test(digits) && SUFFIX[last] !== undefined) {
    scale = SUFFIX[last]!;
    digits = digits.slice(0, -1);
  }
  const value = BigInt(digits) * scale;
  if (value > MAX_U64) return `the number ${text} does not fit in 64 bits`;
  return value;
}

/** A size as the language writes it: `64K`, `1T`, or plain digits. */
export function parseSize(text: string): bigint {
  const value = parseNumber(text);
  if (typeof value === "string") throw new Error(value);
  return value;
}
