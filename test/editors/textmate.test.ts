// The TextMate grammar as VS Code runs it (vscode-textmate with the oniguruma regex engine): it is
// generated from the tokens (and kept current), and on every file of the library each keyword,
// number, string, comment, return code and profile name gets its scope.
import { beforeAll, describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import vsctm from "vscode-textmate";
import oniguruma from "vscode-oniguruma";
import { textMateJson } from "../../grammar/textmate.js";
import { specLexer, KEYWORD_KINDS, keywordOf } from "../../grammar/tokens.js";
import { findSpecFiles } from "../../src/run/files.js";
import { PROFILE_NAMES } from "../../src/profile-names.js";

const GRAMMAR = new URL("../../editors/vscode/syntaxes/tcespec.tmLanguage.json", import.meta.url);
let grammar: vsctm.IGrammar;

beforeAll(async () => {
  const wasm = readFileSync(createRequire(import.meta.url).resolve("vscode-oniguruma/release/onig.wasm"));
  await oniguruma.loadWASM(wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength));
  const registry = new vsctm.Registry({
    onigLib: Promise.resolve({ createOnigScanner: (s) => new oniguruma.OnigScanner(s), createOnigString: (s) => new oniguruma.OnigString(s) }),
    loadGrammar: async () => vsctm.parseRawGrammar(readFileSync(GRAMMAR, "utf8"), GRAMMAR.pathname),
  });
  grammar = (await registry.loadGrammar("source.tcespec"))!;
});

/** Each piece of a line with the innermost scope the grammar gives it. */
function scopesOf(text: string): { text: string; scope: string; line: number; column: number }[] {
  const out: { text: string; scope: string; line: number; column: number }[] = [];
  let stack = vsctm.INITIAL;
  text.split(/\r?\n/).forEach((line, i) => {
    const result = grammar.tokenizeLine(line, stack);
    for (const t of result.tokens) out.push({ text: line.slice(t.startIndex, t.endIndex), scope: t.scopes[t.scopes.length - 1]!, line: i + 1, column: t.startIndex + 1 });
    stack = result.ruleStack;
  });
  return out;
}

describe("the TextMate grammar", () => {
  it("is generated from the tokens (npm run diagrams)", () => {
    expect(readFileSync(GRAMMAR, "utf8")).toBe(textMateJson());
  });

  it("gives each token of the library the scope of what the lexer says it is", () => {
    let checked = 0;
    for (const file of findSpecFiles(["specs"]).files) {
      const text = readFileSync(file, "utf8");
      const pieces = scopesOf(text);
      const at = new Map(pieces.map((p) => [`${p.line}:${p.column}`, p]));
      // Where the lexer says a token starts, the grammar must have a piece starting there with the right scope.
      const lines = text.split(/\r?\n/);
      const starts = [0];
      for (const l of lines) starts.push(starts[starts.length - 1]! + l.length + 1);
      for (const token of specLexer.tokenize(text).tokens) {
        const line = starts.findIndex((s) => s > token.startOffset);
        const column = token.startOffset - starts[line - 1]! + 1;
        const piece = at.get(`${line}:${column}`);
        const name = token.tokenType.name;
        const word = keywordOf(token.tokenType);
        const want =
          name === "NumberLiteral" ? /^constant\.numeric\./ :
          name === "StringLiteral" ? /^string\.quoted\.double\./ :
          name === "ReturnCode" ? /^constant\.language\.return-code\./ :
          name === "Equals" || name === "NotEquals" ? /^keyword\.operator\.comparison\./ :
          (name === "DottedName" || name === "Name") && (PROFILE_NAMES as readonly string[]).includes(token.image) ? /^support\.constant\.profile\./ :
          word && KEYWORD_KINDS.get(word) === "action" ? /^support\.function\.action\./ :
          word && KEYWORD_KINDS.get(word) === "permission" ? /^storage\.modifier\.permission\./ :
          word && KEYWORD_KINDS.get(word) === "setup" ? /^keyword\.other\.setup\./ :
          word ? /^keyword\./ : undefined;
        if (!want) continue;
        // Tags may be keywords (`tags kvm, reset`): there a keyword's scope is what an editor shows too.
        expect(piece?.scope, `${file}:${line}:${column} '${token.image}'`).toMatch(want);
        checked++;
      }
      for (const p of pieces) if (p.text.trimStart().startsWith("#")) expect(p.scope).toBe("comment.line.number-sign.tcespec");
    }
    expect(checked).toBeGreaterThan(3000);
  });

  it("marks what the parser refuses", () => {
    const scopes = scopesOf('expect windows(phb0) = 1\nspec "a\\n" { }');
    expect(scopes.find((p) => p.text === "=")!.scope).toBe("invalid.illegal.assignment.tcespec");
    expect(scopes.find((p) => p.text === "\\n")!.scope).toBe("invalid.illegal.escape.tcespec");
    expect(scopes.find((p) => p.text === "phb0")!.scope).toBe("source.tcespec");
  });
});
