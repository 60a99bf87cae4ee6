// Text → checked program, with every diagnostic the front end can find.
import { specLexer } from "../../grammar/tokens.js";
import * as T from "../../grammar/tokens.js";
import { specParser } from "../../grammar/parser.js";
import { AstBuilder } from "./to-ast.js";
import { Checker } from "./check.js";
import { diagnostic, type Diagnostic } from "./diagnostics.js";
import type { Program } from "./program.js";
import type { SpecFile } from "./ast.js";
import { lineStartsOf, positionAt } from "./positions.js";
import { recover } from "./recover.js";

export const MAX_DIAGNOSTICS_PER_FILE = 50;

export interface CompileResult {
  file: string;
  source: string;
  ast?: SpecFile;
  program?: Program;
  diagnostics: Diagnostic[];
}

/** A file's text cut into chunks of whole top-level items, at line starts outside any block. */
export function* chunks(source: string, size = 16 * 1024): Generator<{ text: string; start: number }> {
  let start = 0;
  let depth = 0;
  let i = 0;
  const n = source.length;
  while (i < n) {
    const c = source.charCodeAt(i);
    if (c === 0x22 /* " */) {
      // A string ends at its quote or, unterminated, at the end of the line.
      for (i++; i < n; i++) {
        const d = source.charCodeAt(i);
        if (d === 0x5c /* \\ */) i++;
        else if (d === 0x22 || d === 0x0a || d === 0x0d) break;
      }
      if (i < n && source.charCodeAt(i) === 0x22) i++;
      continue;
    }
    if (c === 0x23 /* # */) {
      while (i < n && source.charCodeAt(i) !== 0x0a && source.charCodeAt(i) !== 0x0d) i++;
      continue;
    }
    if (c === 0x7b /* { */) depth++;
    else if (c === 0x7d /* } */) depth = Math.max(0, depth - 1);
    else if ((c === 0x0a || (c === 0x0d && source.charCodeAt(i + 1) !== 0x0a)) && depth === 0 && i + 1 - start >= size) {
      yield { text: source.slice(start, i + 1), start };
      start = i + 1;
    }
    i++;
  }
  if (start < n || n === 0) yield { text: source.slice(start), start };
}

interface Parsed {
  ast?: SpecFile;
  diagnostics: Diagnostic[];
  source: string;
  /** Where each line of the source starts: every position in the file comes from this one table. */
  lineStarts: number[];
}

/** Parse only: the AST and syntax diagnostics. */
export function parseSource(file: string, text: string): Parsed {
  // A byte-order mark is not part of the spec.
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lineStarts = lineStartsOf(source);
  const at = (offset: number) => positionAt(lineStarts, offset);
  const diagnostics: Diagnostic[] = [];
  const builder = new AstBuilder(file, source, lineStarts);
  let end = 0;
  for (const chunk of chunks(source)) {
    const lexed = specLexer.tokenize(chunk.text);
    const last = lexed.tokens[lexed.tokens.length - 1];
    if (last) end = chunk.start + last.startOffset + last.image.length;
    specParser.input = lexed.tokens;
    const cst = specParser.file();
    if (lexed.errors.length === 0 && specParser.errors.length === 0) {
      if (diagnostics.length === 0) builder.add(cst, chunk.start, lexed.tokens);
      continue;
    }
    // The chunk is wrong somewhere: read it again, statement by statement, for what is wrong.
    const found = recover(lexed.tokens, lexed.errors, chunk.text, (offset) => at(chunk.start + offset).line);
    if (found.length === 0) {
      // Never accept what the grammar refused, even if the reader missed why.
      const error = specParser.errors[0];
      const offset = error && !Number.isNaN(error.token.startOffset) ? chunk.start + error.token.startOffset : end;
      found.push({ offset: offset - chunk.start, message: error?.message ?? "unexpected input" });
    }
    for (const error of found) diagnostics.push(diagnostic(file, at(chunk.start + error.offset), error.message));
  }
  if (diagnostics.length > 0) return { diagnostics: sortAndCap(diagnostics), source, lineStarts };
  const ast = builder.finish();
  return { ast, diagnostics: sortAndCap(builder.diagnostics), source, lineStarts };
}

export function compileSource(file: string, text: string): CompileResult {
  const parsed = parseSource(file, text);
  if (!parsed.ast) return { file, source: parsed.source, diagnostics: sortAndCap([...parsed.diagnostics, ...checkAround(file, parsed.source, parsed.diagnostics)]) };
  const { source } = parsed;
  const checker = new Checker(file);
  const program = checker.program(parsed.ast);
  const diagnostics = sortAndCap([...parsed.diagnostics, ...checker.diagnostics]);
  return diagnostics.length > 0 ? { file, source, ast: parsed.ast, diagnostics } : { file, source, ast: parsed.ast, program, diagnostics };
}

/**
 * The semantic errors of a file with syntax errors, in the same pass: each statement that did not
 * parse is blanked (its characters, not its lines: every position stays), the rest is parsed and
 * checked. An error about what a blanked statement would have declared (an unknown PHB or device
 * of that name) is left out: it follows from the syntax error. Nothing when the rest does not parse either (a
 * brace that is not closed).
 */
function checkAround(file: string, source: string, syntax: readonly Diagnostic[]): Diagnostic[] {
  const lines = source.split(/(?<=\n)/);
  const blanked = new Set<string>();
  // A line's separators, lexed once: blanking between two of them moves none, unless what it
  // blanked held a quote or a comment's '#' (the lexer may then find others): lexed again then.
  // What is blanked is gathered per line and written once. (Lexed again and rewritten for each
  // error, a 64 KB line of braces or of bad tags took half a second.)
  const separatorsOf = new Map<number, number[]>();
  const pending = new Map<number, [number, number][]>();
  const write = (index: number) => {
    const ranges = pending.get(index);
    if (!ranges) return;
    pending.delete(index);
    const line = lines[index]!;
    const pieces: string[] = [];
    let at = 0;
    for (const [from, to] of ranges.sort((a, b) => a[0] - b[0])) {
      if (to <= at) continue;
      const start = Math.max(from, at);
      pieces.push(line.slice(at, start), line.slice(start, to).replace(/[^\n]/g, " "));
      at = to;
    }
    pieces.push(line.slice(at));
    lines[index] = pieces.join("");
  };
  for (const d of syntax) {
    const index = d.line - 1;
    if (lines[index] === undefined) continue;
    let separators = separatorsOf.get(index);
    if (!separators) {
      write(index);
      separatorsOf.set(index, (separators = separatorsIn(lines[index]!)));
    }
    const line = lines[index]!;
    const [from, to] = statementAround(line, separators, d.column - 1);
    const statement = line.slice(from, to);
    // What the statement would have declared: a PHB's name, a plugged device's.
    const declared = /^\s*(?:phb|plug\s+\S+)\s+([A-Za-z_][A-Za-z0-9_-]*)/.exec(statement)?.[1];
    if (declared) blanked.add(declared);
    const ranges = pending.get(index) ?? [];
    if (ranges.length === 0 || ranges[ranges.length - 1]![0] !== from) ranges.push([from, to]);
    pending.set(index, ranges);
    if (/["#]/.test(statement)) separatorsOf.delete(index);
  }
  for (const index of [...pending.keys()]) write(index);
  const rest = parseSource(file, lines.join(""));
  if (!rest.ast) return [];
  const checker = new Checker(file);
  checker.program(rest.ast);
  const follows = (d: Diagnostic) => [...blanked].some((name) => d.message.split(" — ")[0]!.includes(`'${name}'`));
  return [...rest.diagnostics, ...checker.diagnostics].filter((d) => !follows(d));
}

/** Where a line's separators (';', '{', '}') are, as the lexer finds them (never in a string or a comment), in order. */
function separatorsIn(line: string): number[] {
  return specLexer
    .tokenize(line)
    .tokens.filter((t) => t.tokenType === T.Semicolon || t.tokenType === T.LBrace || t.tokenType === T.RBrace)
    .map((t) => t.startOffset);
}

/** The statement of a line around a column: between the separators around it. */
function statementAround(line: string, separators: readonly number[], column: number): [number, number] {
  // To the line's end otherwise: a comment blanked with it is no loss, a character the lexer refused is blanked too.
  const end = line.replace(/\r?\n$/, "").length;
  // The last separator before the column and the first at or after it (a binary search: a line may hold thousands).
  let low = 0;
  let high = separators.length;
  while (low < high) {
    const middle = (low + high) >> 1;
    if (separators[middle]! < column) low = middle + 1;
    else high = middle;
  }
  const before = low > 0 ? separators[low - 1] : undefined;
  const after = separators[low];
  return [before === undefined ? 0 : before + 1, after ?? end];
}

function sortAndCap(diagnostics: Diagnostic[]): Diagnostic[] {
  const sorted = [...diagnostics].sort((a, b) => a.line - b.line || a.column - b.column);
  const unique = sorted.filter(
    (d, i) => i === 0 || d.line !== sorted[i - 1]!.line || d.column !== sorted[i - 1]!.column || d.message !== sorted[i - 1]!.message,
  );
  if (unique.length <= MAX_DIAGNOSTICS_PER_FILE) return unique;
  const kept = unique.slice(0, MAX_DIAGNOSTICS_PER_FILE);
  const next = unique[MAX_DIAGNOSTICS_PER_FILE]!;
  kept.push({ ...next, message: `${unique.length - MAX_DIAGNOSTICS_PER_FILE} more errors not shown` });
  return kept;
}
