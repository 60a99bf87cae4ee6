// What the language server knows about a spec file, as plain functions of its text and an offset:
// diagnostics with ranges, completion from the grammar's own content assist, hover, definitions.
// The server (server.ts) only carries these over JSON-RPC.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { IToken, TokenType } from "chevrotain";
import { specParser } from "../../grammar/parser.js";
import * as T from "../../grammar/tokens.js";
import { compileSource } from "../compile/index.js";
import { lineStartsOf, positionAt } from "../compile/positions.js";
import { CAPABILITIES } from "../compile/ast.js";
import { HOST_NAMES, KERNEL_RULES_NAMES, PROFILE_NAMES } from "../profile-names.js";
import { HCALL_RC, RTAS_STATUS } from "../engine/types.js";
import { parseNumber } from "../compile/literals.js";
import { packageRoot } from "../version.js";

export interface Range {
  start: { line: number; character: number };
  end: { line: number; character: number };
}
export interface Problem {
  range: Range;
  message: string;
}
export type CompletionKind = "keyword" | "phb" | "device" | "profile" | "capability" | "code";
export interface Completion {
  label: string;
  kind: CompletionKind;
  detail?: string;
}

const WORD = /[A-Za-z0-9_.-]/;

/** 0-based LSP positions of an offset, by the file's line table. */
function lspPosition(lineStarts: number[], offset: number): { line: number; character: number } {
  const { line, column } = positionAt(lineStarts, offset);
  return { line: line - 1, character: column - 1 };
}

export function offsetAt(text: string, line: number, character: number): number {
  const starts = lineStartsOf(text);
  return Math.min(text.length, (starts[line] ?? text.length) + character);
}

/** The word (name, keyword, number) around an offset: [start, end). */
function wordAt(text: string, offset: number): [number, number] {
  let start = offset;
  let end = offset;
  while (start > 0 && WORD.test(text[start - 1]!)) start--;
  while (end < text.length && WORD.test(text[end]!)) end++;
  return [start, end];
}

/** `check`'s diagnostics, each spanning the word it points at (or one character). */
export function problems(file: string, text: string): Problem[] {
  const { diagnostics, source } = compileSource(file, text);
  // A byte-order mark is not part of the source the positions count in.
  const shift = source.length === text.length ? 0 : 1;
  const starts = lineStartsOf(text);
  return diagnostics.map((d) => {
    const offset = (starts[d.line - 1] ?? 0) + shift * (d.line === 1 ? 1 : 0) + d.column - 1;
    const [, wordEnd] = wordAt(text, offset);
    const end = wordEnd > offset ? wordEnd : Math.min(offset + 1, text.length);
    const lineEnd = starts[d.line] !== undefined ? starts[d.line]! - 1 : text.length;
    return { range: { start: lspPosition(starts, offset), end: lspPosition(starts, Math.max(offset, Math.min(end, lineEnd))) }, message: d.message };
  });
}

/** The file's tokens as the lexer reads them: what it cannot read is left out, the rest stands. */
function tokensOfFile(text: string): IToken[] {
  return T.specLexer.tokenize(text).tokens;
}

/**
 * Names the file declares, and where: PHBs (with QEMU's phb0, at -1, unless the file declares
 * index 0 or names another PHB phb0) and devices. Read from the tokens, so comments and strings
 * never declare anything.
 */
export function declarations(text: string): { phbs: Map<string, number>; devices: Map<string, number> } {
  const phbs = new Map<string, number>();
  const devices = new Map<string, number>();
  const tokens = tokensOfFile(text);
  const is = (k: number, type: TokenType) => tokens[k]?.tokenType === type;
  let indexZero = false;
  tokens.forEach((token, k) => {
    if (token.tokenType === T.Phb && is(k + 1, T.Name) && is(k + 2, T.Index)) {
      const name = tokens[k + 1]!;
      if (!phbs.has(name.image)) phbs.set(name.image, name.startOffset);
      if (is(k + 3, T.NumberLiteral) && parseNumber(tokens[k + 3]!.image) === 0n) indexZero = true;
    }
    if (token.tokenType === T.Plug && (is(k + 1, T.Vfio) || is(k + 1, T.Emulated)) && is(k + 2, T.Name) && is(k + 3, T.On)) {
      const name = tokens[k + 2]!;
      if (!devices.has(name.image)) devices.set(name.image, name.startOffset);
    }
  });
  if (!indexZero && !phbs.has("phb0")) phbs.set("phb0", -1);
  return { phbs, devices };
}

const SEPARATORS = new Set<TokenType>([T.Newline, T.Semicolon, T.LBrace, T.RBrace]);

/**
 * The statement the cursor is in, from the file's tokens: the tokens before the word under the
 * cursor back to the last separator, and whether it stands outside any block. Undefined in a
 * comment or a string, where there is nothing to complete.
 */
function statementAt(text: string, wordStart: number): { before: IToken[]; topLevel: boolean } | undefined {
  const tokens = tokensOfFile(text).filter((t) => t.startOffset < wordStart);
  const last = tokens[tokens.length - 1];
  const lastEnd = last ? last.startOffset + last.image.length : 0;
  // Inside a string, or a new-line token that carries comment lines; or a comment after the code.
  if (last && lastEnd > wordStart && (last.tokenType === T.Newline || last.tokenType === T.StringLiteral || last.tokenType === T.BadString)) return undefined;
  if (text.slice(lastEnd, wordStart).includes("#")) return undefined;
  let depth = 0;
  let from = 0;
  tokens.forEach((token, k) => {
    if (token.tokenType === T.LBrace) depth++;
    if (token.tokenType === T.RBrace) depth = Math.max(0, depth - 1);
    if (SEPARATORS.has(token.tokenType)) from = k + 1;
  });
  return { before: tokens.slice(from), topLevel: depth === 0 };
}

const keywordCompletion = (word: string): Completion => ({ label: word, kind: "keyword", detail: T.KEYWORD_KINDS.get(word) });

/** The cursor is in a `when kernel …` or `when host …` list: the word after the last `when` says which. */
function afterWhen(before: readonly { tokenType: TokenType; image: string }[], word: "kernel" | "host"): boolean {
  const when = before.map((t) => t.tokenType).lastIndexOf(T.When);
  return when >= 0 && before[when + 1]?.image === word;
}

/** What may come at the cursor: the grammar's next tokens after the statement so far, and names. */
export function completions(text: string, offset: number): Completion[] {
  const [wordStart] = wordAt(text, offset);
  const statement = statementAt(text, wordStart);
  if (!statement) return [];
  const { before, topLevel } = statement;
  const rule = before[0]?.tokenType === T.Spec ? "specHead" : before[0]?.tokenType === T.Suite ? "suiteDecl" : "statement";
  let paths: { nextTokenType: TokenType; ruleStack: string[] }[];
  try {
    paths = specParser.computeContentAssist(rule, before);
  } catch {
    return [];
  }
  const { phbs, devices } = declarations(text);
  const out = new Map<string, Completion>();
  const add = (c: Completion) => out.has(c.label) || out.set(c.label, c);
  for (const path of paths) {
    const type = path.nextTokenType;
    const word = T.keywordOf(type);
    const within = path.ruleStack[path.ruleStack.length - 1];
    if (word) add(keywordCompletion(word));
    else if (type === T.ReturnCode) for (const code of [...Object.keys(HCALL_RC), ...Object.keys(RTAS_STATUS)]) add({ label: code, kind: "code" });
    else if (type === T.Name || type === T.DottedName) {
      if (within === "capability") for (const cap of CAPABILITIES) add({ label: cap, kind: "capability" });
      else if (within === "whenClause") {
        add({ label: "kernel", kind: "keyword", detail: "when kernel: the host kernel rules under which the expectation holds" });
        add({ label: "host", kind: "keyword", detail: "when host: the hosts (pseries, powernv) on which the expectation holds" });
      } else if (within === "word" && afterWhen(before, "kernel")) for (const k of KERNEL_RULES_NAMES) add({ label: k, kind: "profile" });
      else if (within === "word" && afterWhen(before, "host")) for (const h of HOST_NAMES) add({ label: h, kind: "profile" });
      else if (within === "word") for (const p of PROFILE_NAMES) add({ label: p, kind: "profile" });
      else if (within === "unplugStmt" || within === "dma") for (const d of devices.keys()) add({ label: d, kind: "device" });
      else if (within !== "phbStmt" && within !== "tag" && !(within === "plugStmt" && !before.some((t) => t.tokenType === T.On)))
        for (const p of phbs.keys()) add({ label: p, kind: "phb" });
    }
  }
  if (before.length === 0 && topLevel) for (const word of ["suite", "setup", "spec"]) add(keywordCompletion(word));
  return [...out.values()];
}

/** The language reference and the rule list, read once from the package's own documents. */
interface Reference {
  statements: Map<string, { syntax: string; meaning: string }[]>;
  profiles: Map<string, string>;
  rules: Map<string, string>;
}
let reference: Reference | undefined;
function referenceDocs(): Reference {
  if (reference) return reference;
  const read = (path: string) => {
    try {
      return readFileSync(join(packageRoot(), path), "utf8");
    } catch {
      return "";
    }
  };
  const statements = new Map<string, { syntax: string; meaning: string }[]>();
  const profiles = new Map<string, string>();
  for (const m of read("docs/language.md").matchAll(/^\| `([^`]+)` \| (.+) \|$/gm)) {
    const syntax = m[1]!.replace(/\\\|/g, "|");
    const meaning = m[2]!.replace(/\\\|/g, "|");
    const words = syntax.split(/\s+/);
    // `expect table(T) …` is found under `table`, `expect ACTION == CODE` under `expect`.
    const head = words[0] === "expect" && words[1] && /^[a-z_]+/.test(words[1]) ? /^[a-z_]+/.exec(words[1])![0] : words[0]!;
    if ((PROFILE_NAMES as readonly string[]).includes(syntax)) profiles.set(syntax, meaning);
    else statements.set(head, [...(statements.get(head) ?? []), { syntax, meaning }]);
  }
  const rules = new Map<string, string>();
  for (const m of read("specs/RULES.md").matchAll(/^- `([a-z0-9-]+)` — (.+)$/gm)) rules.set(m[1]!, m[2]!);
  reference = { statements, profiles, rules };
  return reference;
}

/** Markdown for the word under the cursor: a statement's meaning and the rules its spec exercises, a profile, a rule. */
export function hover(text: string, offset: number): string | undefined {
  const [start, end] = wordAt(text, offset);
  const word = text.slice(start, end);
  if (!word) return undefined;
  const docs = referenceDocs();
  const parts: string[] = [];
  const statement = docs.statements.get(word);
  if (statement) parts.push(...statement.map((s) => `\`${s.syntax}\` — ${s.meaning}`));
  if (docs.profiles.has(word)) parts.push(`**${word}**: ${docs.profiles.get(word)}`);
  if (docs.rules.has(word)) parts.push(`rule \`${word}\`: ${docs.rules.get(word)}`);
  if (statement) {
    const rules = specRules(text, start).filter((tag) => docs.rules.has(tag));
    if (rules.length > 0) parts.push(`This spec exercises ${rules.map((r) => `\`${r}\` (${docs.rules.get(r)})`).join("; ")}.`);
  }
  return parts.length > 0 ? parts.join("\n\n") : undefined;
}

/** The tags of the spec block around an offset, from its `spec` line's tokens. */
function specRules(text: string, offset: number): string[] {
  const tokens = tokensOfFile(text.slice(0, offset));
  let k = tokens.length - 1;
  while (k >= 0 && tokens[k]!.tokenType !== T.Spec) k--;
  const tags: string[] = [];
  let inTags = false;
  for (k++; k < tokens.length && tokens[k]!.tokenType !== T.LBrace && tokens[k]!.tokenType !== T.Newline; k++) {
    const token = tokens[k]!;
    if (token.tokenType === T.Tags) inTags = true;
    else if (token.tokenType === T.Profiles) inTags = false;
    else if (inTags && token.tokenType !== T.Comma) tags.push(token.image);
  }
  return tags;
}

/** Where the PHB or device named under the cursor is declared. */
export function definition(text: string, offset: number): { start: number; end: number } | undefined {
  const [start, end] = wordAt(text, offset);
  const name = text.slice(start, end);
  const { phbs, devices } = declarations(text);
  const at = phbs.get(name) ?? devices.get(name);
  return at === undefined || at < 0 ? undefined : { start: at, end: at + name.length };
}

export { lspPosition, lineStartsOf };
