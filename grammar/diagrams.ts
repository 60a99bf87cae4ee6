// `npm run diagrams`: the railroad diagrams of the grammar, as docs/grammar.html.
import { mkdirSync, writeFileSync } from "node:fs";
import { createSyntaxDiagramsCode } from "chevrotain";
import { specParser } from "./parser.js";

mkdirSync("docs", { recursive: true });
writeFileSync("docs/grammar.html", createSyntaxDiagramsCode(specParser.getSerializedGastProductions()));
console.log("wrote docs/grammar.html");
