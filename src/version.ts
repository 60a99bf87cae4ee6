// The package version, read once from package.json next to the sources or the build.
import { readFileSync } from "node:fs";

function readVersion(): string {
  for (const up of ["../package.json", "../../package.json"]) {
    try {
      return (JSON.parse(readFileSync(new URL(up, import.meta.url), "utf8")) as { version: string }).version;
    } catch {
      // try the next place
    }
  }
  return "0.0.0";
}

export const VERSION = readVersion();
