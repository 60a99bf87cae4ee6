// Parse errors a user understands: "expected a TCE value after the IOBA, found '='",
// not chevrotain's dump of token names.
import type { IParserErrorMessageProvider, IToken, TokenType } from "chevrotain";
import { EOF } from "./chevrotain.js";

// What a rule stands for where it appears; the mismatch names it instead of the token.
const ruleMeaning: Record<string, string> = {
  ioba: "an IOBA",
  tce: "a TCE value after the IOBA",
  count: "a count after the TCE",
  number: "a number",
  tableRef: "a table (a LIOBN, a PHB name or PHB[N])",
  capability: "a capability name",
  word: "a name",
  suiteDecl: "the suite name (a string)",
};

export function describeToken(token: IToken): string {
  if (token.tokenType === EOF) return "the end of the file";
  if (token.tokenType.name === "Newline") return "the end of the line";
  const image = token.image.length > 24 ? `${token.image.slice(0, 24)}…` : token.image;
  return `'${image}'`;
}

function labelOf(tokenType: TokenType): string {
  // Where the parser wants the end of the file, it has just failed to read another statement.
  if (tokenType === EOF) return "a statement";
  return tokenType.LABEL ?? tokenType.name;
}

function unique(items: string[]): string[] {
  return [...new Set(items)];
}

function oneOf(items: string[]): string {
  const list = unique(items);
  if (list.length <= 1) return list[0] ?? "something else";
  return `${list.slice(0, -1).join(", ")} or ${list[list.length - 1]}`;
}

export const errorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage({ expected, actual, ruleName }) {
    const wanted = expected.name === "NumberLiteral" && ruleMeaning[ruleName] ? ruleMeaning[ruleName] : labelOf(expected);
    return `expected ${wanted}, found ${describeToken(actual)}`;
  },
  buildNotAllInputParsedMessage({ firstRedundant }) {
    return `expected a statement, found ${describeToken(firstRedundant)}`;
  },
  buildNoViableAltMessage({ expectedPathsPerAlt, actual, customUserDescription, ruleName }) {
    const found = describeToken(actual[0]!);
    if (customUserDescription) return `expected ${customUserDescription}, found ${found}`;
    if (ruleMeaning[ruleName]) return `expected ${ruleMeaning[ruleName]}, found ${found}`;
    const firsts = expectedPathsPerAlt.flatMap((paths) => paths.map((path) => labelOf(path[0]!)));
    return `expected ${oneOf(firsts)}, found ${found}`;
  },
  buildEarlyExitMessage({ expectedIterationPaths, actual, customUserDescription, ruleName }) {
    const found = describeToken(actual[0]!);
    if (customUserDescription) return `expected ${customUserDescription}, found ${found}`;
    if (ruleMeaning[ruleName]) return `expected ${ruleMeaning[ruleName]}, found ${found}`;
    return `expected ${oneOf(expectedIterationPaths.map((path) => labelOf(path[0]!)))}, found ${found}`;
  },
};
