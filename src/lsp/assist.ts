// What the language server knows about a spec file, as plain functions of its text and an offset:
// diagnostics with ranges, completion from the grammar's own content assist, hover, definitions.
// The server (server.ts) only carries these over JSON-RPC.
import { readFileSync } from "node:fs";
import type { IToken, TokenType } from "chevrotain";
import { specParser } from "../../grammar/parser.js";
import * as T from "../../grammar/tokens.js";
import { compileSource } from "../compile/index.js";
import { lineStartsOf, positionAt } from "../compile/positions.js";
import { CAPABILITIES } from "../compile/ast.js";
import { PROFILE_NAMES } from "../profile-names.js";
import { HCALL_RC, RTAS_STATUS } from "../engine/types.js";

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

/** Names the file declares, where: PHBs (and QEMU's phb0 when none has index 0) and devices. */
export function declarations(text: string): { phbs: Map<string, number>; devices: Map<string, number> } {
  const phbs = new Map<string, number>();
  const devices = new Map<string, number>();
  const code = text.replace(/#[^\r\n]*/g, (c) => " ".repeat(c.length));
  for (const m of code.matchAll(/(?<![\w-])phb\s+([A-Za-z_][\w-]*)\s+index\b/g)) if (!phbs.has(m[1]!)) phbs.set(m[1]!, m.index! + m[0].indexOf(m[1]!, 3));
  for (const m of code.matchAll(/(?<![\w-])plug\s+(?:vfio|emulated)\s+([A-Za-z_][\w-]*)\s+on\b/g)) {
    if (!devices.has(m[1]!)) devices.set(m[1]!, m.index! + m[0].lastIndexOf(m[1]!, m[0].length - 3));
  }
  return { phbs, devices };
}

/** Where the statement the cursor is in starts: after the last new line, ';' or brace outside a string. */
function statementStart(text: string, offset: number): number {
  let start = offset;
  while (start > 0 && !"\n\r".includes(text[start - 1]!)) start--;
  let inString = false;
  let from = start;
  for (let i = start; i < offset; i++) {
    const c = text[i]!;
    if (inString && c === "\\") i++;
    else if (c === '"') inString = !inString;
    else if (!inString && c === "#") return offset; // in a comment: nothing to complete
    else if (!inString && (c === ";" || c === "{" || c === "}")) from = i + 1;
  }
  return from;
}

const keywordCompletion = (word: string): Completion => ({ label: word, kind: "keyword", detail: T.KEYWORD_KINDS.get(word) });

/** What may come at the cursor: the grammar's next tokens after the statement so far, and names. */
export function completions(text: string, offset: number): Completion[] {
  const start = statementStart(text, offset);
  if (start === offset && /#/.test(text.slice(text.lastIndexOf("\n", offset - 1) + 1, offset))) return [];
  const [wordStart] = wordAt(text, offset);
  const before = tokensOf(text.slice(start, wordStart));
  if (before === undefined) return [];
  const topLevel = !insideBlock(text, start);
  const rule = before[0]?.tokenType === T.Spec ? "specHead" : before[0]?.tokenType === T.Suite ? "suiteDecl" : "statement";
  let paths: { nextTokenType: TokenType; ruleStack: string[] }[];
  try {
    paths = specParser.computeContentAssist(rule, before);
  } catch {
    return [];
  }
  const { phbs, devices } = declarations(text);
  // QEMU's PHB 0 is there as phb0 unless the file declares index 0 or names another PHB phb0.
  if (!phbs.has("phb0") && !/\bphb\s+[A-Za-z_][\w-]*\s+index\s+0\b/.test(text)) phbs.set("phb0", -1);
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
      else if (within === "word") for (const p of PROFILE_NAMES) add({ label: p, kind: "profile" });
      else if (within === "unplugStmt" || within === "dma") for (const d of devices.keys()) add({ label: d, kind: "device" });
      else if (within !== "phbStmt" && within !== "tag" && !(within === "plugStmt" && !before.some((t) => t.tokenType === T.On)))
        for (const p of phbs.keys()) add({ label: p, kind: "phb" });
    }
  }
  if (before.length === 0 && topLevel) for (const word of ["suite", "setup", "spec"]) add(keywordCompletion(word));
  return [...out.values()];
}

/** The statement's tokens before the cursor, or undefined when they do not lex. */
function tokensOf(text: string): IToken[] | undefined {
  const lexed = T.specLexer.tokenize(text);
  if (lexed.errors.length > 0) return undefined;
  return lexed.tokens.filter((t) => t.tokenType !== T.Newline);
}

function insideBlock(text: string, offset: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < offset; i++) {
    const c = text[i]!;
    if (c === "\n" || c === "\r") inString = false;
    else if (inString && c === "\\") i++;
    else if (c === '"') inString = !inString;
    else if (!inString && c === "#") while (i < offset && text[i] !== "\n") i++;
    else if (!inString && c === "{") depth++;
    else if (!inString && c === "}") depth = Math.max(0, depth - 1);
  }
  return depth > 0;
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
      return readFileSync(new URL(path, packageRoot()), "utf8");
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

function packageRoot(): URL {
  // src/lsp/assist.ts from sources, dist/src/lsp/assist.js when built: the package is above `src`.
  const here = new URL(".", import.meta.url).href;
  return new URL(here.includes("/dist/src/") ? "../../../" : "../../", import.meta.url);
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

/** The tags of the spec block around an offset. */
function specRules(text: string, offset: number): string[] {
  const head = [...text.slice(0, offset).matchAll(/^\s*spec\s+"(?:[^"\\]|\\.)*"([^{\n]*)/gm)].pop();
  const tags = head && /\btags\s+([^{]*?)(?:\bprofiles\b|$)/.exec(head[1]!);
  return tags ? tags[1]!.split(",").map((t) => t.trim()).filter(Boolean) : [];
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
