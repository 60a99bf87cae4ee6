// The TextMate grammar of the language (scope source.tcespec), generated from the tokens and the
// profile names so that an editor colours exactly the words the parser knows. Written to
// editors/vscode/syntaxes/tcespec.tmLanguage.json by `npm run diagrams`; a test keeps it current and
// tokenizes the library with vscode-textmate to check the scopes.
import { KEYWORD_KINDS, type KeywordKind } from "./tokens.js";
import { PROFILE_NAMES } from "../src/profile-names.js";

/** Where a word may start and end: names are [A-Za-z_][A-Za-z0-9_-]*, profile names add dots. */
const BEFORE = "(?<![A-Za-z0-9_.-])";
const AFTER = "(?![A-Za-z0-9_.-])";
const escape = (word: string) => word.replace(/[.*+?^${}()|[\]\\-]/g, "\\$&");
const words = (list: readonly string[]) =>
  `${BEFORE}(?:${[...list].sort((a, b) => b.length - a.length).map(escape).join("|")})${AFTER}`;

/** Words that shape a file or an expectation rather than name something. */
const CONTROL = new Set(["expect", "when", "profile", "xfail"]);
const SCOPES: Record<KeywordKind, string> = {
  structure: "keyword.control.tcespec",
  setup: "keyword.other.setup.tcespec",
  action: "support.function.action.tcespec",
  expectation: "keyword.other.expectation.tcespec",
  permission: "storage.modifier.permission.tcespec",
};

export function textMateGrammar(): object {
  const byScope = new Map<string, string[]>();
  for (const [word, kind] of KEYWORD_KINDS) {
    const scope = CONTROL.has(word) ? SCOPES.structure : SCOPES[kind];
    byScope.set(scope, [...(byScope.get(scope) ?? []), word]);
  }
  return {
    $schema: "https://raw.githubusercontent.com/martinring/tmlanguage/master/tmlanguage.json",
    name: "tcespec",
    scopeName: "source.tcespec",
    fileTypes: ["tce"],
    patterns: [
      { match: "#.*$", name: "comment.line.number-sign.tcespec" },
      {
        begin: '"',
        end: '"|$',
        name: "string.quoted.double.tcespec",
        patterns: [{ match: '\\\\["\\\\]', name: "constant.character.escape.tcespec" }, { match: "\\\\.", name: "invalid.illegal.escape.tcespec" }],
      },
      { match: words(PROFILE_NAMES), name: "support.constant.profile.tcespec" },
      { match: `${BEFORE}(?:H|RTAS)_[A-Z0-9_]+${AFTER}`, name: "constant.language.return-code.tcespec" },
      ...[...byScope].map(([name, list]) => ({ match: words(list), name })),
      { match: `${BEFORE}0[xX][0-9a-fA-F][0-9a-fA-F_]*${AFTER}`, name: "constant.numeric.hex.tcespec" },
      { match: `${BEFORE}[0-9][0-9_]*[KMGTP]?${AFTER}`, name: "constant.numeric.decimal.tcespec" },
      { match: "==|!=", name: "keyword.operator.comparison.tcespec" },
      { match: "=", name: "invalid.illegal.assignment.tcespec" },
      { match: "[{}]", name: "punctuation.section.block.tcespec" },
      { match: "[()\\[\\]]", name: "punctuation.section.brackets.tcespec" },
      { match: "[,;]", name: "punctuation.separator.tcespec" },
    ],
  };
}

export function textMateJson(): string {
  return `${JSON.stringify(textMateGrammar(), null, 2)}\n`;
}
