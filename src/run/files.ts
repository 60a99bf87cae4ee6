// Finding and reading spec files. An unreadable file is a diagnostic, never a crash.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";

export interface Found {
  files: string[];
  missing: string[];
}

export function findSpecFiles(paths: string[]): Found {
  const files = new Set<string>();
  const missing: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
      if (entry.name === "node_modules" || entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".tce")) files.add(path);
    }
  };
  for (const path of paths) {
    let stat;
    try {
      stat = statSync(path);
    } catch {
      missing.push(path);
      continue;
    }
    if (stat.isDirectory()) walk(path);
    else files.add(path);
  }
  // The same file named twice, or by two paths, runs once.
  const seen = new Set<string>();
  const unique = [...files].filter((file) => {
    const key = resolve(file);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
  return { files: unique.map(display), missing };
}

/** Paths as users wrote them: relative to the working directory when inside it. */
export function display(path: string): string {
  const rel = relative(process.cwd(), resolve(path));
  return rel.startsWith("..") || rel === "" ? path : rel.split("\\").join("/");
}

export function readSpecFile(path: string): { text?: string; error?: string } {
  try {
    return { text: readFileSync(path, "utf8") };
  } catch (error) {
    return { error: `cannot read the file: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
  }
}
