// Positions: offsets of CST elements, the token a node starts with, and the file's line table.
import type { CstElement, CstNode, IToken } from "chevrotain";

type Children = Record<string, CstElement[] | undefined>;

export function isToken(element: CstElement): element is IToken {
  return (element as IToken).image !== undefined;
}

export function offsetOf(element: CstElement): number {
  return isToken(element) ? element.startOffset : (element.location?.startOffset ?? 0);
}

/** The token a node starts with (for messages that quote it): each list of children is in order. */
export function startToken(node: CstNode): IToken | undefined {
  let best: IToken | undefined;
  const children = node.children as Children;
  for (const key in children) {
    const element = children[key]![0];
    if (element === undefined) continue;
    const token = isToken(element) ? element : startToken(element);
    if (token && (best === undefined || token.startOffset < best.startOffset)) best = token;
  }
  return best;
}

/** Offsets where each line starts; a line ends at \n, \r\n or a lone \r, as the lexer counts them. */
export function lineStartsOf(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x0a) starts.push(i + 1);
    else if (c === 0x0d) {
      if (text.charCodeAt(i + 1) === 0x0a) i++;
      starts.push(i + 1);
    }
  }
  return starts;
}

/** The 1-based line and column of an offset, by binary search in the line starts. */
export function positionAt(lineStarts: number[], offset: number): { line: number; column: number } {
  let low = 0;
  let high = lineStarts.length - 1;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (lineStarts[mid]! <= offset) low = mid;
    else high = mid - 1;
  }
  return { line: low + 1, column: offset - lineStarts[low]! + 1 };
}

/** Two lists already in source order, merged in source order. */
export function mergeByOffset(a: CstElement[], b: CstElement[]): CstElement[] {
  const out: CstElement[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = offsetOf(a[i]!) <= offsetOf(b[j]!) ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}
