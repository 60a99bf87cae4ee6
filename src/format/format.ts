// `tcespec fmt`: one canonical layout for spec files. A statement per line, two spaces of indent
// per block, one space between words, none inside brackets and parentheses or before a comma,
// comments kept where they were (a trailing one two spaces after its statement), at most one
// blank line in a row. Numbers are kept as written: their case and digit groups are the
// author's (`0x8000_0000` says something `0x80000000` does not). A file that does not parse is
// left as it is.
import { parseSource } from "../compile/index.js";
import { specLexer } from "../../grammar/tokens.js";

const INDENT = "  ";

/** The code of a line and its comment, split at the first `#` outside a string. */
function splitComment(line: string): { code: string; comment: string } {
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (inString && c === "\\") i++;
    else if (c === '"') inString = !inString;
    else if (c === "#" && !inString) return { code: line.slice(0, i), comment: line.slice(i).trimEnd() };
  }
  return { code: line, comment: "" };
}

interface Word {
  text: string;
  kind: string;
  /** Whitespace stood before it in the original. */
  spaced: boolean;
}

function words(code: string): Word[] {
  const { tokens } = specLexer.tokenize(code);
  let end = 0;
  return tokens
    .filter((t) => t.tokenType.name !== "Newline")
    .map((t) => {
      const word = { text: t.image, kind: t.tokenType.name, spaced: t.startOffset > end };
      end = t.startOffset + t.image.length;
      return word;
    });
}

/** Tokens joined: the brackets' and the comma's own rules, otherwise one space where there was any. */
function join(statement: Word[]): string {
  let out = "";
  statement.forEach((word, i) => {
    if (i > 0) {
      const before = statement[i - 1]!;
      const glue =
        word.kind === "Comma" || word.kind === "RParen" || word.kind === "RBracket" || word.kind === "LParen"
          ? ""
          : before.kind === "LParen" || before.kind === "LBracket"
            ? ""
            : before.kind === "Comma" || word.kind === "LBrace"
              ? " "
              : word.kind === "LBracket" && !word.spaced
                ? ""
                : " ";
      out += glue;
    }
    out += word.text;
  });
  return out;
}

/** The canonical layout of a spec file, or undefined when it does not parse (it is left alone). */
export function format(text: string): string | undefined {
  if (!parseSource("fmt.tce", text).ast) return undefined;
  const out: string[] = [];
  let depth = 0;
  let blank = false;
  for (const raw of text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/)) {
    const { code, comment } = splitComment(raw);
    const tokens = words(code);
    if (tokens.length === 0 && !comment) {
      blank = out.length > 0;
      continue;
    }
    if (blank) out.push("");
    blank = false;
    if (tokens.length === 0) {
      // A comment alone keeps its place, at the indent of what follows (a closing brace's depth
      // is decided when it comes).
      out.push(`${INDENT.repeat(depth)}${comment}`);
      continue;
    }
    // Statements on one line split at `;`, each on its own line; braces open and close blocks,
    // inline or not: `spec "y" { a; b }` is laid out as the block it is.
    const statements: Word[][] = [[]];
    for (const word of tokens) {
      if (word.kind === "Semicolon") statements.push([]);
      else if (word.kind === "RBrace") statements.push([word], []);
      else {
        statements[statements.length - 1]!.push(word);
        if (word.kind === "LBrace") statements.push([]);
      }
    }
    const lines = statements.filter((s) => s.length > 0);
    lines.forEach((statement, i) => {
      const closes = statement[0]!.kind === "RBrace" ? 1 : 0;
      depth = Math.max(0, depth - closes);
      const trailing = i === lines.length - 1 && comment ? `  ${comment}` : "";
      out.push(`${INDENT.repeat(depth)}${join(statement)}${trailing}`);
      if (statement[statement.length - 1]!.kind === "LBrace") depth++;
    });
  }
  return `${out.join("\n")}\n`;
}
