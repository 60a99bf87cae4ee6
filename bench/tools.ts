// The spec writer's tools in `npm run bench`: fmt --check over the library, the language server's
// diagnostics after a change to a 1,000-line file, and the HTML report of a 10,000-run suite
// (its size, and how fast Chromium loads it and applies a filter).
import { spawn, spawnSync } from "node:child_process";
import { existsSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter } from "vscode-jsonrpc/node";
import { run } from "../src/run/runner.js";
import { formatHtml } from "../src/report/html.js";

export interface ToolRow {
  what: string;
  measured: string;
  ratio: number;
  target: string;
  ok: boolean;
}

export async function toolRows(root: string, dir: string): Promise<ToolRow[]> {
  const rows: ToolRow[] = [];
  const bin = join(root, "bin/tcespec.js");

  // fmt --check over the library, as CI runs it (the process included).
  let fmtMs = Infinity;
  for (let i = 0; i < 3; i++) {
    const started = performance.now();
    const r = spawnSync("node", [bin, "fmt", "--check", join(root, "specs")], { stdio: "ignore" });
    if (r.status !== 0) throw new Error("the library is not formatted");
    fmtMs = Math.min(fmtMs, performance.now() - started);
  }
  rows.push({ what: "tcespec fmt --check specs (the process)", measured: `${fmtMs.toFixed(0)} ms`, ratio: fmtMs / 500, target: "≤ 0.5 s", ok: fmtMs <= 500 });

  // The language server: the slowest of ten changes to a 1,000-line file, change sent to diagnostics received.
  const lines = ["setup {", "  machine kvm caps spapr_tce, multi_tce", "  phb phb0 index 0", "}"];
  for (let i = 0; lines.length < 1000; i++) {
    lines.push(`spec "s${i}" tags hcalls {`, `  put_tce phb0 0x${(i * 4096).toString(16)} 0x3`, `  expect get_tce phb0 0x${(i * 4096).toString(16)} == 0x3`, "}");
  }
  const text = `${lines.join("\n")}\n`;
  const server = spawn("node", [bin, "lsp", "--stdio"], { stdio: ["pipe", "pipe", "ignore"] });
  const rpc = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
  let waiting: (() => void) | undefined;
  rpc.onNotification("textDocument/publishDiagnostics", () => waiting?.());
  rpc.listen();
  await rpc.sendRequest("initialize", { processId: process.pid, rootUri: null, capabilities: {} });
  await rpc.sendNotification("initialized", {});
  const uri = pathToFileURL(join(dir, "big.tce")).href;
  const published = () => new Promise<void>((resolve) => (waiting = resolve));
  let answer = published();
  await rpc.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "tcespec", version: 1, text } });
  await answer;
  let slowest = 0;
  for (let version = 2; version < 12; version++) {
    // Every other change breaks a statement, so diagnostics come and go.
    const changed = version % 2 === 0 ? text.replace("put_tce phb0 0x0 0x3", "put_tc phb0 0x0 0x3") : text;
    answer = published();
    const started = performance.now();
    await rpc.sendNotification("textDocument/didChange", { textDocument: { uri, version }, contentChanges: [{ text: changed }] });
    await answer;
    slowest = Math.max(slowest, performance.now() - started);
  }
  await rpc.sendRequest("shutdown").catch(() => undefined);
  rpc.dispose();
  server.kill();
  rows.push({
    what: "lsp: diagnostics after a change to a 1,000-line file (slowest of 10)",
    measured: `${slowest.toFixed(0)} ms`,
    ratio: slowest / 100,
    target: "≤ 100 ms",
    ok: slowest <= 100,
  });

  // The HTML report of 2,000 specs × 5 profiles, one spec in ten diverging (so 200 cards with their tables).
  const specs = Array.from({ length: 2000 }, (_, i) => {
    const ioba = `0x${(i * 4096).toString(16)}`;
    const expected = i % 10 === 0 ? "0x5" : "0x3";
    return `spec "spec ${i}" tags t${i % 7} {\n  put_tce phb0 ${ioba} 0x3\n  expect get_tce phb0 ${ioba} == ${expected}\n}`;
  });
  const suite = join(dir, "html-suite.tce");
  writeFileSync(suite, `${specs.join("\n")}\n`);
  const report = await run([suite], { jobs: 1 });
  const html = join(dir, "report.html");
  writeFileSync(html, formatHtml(report));
  const mb = statSync(html).size / 1e6;
  rows.push({
    what: `html report of ${report.runs.length.toLocaleString("en")} runs: file size`,
    measured: `${mb.toFixed(1)} MB`,
    ratio: mb / 5,
    target: "≤ 5 MB",
    ok: mb <= 5,
  });
  const chromium = process.env.TCESPEC_CHROMIUM ?? "/usr/bin/chromium";
  if (existsSync(chromium)) {
    const { chromium: driver } = await import("playwright-core");
    const browser = await driver.launch({ executablePath: chromium, args: ["--no-sandbox"] });
    const page = await browser.newPage();
    const loadStarted = performance.now();
    await page.goto(pathToFileURL(html).href);
    await page.locator("[data-count=runs]").waitFor();
    const loadMs = performance.now() - loadStarted;
    const filterStarted = performance.now();
    await page.locator("[data-filter-value='status:passed']").uncheck();
    await page.locator(".badge.passed.hidden").first().waitFor({ state: "attached" });
    const filterMs = performance.now() - filterStarted;
    await browser.close();
    rows.push({
      what: "html report in Chromium: load, and a filter applied",
      measured: `${loadMs.toFixed(0)} ms, ${filterMs.toFixed(0)} ms`,
      ratio: Math.max(loadMs / 2000, filterMs / 500),
      target: "≤ 2 s, ≤ 0.5 s",
      ok: loadMs <= 2000 && filterMs <= 500,
    });
  }
  return rows;
}
