// The railroad diagrams of the grammar as one self-contained page: chevrotain's diagram scripts
// and styles are inlined from its package, so docs/grammar.html works offline.
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { createSyntaxDiagramsCode } from "./chevrotain.js";
import { specParser } from "./parser.js";

export function diagramsHtml(): string {
  // The package's entry is lib/chevrotain.js (or similar) under its root; diagrams/ sits at the root.
  let root = dirname(createRequire(import.meta.url).resolve("chevrotain"));
  while (!existsSync(join(root, "diagrams", "diagrams.css")) && dirname(root) !== root) root = dirname(root);
  const base = join(root, "diagrams");
  const read = (path: string) => readFileSync(join(base, path), "utf8").replace(/<\/script/gi, "<\\/script");
  const html = createSyntaxDiagramsCode(specParser.getSerializedGastProductions(), { resourceBase: "RESOURCES/", css: "RESOURCES/diagrams.css" });
  return html
    .replace(/<link rel='stylesheet' href='RESOURCES\/diagrams\.css'>/, () => `<style>\n${read("diagrams.css")}\n</style>`)
    .replace(/<script src='RESOURCES\/([^']+)'><\/script>/g, (_, path: string) => `<script>\n${read(path)}\n</script>`);
}
