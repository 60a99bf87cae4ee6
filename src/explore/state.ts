// The explorer's state file (`--resume`): read and checked against its schema, written after each batch and at the end of a run.
import { existsSync, readdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { exploreStateSchema } from "../schema/explore-state.js";
import { validator } from "../schema/validate.js";
import type { ExploreState } from "./explore.js";

export const STATE_FILE = "explore-state.json";

export type SavedState = ExploreState & { written: number; signatures: string[]; command?: string };

const valid = validator<SavedState & { version: 1; command: string }>(exploreStateSchema);

/** The state an earlier run left at `path`; undefined where none did (a first run starts the sequence). */
export function readState(path: string): SavedState | { problem: string } | undefined {
  if (!existsSync(path)) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(readFileSync(path, "utf8"));
  } catch (error) {
    return { problem: `${path} is not JSON: ${(error as Error).message}` };
  }
  if (!valid(value)) return { problem: `${path} is not an explore state: ${valid.explain(value)}` };
  return value;
}

export function writeState(path: string, state: SavedState & { command: string }): void {
  const value = { version: 1 as const, ...state };
  if (!valid(value)) throw new Error(`internal: the explore state does not fit its schema: ${valid.explain(value)}`);
  // Whole or not at all: a run killed while it writes leaves the last state, never half of one.
  writeFileSync(`${path}.tmp`, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(`${path}.tmp`, path);
}

/** The signatures of findings written as specs by `tcespec explore` (their "# a difference: …" header lines). */
export function knownSignatures(paths: readonly string[]): Set<string> | { problem: string } {
  const out = new Set<string>();
  const files = (path: string): string[] => {
    if (!existsSync(path)) throw new Error(`${path} is not there`);
    if (!statSync(path).isDirectory()) return [path];
    return readdirSync(path)
      .filter((f) => f.endsWith(".tce"))
      .sort()
      .map((f) => join(path, f));
  };
  try {
    for (const file of paths.flatMap(files))
      for (const m of readFileSync(file, "utf8").matchAll(/^# a (?:difference|crash or error): (.+)$/gm)) out.add(m[1]!);
  } catch (error) {
    return { problem: (error as Error).message };
  }
  return out;
}
