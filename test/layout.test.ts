// The stages import downward only: the runner knows backends, backends know the verdict (the
// evaluator and outcomes), and nothing below imports the runner. A cycle between run/ and
// backends/ is what let the pipeline be written twice.
import { describe, expect, it } from "vitest";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve, dirname } from "node:path";

const SRC = new URL("../src/", import.meta.url).pathname;

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith(".ts") ? [path] : [];
  });
}

/** The src/ directories a file imports from (its own included). */
function importedAreas(file: string): Set<string> {
  const areas = new Set<string>();
  for (const [, spec] of readFileSync(file, "utf8").matchAll(/from "(\.[^"]+)"/g)) {
    const target = relative(SRC, resolve(dirname(file), spec!));
    areas.add(target.split("/")[0]!);
  }
  return areas;
}

const area = (file: string) => relative(SRC, file).split("/")[0]!;

describe("the layout", () => {
  it("backends, the verdict, the engine and the compiler never import the runner", () => {
    const offenders = files(SRC)
      .filter((f) => ["backends", "verdict", "engine", "compile"].includes(area(f)))
      .filter((f) => importedAreas(f).has("run"))
      .map((f) => relative(SRC, f));
    expect(offenders).toEqual([]);
  });
  it("the verdict does not know any backend", () => {
    const offenders = files(join(SRC, "verdict")).filter((f) => importedAreas(f).has("backends"));
    expect(offenders).toEqual([]);
  });
});
