// A real editor, beside the JSON-RPC tests: Debian's Neovim (headless, its own LSP client through
// vim.lsp.start_client) opens a spec with two mistakes and shows what `tcespec lsp --stdio` said.
// Without nvim this skips, unless TCESPEC_REQUIRE_NEOVIM=1 (.ci/run) fails it.
import { describe, expect, it } from "vitest";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const HAVE = spawnSync("nvim", ["--version"]).status === 0;

describe.runIf(!HAVE && process.env.TCESPEC_REQUIRE_NEOVIM === "1")("Neovim is required here (TCESPEC_REQUIRE_NEOVIM=1)", () => {
  it("has nvim", () => {
    expect.fail("TCESPEC_REQUIRE_NEOVIM=1 but nvim is missing: install Debian's neovim");
  });
});

describe.runIf(HAVE)("Neovim with tcespec lsp --stdio", () => {
  it("shows both mistakes of a file, each on its word", () => {
    const dir = mkdtempSync(join(tmpdir(), "tcespec-nvim-"));
    const file = join(dir, "t.tce");
    writeFileSync(file, 'spec "x" {\n  put_tc phb0 0 0\n  expect get_tce phb0 0 == 0 when profile qemu-7.3\n}\n');
    const out = join(dir, "diagnostics.txt");
    execFileSync("nvim", ["--headless", "--clean", "-u", "NONE", "-c", `luafile ${resolve("test/editors/neovim-lsp.lua")}`], {
      env: {
        ...process.env,
        TCESPEC_NVIM_OUT: out,
        TCESPEC_NVIM_FILE: file,
        TCESPEC_NVIM_WANT: "2",
        TCESPEC_LSP_CMD: `${process.execPath} ${resolve("bin/tcespec.js")} lsp --stdio`,
      },
      timeout: 60_000,
    });
    expect(readFileSync(out, "utf8").trim().split("\n")).toEqual([
      "2:3: unknown statement 'put_tc' — did you mean 'put_tce'?",
      "3:43: unknown profile 'qemu-7.3' — did you mean 'qemu-7.2'?",
    ]);
  }, 90_000);
});
