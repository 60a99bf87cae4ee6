// Where the package lives, and its version, read once from its package.json.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** The package's folder: above `src` from sources, above `dist/src` when built. */
export function packageRoot(): string {
  const here = new URL(".", import.meta.url).href;
  return fileURLToPath(new URL(here.includes("/dist/src/") ? "../../" : "../", import.meta.url));
}

function readVersion(): string {
  try {
    return (JSON.parse(readFileSync(`${packageRoot()}package.json`, "utf8")) as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

export const VERSION = readVersion();
