// `npm run diagrams`: what is generated from the grammar, each checked current by a test:
// the railroad diagrams (docs/grammar.html, works offline) and the CST's types (grammar/cst.ts).
import { mkdirSync, writeFileSync } from "node:fs";
import { diagramsHtml } from "./diagrams-html.js";
import { cstTypes } from "./cst-types.js";

mkdirSync("docs", { recursive: true });
writeFileSync("docs/grammar.html", diagramsHtml());
writeFileSync("grammar/cst.ts", cstTypes());
console.log("wrote docs/grammar.html and grammar/cst.ts");
