// Every token of the tcespec language, defined once (LANGUAGE.md, "Lexical rules").
// Keywords use `longer_alt: Name` so `phb0` lexes as a name and `phb` as a keyword.
import type { TokenType } from "chevrotain";
import { createToken, Lexer } from "./chevrotain.js";

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\f\v]+/, group: Lexer.SKIPPED });
export const Comment = createToken({ name: "Comment", pattern: /#[^\r\n]*/, group: Lexer.SKIPPED });
// One token for a line end and every blank or comment-only line after it: a file of blank lines
// costs one token, not one per line.
export const Newline = createToken({
  name: "Newline",
  pattern: /(?:\r\n|\r|\n)(?:[ \t\f\v]*(?:#[^\r\n]*)?(?:\r\n|\r|\n))*/,
  line_breaks: true,
  label: "a new line",
});
export const Semicolon = createToken({ name: "Semicolon", pattern: /;/, label: "';'" });
export const LBrace = createToken({ name: "LBrace", pattern: /\{/, label: "'{'" });
export const RBrace = createToken({ name: "RBrace", pattern: /\}/, label: "'}'" });
export const LParen = createToken({ name: "LParen", pattern: /\(/, label: "'('" });
export const RParen = createToken({ name: "RParen", pattern: /\)/, label: "')'" });
export const LBracket = createToken({ name: "LBracket", pattern: /\[/, label: "'['" });
export const RBracket = createToken({ name: "RBracket", pattern: /\]/, label: "']'" });
export const Comma = createToken({ name: "Comma", pattern: /,/, label: "','" });
export const Equals = createToken({ name: "Equals", pattern: /==/, label: "'=='" });
export const NotEquals = createToken({ name: "NotEquals", pattern: /!=/, label: "'!='" });
export const StringLiteral = createToken({
  name: "StringLiteral",
  pattern: /"(?:[^"\\\r\n]|\\["\\])*"/,
  label: "a string",
});
// Mistakes the lexer recognises, so each is one error that names it (the grammar never accepts
// them; the front end reports them in words): `=` for `==`, a string without its closing quote or
// with an escape other than \" and \\, and a number run into letters (`0x2O00`, `64KiB`, `64k`).
export const SingleEquals = createToken({ name: "SingleEquals", pattern: /=/, label: "'='" });
export const BadString = createToken({ name: "BadString", pattern: /"(?:[^"\\\r\n]|\\.?)*"?/, label: "a string" });
export const BadNumber = createToken({
  name: "BadNumber",
  pattern: /0[xX][0-9a-fA-F_]*[g-zG-Z][0-9A-Za-z_]*|0[xX](?![0-9a-fA-F])|(?!0[xX])[0-9][0-9_]*(?:[KMGTP][0-9A-Za-z_]+|[A-FH-JLNOQ-SU-Za-z][0-9A-Za-z_]*)/,
  start_chars_hint: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
  label: "a number",
});
export const MISTAKES: readonly TokenType[] = [SingleEquals, BadString, BadNumber];

// A size suffix binds to a decimal number only: `64K`, `1T`. Hex digits never take one.
export const NumberLiteral = createToken({
  name: "NumberLiteral",
  pattern: /0[xX][0-9a-fA-F][0-9a-fA-F_]*|[0-9][0-9_]*[KMGTP]?/,
  label: "a number",
});

export const Name = createToken({ name: "Name", pattern: /[A-Za-z_][A-Za-z0-9_-]*/, label: "a name" });
// Profile names carry a dot (`qemu-2.7`); a dotted word is its own token so it never splits.
export const DottedName = createToken({
  name: "DottedName",
  pattern: /[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]+)+/,
  label: "a profile name",
});
// Return codes and RTAS statuses are upper-case words: H_SUCCESS, RTAS_OK, H_P2 …
export const ReturnCode = createToken({
  name: "ReturnCode",
  pattern: /(?:H|RTAS)_[A-Z0-9_]+/,
  longer_alt: Name,
  label: "a return code",
});

/** What a keyword is for: editors colour the kinds apart (grammar/textmate.ts). */
export type KeywordKind = "structure" | "setup" | "action" | "expectation" | "permission";
const keywordTokens: TokenType[] = [];
export const KEYWORD_KINDS = new Map<string, KeywordKind>();
let kind: KeywordKind = "structure";
function keyword(word: string): TokenType {
  const tokenType = createToken({ name: `Kw_${word}`, pattern: new RegExp(word), longer_alt: [DottedName, Name], label: `'${word}'` });
  keywordTokens.push(tokenType);
  KEYWORD_KINDS.set(word, kind);
  return tokenType;
}

/** The word a keyword token stands for (`put_tce`), or undefined for any other token. */
export function keywordOf(tokenType: TokenType): string | undefined {
  return tokenType.name.startsWith("Kw_") ? tokenType.name.slice(3) : undefined;
}

// File structure
kind = "structure";
export const Suite = keyword("suite");
export const Setup = keyword("setup");
export const Spec = keyword("spec");
export const Tags = keyword("tags");
export const Profiles = keyword("profiles");
// Set-up
kind = "setup";
export const Machine = keyword("machine");
export const Kvm = keyword("kvm");
export const Tcg = keyword("tcg");
export const Caps = keyword("caps");
export const Ram = keyword("ram"); // extension: the guest's RAM, `machine kvm ram 1G`
export const Phb = keyword("phb");
export const Index = keyword("index");
export const Dma32 = keyword("dma32");
export const Page = keyword("page");
export const Ddw = keyword("ddw");
export const On = keyword("on");
export const Off = keyword("off");
// Actions (longest first where one keyword prefixes another)
kind = "action";
export const Plug = keyword("plug");
export const Unplug = keyword("unplug");
export const Vfio = keyword("vfio");
export const Emulated = keyword("emulated");
export const PutTceIndirect = keyword("put_tce_indirect");
export const PutTce = keyword("put_tce");
export const GetTce = keyword("get_tce");
export const StuffTce = keyword("stuff_tce");
export const CreateWindow = keyword("create_window");
export const RemoveWindow = keyword("remove_window");
export const ResetWindows = keyword("reset_windows");
export const QueryWindow = keyword("query_window"); // extension: RTAS ibm,query-pe-dma-window
export const Size = keyword("size");
export const At = keyword("at"); // extension: the TCE list's guest address for put_tce_indirect
export const Dma = keyword("dma");
export const Read = keyword("read");
export const Write = keyword("write");
export const Reset = keyword("reset");
export const Migrate = keyword("migrate");
// Expectations
kind = "expectation";
export const Expect = keyword("expect");
export const Table = keyword("table");
export const Userspace = keyword("userspace");
export const Absent = keyword("absent");
export const Offset = keyword("offset");
export const Guest = keyword("guest");
export const Hw = keyword("hw");
export const InSync = keyword("in_sync");
export const Yes = keyword("yes");
export const No = keyword("no");
export const Windows = keyword("windows");
export const Notifiers = keyword("notifiers");
export const Ok = keyword("ok");
export const Blocked = keyword("blocked");
export const Fault = keyword("fault");
export const When = keyword("when");
export const Profile = keyword("profile");
export const Xfail = keyword("xfail");
// Permissions
kind = "permission";
export const Rw = keyword("rw");
export const R = keyword("r");
export const W = keyword("w");
export const None = keyword("none");

// Longest first, so a keyword never wins over a longer one it prefixes (`off` / `offset`).
export const keywords: readonly TokenType[] = [...keywordTokens].sort((a, b) => String(b.PATTERN).length - String(a.PATTERN).length);

// Order matters: longer keywords before their prefixes, keywords before names,
// dotted names before plain ones.
export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  Newline,
  Semicolon,
  LBrace,
  RBrace,
  LParen,
  RParen,
  LBracket,
  RBracket,
  Comma,
  Equals,
  NotEquals,
  SingleEquals,
  StringLiteral,
  BadString,
  BadNumber,
  NumberLiteral,
  ReturnCode,
  ...keywords,
  DottedName,
  Name,
];

export const specLexer = new Lexer(allTokens, {
  // Offsets only: lines and columns come from the file's line table, computed once.
  positionTracking: "onlyOffset",
  ensureOptimizations: true,
});
