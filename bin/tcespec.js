#!/usr/bin/env node
// The published entry point: compiled JavaScript (built by `npm ci` through `prepare`),
// so start-up does not pay for compiling TypeScript.
import { main } from "../dist/src/cli.js";

// A reader that stops early (`tcespec run … | head`) is not an error of tcespec's.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error) => {
    if (error.code === "EPIPE") process.exit(process.exitCode ?? 0);
    throw error;
  });
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
