// `npm run diagrams`: what is generated from the grammar, each checked current by a test:
// the railroad diagrams (docs/grammar.html, works offline), the CST's types (grammar/cst.ts) and
// the editors' TextMate grammar (editors/vscode/syntaxes/tcespec.tmLanguage.json).
import { mkdirSync, writeFileSync } from "node:fs";
import { diagramsHtml } from "./diagrams-html.js";
import { cstTypes } from "./cst-types.js";
import { textMateJson } from "./textmate.js";

mkdirSync("docs", { recursive: true });
writeFileSync("docs/grammar.html", diagramsHtml());
writeFileSync("grammar/cst.ts", cstTypes());
writeFileSync("editors/vscode/syntaxes/tcespec.tmLanguage.json", textMateJson());
console.log("wrote docs/grammar.html, grammar/cst.ts and editors/vscode/syntaxes/tcespec.tmLanguage.json");
