// chevrotain, loaded from the single-file bundle its package ships instead of its package entry,
// which loads lodash-es module by module: about 20 ms instead of about 380 ms for every command
// that reads a spec (measured on this machine). Every runtime use of chevrotain goes through here,
// so tokens and parser come from one copy; types still come from the package.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

type Chevrotain = typeof import("chevrotain");

// The package's entry is lib/src/api.js; the bundle is lib/chevrotain.mjs, beside src/.
const entry = createRequire(import.meta.url).resolve("chevrotain");
const chevrotain = (await import(pathToFileURL(join(dirname(entry), "..", "chevrotain.mjs")).href)) as Chevrotain;

export const { createToken, Lexer, CstParser, EOF, generateCstDts, createSyntaxDiagramsCode } = chevrotain;
