// The VS Code extension as a package a person installs (`npm run vsix`, then `code
// --install-extension dist/tcespec-VERSION.vsix`): editors/vscode staged in a temporary folder, its
// client bundled with the language client it needs into one file (esbuild, `vscode` left to the
// editor), and packed by @vscode/vsce, which writes the manifest VS Code checks on install.
import { execFileSync } from "node:child_process";
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { build } from "esbuild";
import { packageRoot } from "../version.js";

const root = (...p: string[]) => join(packageRoot(), ...p);

/** What the extension folder ships, besides its package.json and the bundled client. */
const SHIPPED = ["language-configuration.json", "syntaxes", "README.md"];

/** Builds the .vsix into `outDir` and returns its path. */
export async function buildVsix(outDir: string): Promise<string> {
  const folder = root("editors", "vscode");
  const project = JSON.parse(readFileSync(root("package.json"), "utf8")) as { version: string; license: string };
  const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8")) as Record<string, unknown>;
  const stage = mkdtempSync(join(tmpdir(), "tcespec-vsix-"));
  try {
    for (const f of SHIPPED) cpSync(join(folder, f), join(stage, f), { recursive: true });
    copyFileSync(root("LICENSE"), join(stage, "LICENSE"));
    // The client and vscode-languageclient in one file: the package has no node_modules.
    await build({
      entryPoints: [join(folder, "extension.js")],
      outfile: join(stage, "extension.js"),
      bundle: true,
      platform: "node",
      format: "cjs",
      target: "node18",
      external: ["vscode"],
      minify: true,
      logLevel: "warning",
    });
    const { dependencies: _bundled, ...staged } = manifest;
    writeFileSync(join(stage, "package.json"), JSON.stringify({ ...staged, version: project.version, license: project.license }, null, 2));
    mkdirSync(outDir, { recursive: true });
    const out = resolve(outDir, `tcespec-${project.version}.vsix`);
    const vsce = createRequire(import.meta.url).resolve("@vscode/vsce/vsce");
    execFileSync(process.execPath, [vsce, "package", "--no-dependencies", "--allow-missing-repository", "--out", out], {
      cwd: stage,
      stdio: ["ignore", "pipe", "pipe"],
    });
    return out;
  } finally {
    rmSync(stage, { recursive: true, force: true });
  }
}

if (process.argv[1]?.endsWith("vsix.ts") || process.argv[1]?.endsWith("vsix.js")) {
  buildVsix(root("dist")).then(
    (path) => console.log(`wrote ${path}`),
    (e: Error & { stderr?: Buffer }) => {
      console.error(`tcespec: the VS Code package was not built: ${e.stderr?.toString().trim() || e.message}`);
      process.exit(1);
    },
  );
}
