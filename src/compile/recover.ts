// A chunk that does not parse whole is read again here, statement by statement, to say what is
// wrong with it: one error per mistake, in time linear in the input. The file's structure (suite,
// setup and spec blocks, braces) is followed by hand; each statement, between new lines, ';' and
// braces, is parsed on its own by the grammar's own rules, so an error ends at its statement.
import type { ILexingError, IRecognitionException, IToken, TokenType } from "chevrotain";
import { EOF } from "../../grammar/chevrotain.js";
import * as T from "../../grammar/tokens.js";
import { specParser } from "../../grammar/parser.js";
import { describeToken } from "../../grammar/messages.js";
import { didYouMean } from "./suggest.js";

export interface SyntaxError {
  /** Offset in the text given to `recover`. */
  offset: number;
  message: string;
}

/** Stands for a run of characters the lexer could not read, so it takes its place among tokens. */
const LEX_ERROR = { name: "LexError", PATTERN: undefined } as unknown as TokenType;

/** Suggestions are computed from the grammar for statements up to this many tokens. */
const ASSIST_LIMIT = 64;

type EntryRule = "statement" | "suiteDecl" | "specHead";

let statementFirsts: Set<TokenType> | undefined;
/** The tokens a statement may start with, from the grammar itself. */
function firsts(): Set<TokenType> {
  statementFirsts ??= new Set(specParser.computeContentAssist("statement", []).map((path) => path.nextTokenType));
  return statementFirsts;
}
const words = (types: Iterable<TokenType>) => [...types].flatMap((t) => T.keywordOf(t) ?? []);
let statementWords: { inBlock: string[]; topLevel: string[] } | undefined;
function statementWordsOf(topLevel: boolean): string[] {
  const inBlock = words(firsts());
  statementWords ??= { inBlock, topLevel: [...inBlock, "spec", "setup", "suite"] };
  return topLevel ? statementWords.topLevel : statementWords.inBlock;
}
/** Past this many errors in a chunk, no suggestions: only the first errors of a file are shown. */
const SUGGESTIONS = 100;
const isWord = (token: IToken) => token.tokenType === T.Name || token.tokenType === T.DottedName || T.keywordOf(token.tokenType) !== undefined;

/** What is wrong with a mistake token, in words. */
export function mistakeMessage(token: IToken): string | undefined {
  const image = token.image;
  switch (token.tokenType) {
    case LEX_ERROR:
      return `unexpected character '${printable(image.slice(0, 1))}'`;
    case T.SingleEquals:
      return "'=' is not a comparison: write '==' (or '!=')";
    case T.BadString: {
      if (image.length < 2 || !image.endsWith('"') || /\\$/.test(image.slice(0, -1).replace(/\\\\/g, ""))) {
        return "the string is not closed: end it with '\"' on the same line";
      }
      const escape = /\\(?!["\\])./.exec(image.replace(/\\\\/g, "  "))?.[0] ?? "\\";
      return `'${printable(escape)}' in a string: the only escapes are \\" and \\\\`;
    }
    case T.BadNumber: {
      if (/^0[xX]$/.test(image)) return "'0x' needs hexadecimal digits after it";
      const hex = /^0[xX][0-9a-fA-F_]*([^0-9a-fA-F_])/.exec(image);
      if (hex) return `'${image}' is not a number: '${hex[1]}' is not a hexadecimal digit`;
      const size = /^([0-9][0-9_]*)([KMGTPkmgtp])/.exec(image);
      if (size) return `'${image}' is not a size: the suffix is one upper-case letter, as in ${size[1]}${size[2]!.toUpperCase()}`;
      return `'${image}' is not a number: put a space between a number and a word`;
    }
    default:
      return undefined;
  }
}
const MISTAKE_TYPES = new Set<TokenType>([LEX_ERROR, ...T.MISTAKES]);

function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** The lexer's tokens with its errors put among them as tokens of their own, in offset order. */
function withLexErrors(tokens: IToken[], errors: ILexingError[], text: string): IToken[] {
  if (errors.length === 0) return tokens;
  const out: IToken[] = [];
  let e = 0;
  for (const token of tokens) {
    while (e < errors.length && errors[e]!.offset < token.startOffset) out.push(lexErrorToken(errors[e++]!, text));
    out.push(token);
  }
  while (e < errors.length) out.push(lexErrorToken(errors[e++]!, text));
  return out;
}
function lexErrorToken(error: ILexingError, text: string): IToken {
  const image = text.slice(error.offset, error.offset + error.length);
  return { image, startOffset: error.offset, endOffset: error.offset + error.length - 1, tokenType: LEX_ERROR, tokenTypeIdx: -1 } as IToken;
}

export function recover(tokens: IToken[], lexErrors: ILexingError[], text: string, lineOf: (offset: number) => number): SyntaxError[] {
  const reader = new Reader(withLexErrors(tokens, lexErrors, text), text.length, lineOf);
  reader.file();
  return reader.errors;
}

const ENDS_STATEMENT = new Set<TokenType>([T.Newline, T.Semicolon, T.LBrace, T.RBrace]);

class Reader {
  readonly errors: SyntaxError[] = [];
  private i = 0;

  constructor(
    private readonly tokens: IToken[],
    private readonly end: number,
    private readonly lineOf: (offset: number) => number,
  ) {}

  private error(offset: number, message: string): void {
    this.errors.push({ offset, message });
  }

  private type(): TokenType | undefined {
    return this.tokens[this.i]?.tokenType;
  }

  file(): void {
    while (this.i < this.tokens.length) {
      const token = this.tokens[this.i]!;
      switch (token.tokenType) {
        case T.Newline:
        case T.Semicolon:
          this.i++;
          break;
        case T.RBrace:
          this.error(token.startOffset, "unexpected '}': no block is open here");
          this.i++;
          break;
        case T.Spec:
          this.spec(token);
          break;
        case T.Setup:
          this.i++;
          this.skipNewlines();
          if (this.type() === T.LBrace) this.i++;
          else this.error(this.here(), `expected '{' after 'setup', found ${this.found()}`);
          this.block(token, "setup");
          break;
        case T.LBrace:
          this.error(token.startOffset, "a block opens only after 'spec \"NAME\"' or 'setup'");
          this.i++;
          this.block(token, "block");
          break;
        default: {
          const wrong = this.statement(true);
          // `specc "x" { … }`: the word was the error; its block is read without another.
          if (wrong && this.type() === T.LBrace) {
            const open = this.tokens[this.i++]!;
            this.block(open, "block");
          }
        }
      }
    }
  }

  private skipNewlines(): void {
    while (this.type() === T.Newline) this.i++;
  }

  /** Where the next token starts, or the end of the text. */
  private here(): number {
    return this.tokens[this.i]?.startOffset ?? this.end;
  }

  private found(): string {
    const token = this.tokens[this.i];
    return token ? describeToken(token) : "the end of the file";
  }

  private spec(keyword: IToken): void {
    const wrong = this.slice("specHead", false);
    const afterHead = this.i;
    this.skipNewlines();
    if (this.type() === T.LBrace) {
      this.i++;
    } else {
      // A missing '{' is said once; what follows is read as the spec's statements.
      if (!wrong) this.error(this.here(), `expected '{' after the spec's name and tags, found ${this.found()}`);
      this.i = afterHead;
    }
    this.block(keyword, "spec");
  }

  private block(open: IToken, what: string): void {
    const opened = `the ${what} of line ${this.lineOf(open.startOffset)}`;
    // Braces opened inside the block, each an error, closed before the block is (no recursion:
    // 64 KB of '{' is a deep nest).
    let nested = 0;
    for (;;) {
      const token = this.tokens[this.i];
      if (!token) {
        this.error(this.end, `expected '}' to close ${opened}, found the end of the file`);
        return;
      }
      switch (token.tokenType) {
        case T.Newline:
        case T.Semicolon:
          this.i++;
          break;
        case T.RBrace:
          this.i++;
          if (nested === 0) return;
          nested--;
          break;
        case T.Spec:
        case T.Setup:
        case T.Suite:
          this.error(token.startOffset, `expected '}' to close ${opened} before '${token.image}'`);
          return;
        case T.LBrace:
          this.error(token.startOffset, "unexpected '{' inside a block");
          this.i++;
          nested++;
          break;
        default:
          this.statement(false);
      }
    }
  }

  /** One statement, up to a new line, ';' or a brace. Answers whether it was wrong. */
  private statement(topLevel: boolean): boolean {
    const first = this.tokens[this.i]!;
    if (topLevel && first.tokenType === T.Suite) return this.slice("suiteDecl", topLevel);
    if (firsts().has(first.tokenType) || MISTAKE_TYPES.has(first.tokenType)) return this.slice("statement", topLevel);
    const start = this.i;
    while (this.i < this.tokens.length && !ENDS_STATEMENT.has(this.tokens[this.i]!.tokenType)) this.i++;
    if (this.mistakes(start, this.i)) return true;
    const hint = this.errors.length < SUGGESTIONS ? didYouMean(first.image, statementWordsOf(topLevel)) : "";
    this.error(first.startOffset, isWord(first) ? `unknown statement '${first.image}'${hint}` : `expected a statement, found ${describeToken(first)}`);
    return true;
  }

  /** Reports each mistake token in tokens[from, to); answers whether there was one. */
  private mistakes(from: number, to: number): boolean {
    let any = false;
    for (let k = from; k < to; k++) {
      const message = mistakeMessage(this.tokens[k]!);
      if (message === undefined) continue;
      this.error(this.tokens[k]!.startOffset, message);
      any = true;
    }
    return any;
  }

  /** Parses the tokens up to the statement's end with one rule of the grammar. */
  private slice(rule: EntryRule, topLevel: boolean): boolean {
    const start = this.i;
    while (this.i < this.tokens.length && !ENDS_STATEMENT.has(this.tokens[this.i]!.tokenType)) this.i++;
    if (this.mistakes(start, this.i)) return true;
    const tokens = this.tokens.slice(start, this.i);
    const terminator = this.tokens[this.i];
    specParser.input = tokens;
    specParser[rule]();
    const error = specParser.errors[0];
    if (!error) return false;
    this.error(...this.explain(rule, error, tokens, terminator, topLevel));
    return true;
  }

  private explain(
    rule: EntryRule,
    error: IRecognitionException,
    tokens: IToken[],
    terminator: IToken | undefined,
    topLevel: boolean,
  ): [number, string] {
    const token = error.token;
    if (token.tokenType === EOF) {
      // The statement stopped short: say what ended it, where it ended.
      const last = tokens[tokens.length - 1]!;
      const offset = terminator?.startOffset ?? last.startOffset + last.image.length;
      const ended = terminator ? describeToken(terminator) : "the end of the file";
      return [offset, error.message.replace(/found the end of the file$/, `found ${ended}`)];
    }
    const before = tokens.slice(0, tokens.indexOf(token));
    const hint = isWord(token) ? this.suggestion(rule, before, token) : "";
    if (error.name === "NotAllInputParsedException") {
      if (firsts().has(token.tokenType) || (topLevel && token.tokenType === T.Suite)) {
        return [token.startOffset, `expected ';' or a new line before ${describeToken(token)}`];
      }
      return [token.startOffset, `unexpected ${describeToken(token)} after the statement${hint}`];
    }
    return [token.startOffset, `${error.message}${hint}`];
  }

  /** The keywords the grammar allows after `before`, nearest to the word found. */
  private suggestion(rule: EntryRule, before: IToken[], token: IToken): string {
    if (before.length > ASSIST_LIMIT || this.errors.length >= SUGGESTIONS) return "";
    const next = specParser.computeContentAssist(rule, before).map((path) => path.nextTokenType);
    return didYouMean(token.image, words(next));
  }
}
