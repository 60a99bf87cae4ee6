// `npm run diagrams`: the railroad diagrams of the grammar, as docs/grammar.html (works offline).
import { mkdirSync, writeFileSync } from "node:fs";
import { diagramsHtml } from "./diagrams-html.js";

mkdirSync("docs", { recursive: true });
writeFileSync("docs/grammar.html", diagramsHtml());
console.log("wrote docs/grammar.html");
