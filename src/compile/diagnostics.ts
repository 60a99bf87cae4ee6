// Errors users cause are values with a position, not exceptions.
import type { Pos } from "./ast.js";

export interface Diagnostic extends Pos {
  file: string;
  message: string;
}

export function diagnostic(file: string, pos: Pos, message: string): Diagnostic {
  return { file, line: pos.line, column: pos.column, message };
}

const WINDOW = 100;

/** `path:line:col: message`, the source line and a caret under the column. */
export function formatDiagnostic(d: Diagnostic, source: string | undefined): string {
  const head = `${d.file}:${d.line}:${d.column}: ${d.message}`;
  if (source === undefined) return head;
  const line = sourceLine(source, d.line);
  if (line === undefined) return head;
  // A 1 MB line is shown as a window around the column, never whole.
  let start = 0;
  let text = line;
  if (line.length > WINDOW) {
    start = Math.max(0, Math.min(d.column - 1 - WINDOW / 2, line.length - WINDOW));
    text = line.slice(start, start + WINDOW);
  }
  const printable = text.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "?");
  const pad = printable.slice(0, Math.max(0, d.column - 1 - start)).replace(/[^\t]/g, " ");
  return `${head}\n  ${printable}\n  ${pad}^`;
}

export function sourceLine(source: string, line: number): string | undefined {
  let start = 0;
  for (let n = 1; n < line; n++) {
    const next = nextLineStart(source, start);
    if (next < 0) return undefined;
    start = next;
  }
  let end = start;
  while (end < source.length && source[end] !== "\n" && source[end] !== "\r") end++;
  return source.slice(start, end);
}

function nextLineStart(source: string, from: number): number {
  for (let i = from; i < source.length; i++) {
    const c = source[i];
    if (c === "\n") return i + 1;
    if (c === "\r") return source[i + 1] === "\n" ? i + 2 : i + 1;
  }
  return -1;
}
