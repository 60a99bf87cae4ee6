#!/usr/bin/env node
// The published entry point: compiled JavaScript (built by `npm ci` through `prepare`),
// so start-up does not pay for compiling TypeScript.
import { main } from "../dist/src/cli.js";

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
