// The VS Code package (`npm run vsix`): built as a user builds it, opened as VS Code opens it (the
// manifest, the package.json its `main` and grammar come from), and its client run in a stand-in
// extension host (vscode-host.cjs) against `tcespec lsp --stdio`: the diagnostics of a file with
// two mistakes reach the editor's diagnostic collection, each on its word.
import { beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { buildVsix } from "../../src/editors/vsix.js";

const dir = mkdtempSync(join(tmpdir(), "tcespec-vsix-test-"));
const unpacked = join(dir, "unpacked");
let vsix = "";

beforeAll(async () => {
  vsix = await buildVsix(dir);
  // A .vsix is a zip file; VS Code unpacks its `extension/` folder.
  execFileSync("unzip", ["-q", vsix, "-d", unpacked]);
}, 120_000);

describe("the VS Code package", () => {
  it("is named and versioned as the project, and says the engine it needs", () => {
    const project = JSON.parse(readFileSync("package.json", "utf8"));
    expect(vsix.endsWith(`tcespec-${project.version}.vsix`)).toBe(true);
    const manifest = readFileSync(join(unpacked, "extension.vsixmanifest"), "utf8");
    expect(manifest).toContain(`<Identity Language="en-US" Id="tcespec" Version="${project.version}" Publisher="tcespec" />`);
    expect(manifest).toMatch(/Microsoft\.VisualStudio\.Code\.Engine" Value="\^1\.\d+\.0"/);
  });

  it("carries the grammar and language configuration of editors/vscode, as its package.json names them", () => {
    const pkg = JSON.parse(readFileSync(join(unpacked, "extension", "package.json"), "utf8"));
    expect(pkg.dependencies).toBeUndefined(); // bundled into its main
    for (const path of [pkg.contributes.grammars[0].path, pkg.contributes.languages[0].configuration]) {
      expect(readFileSync(join(unpacked, "extension", path), "utf8")).toBe(readFileSync(join("editors", "vscode", path), "utf8"));
    }
    expect(pkg.contributes.languages[0].extensions).toEqual([".tce"]);
  });

  it("runs its client in an extension host: the server's diagnostics land in the editor, each on its word", () => {
    const pkg = JSON.parse(readFileSync(join(unpacked, "extension", "package.json"), "utf8"));
    const file = join(dir, "t.tce");
    writeFileSync(file, 'spec "x" {\n  put_tc phb0 0 0\n  expect get_tce phb0 0 == 0 when profile qemu-7.3\n}\n');
    const out = execFileSync(
      process.execPath,
      [resolve("test/editors/vscode-host.cjs"), join(unpacked, "extension", pkg.main), file, process.execPath, resolve("bin/tcespec.js"), "lsp", "--stdio"],
      { encoding: "utf8", timeout: 60_000 },
    );
    const { registered, diagnostics } = JSON.parse(out);
    // What the server offers, as the client registered it with the editor.
    expect(registered).toEqual(expect.arrayContaining(["CompletionItemProvider", "HoverProvider", "DefinitionProvider", "DocumentFormattingEditProvider"]));
    expect(diagnostics.at(-1).uri).toBe(`file://${file}`);
    expect(diagnostics.at(-1).list).toEqual([
      { message: "unknown statement 'put_tc' — did you mean 'put_tce'?", line: 1, character: 2 },
      { message: "unknown profile 'qemu-7.3' — did you mean 'qemu-7.2'?", line: 2, character: 42 },
    ]);
  }, 90_000);
});
