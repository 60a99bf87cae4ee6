// The HTML report in a real browser (Debian's Chromium through playwright-core): it loads with no
// errors, its counts are the JSON report's, filters hide what they should, and what comes from a
// spec file is text, never markup. Without a browser the test skips, unless CI requires one.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { run, type Report } from "../../src/run/runner.js";
import { formatHtml } from "../../src/report/html.js";
import { jsonReport } from "../../src/report/json.js";
import { ModelBackend } from "../../src/backends/model.js";

const CHROMIUM = process.env.TCESPEC_CHROMIUM ?? "/usr/bin/chromium";
const HAVE = existsSync(CHROMIUM);

describe.runIf(!HAVE && process.env.TCESPEC_REQUIRE_BROWSER === "1")("a browser is required here (TCESPEC_REQUIRE_BROWSER=1)", () => {
  it("has Chromium", () => {
    expect.fail(`TCESPEC_REQUIRE_BROWSER=1 but ${CHROMIUM} is missing: install Debian's chromium`);
  });
});

/** A second backend standing for real software, so the report has two backends side by side. */
class OtherBackend extends ModelBackend {
  override readonly name = "other" as "model";
}

const HOSTILE = "<img src=x onerror='window.pwned=1'>";

describe.runIf(HAVE)("--reporter html", () => {
  let browser: Browser;
  let page: Page;
  let report: Report;
  const problems: string[] = [];

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), "tcespec-html-"));
    writeFileSync(
      join(dir, "mixed.tce"),
      [
        `suite "</script><script>window.pwned=2</script>"`,
        "setup {\n  machine kvm caps spapr_tce, multi_tce\n  phb phb0 index 0\n}",
        `spec "${HOSTILE}" tags hotplug {\n  put_tce phb0 0x1000 0x12340000 rw\n  plug vfio d0 on phb0\n  put_tce phb0 0x2000 0x45670000 rw\n  expect hw(phb0, 0x2000) == 0x45670003\n}`,
        'spec "passes" tags plain { expect table(phb0) kvm when profile pre-fix }',
        // Known to fail (xfail) everywhere but pre-fix, where it matches (xpass).
        'spec "known" tags plain {\n  plug vfio d0 on phb0\n  expect table(phb0) kvm xfail "moves to userspace"\n}',
        // One wrong value, the same under every profile and backend, and two expectations after it.
        'spec "wrong" tags mistake {\n  put_tce phb0 0x1000 0x3\n  expect get_tce phb0 0x1000 == 0x4\n  expect get_tce phb0 0x1000 == 0x5\n  expect get_tce phb0 0x2000 == 0x1\n}',
      ].join("\n"),
    );
    writeFileSync(join(dir, "broken.tce"), "put_tc phb0 0 0\n");
    report = await run([dir], { jobs: 1, backends: [new ModelBackend(), new OtherBackend()] });
    const file = join(dir, "report.html");
    writeFileSync(file, formatHtml(report));
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    page = await browser.newPage();
    page.on("console", (m) => m.type() === "error" && problems.push(m.text()));
    page.on("pageerror", (e) => problems.push(String(e)));
    page.on("dialog", (d) => problems.push(`dialog: ${d.message()}`));
    page.on("request", (r) => !r.url().startsWith("file:") && problems.push(`network: ${r.url()}`));
    await page.goto(pathToFileURL(file).href);
  }, 60_000);
  afterAll(async () => browser?.close());

  it("loads with no console errors and no network", () => {
    expect(problems).toEqual([]);
  });

  it("shows the JSON report's counts, a badge per run, a card per failing run", async () => {
    const summary = (jsonReport(report) as { summary: Record<string, number> }).summary;
    for (const key of ["files", "specs", "runs", "passed", "diverged", "errors", "unsupported"]) {
      expect(await page.locator(`[data-count=${key}] b`).textContent(), key).toBe(String(summary[key]));
    }
    expect(await page.locator(".badge").count()).toBe(report.runs.length);
    const failing = report.runs.filter((r) => r.status === "diverged" || r.status === "error").length;
    expect(failing).toBeGreaterThan(0);
    expect(await page.locator(".card").count()).toBe(failing);
    expect(await page.locator("#errors li").first().textContent()).toMatch(/broken\.tce:1:1: unknown statement 'put_tc' — did you mean 'put_tce'\?/);
  });

  it("pictures the tables of a divergence, the stale hardware entry highlighted", async () => {
    const card = page.locator(".card", { hasText: "under pre-fix on model" }).filter({ hasText: "hw(phb0, 0x2000)" });
    const differs = card.locator("tr.differs");
    expect(await differs.count()).toBe(1);
    expect(await differs.locator("td").allTextContents()).toEqual(["0x2000", "1", "0x45670003", "0x0"]);
    expect(await card.locator(".placement").first().textContent()).toBe("in KVM");
    expect(await card.locator(".side").textContent()).toBe("other: diverged");
  });

  it("filters by status, profile, backend and tag", async () => {
    const visible = () => page.locator(".badge:not(.hidden)").count();
    const total = report.runs.length;
    const xfail = report.runs.filter((r) => r.status === "passed" && r.expectations.some((e) => e.outcome === "xfail")).length;
    await page.locator("[data-filter-value='status:passed']").uncheck();
    expect(await visible()).toBe(report.runs.filter((r) => r.status !== "passed").length + xfail);
    expect(await page.locator(".card:not(.hidden)").count()).toBe(await page.locator(".card").count());
    await page.locator("[data-filter-value='status:passed']").check();
    await page.locator("[data-filter-value='backend:other']").uncheck();
    expect(await visible()).toBe(report.runs.filter((r) => r.backend !== "other").length);
    await page.locator("[data-filter-value='backend:other']").check();
    await page.locator("[data-filter-value='profile:qemu-7.2']").uncheck();
    expect(await visible()).toBe(report.runs.filter((r) => r.profile !== "qemu-7.2").length);
    await page.locator("[data-filter-value='profile:qemu-7.2']").check();
    await page.locator("[data-filter-value='tag:plain']").check();
    expect(await visible()).toBe(report.runs.filter((r) => r.tags.includes("plain")).length);
    expect(await page.locator(".spec-row:not(.hidden)").count()).toBe(2);
    await page.locator("[data-filter-value='tag:plain']").uncheck();
    expect(await visible()).toBe(total);
  });

  it("xfail and xpass are badges and filters of their own", async () => {
    const xfail = report.runs.filter((r) => r.spec === "known" && r.status === "passed").length;
    const xpass = report.runs.filter((r) => r.spec === "known" && r.status === "diverged").length;
    expect(xfail).toBeGreaterThan(0);
    expect(xpass).toBeGreaterThan(0);
    expect(await page.locator(".badge.xfail").count()).toBe(xfail);
    expect(await page.locator(".badge.xfail").first().textContent()).toMatch(/^✓x/);
    expect(await page.locator(".badge.xpass").count()).toBe(xpass);
    const visible = () => page.locator(".badge:not(.hidden)").count();
    await page.locator("[data-filter-value='status:xfail']").uncheck();
    expect(await visible()).toBe(report.runs.length - xfail);
    await page.locator("[data-filter-value='status:xfail']").check();
    await page.locator("[data-filter-value='status:xpass']").uncheck();
    expect(await visible()).toBe(report.runs.length - xpass);
    await page.locator("[data-filter-value='status:xpass']").check();
  });

  it("says a mistake once: the same divergence elsewhere points at it, the later ones are a line", async () => {
    const runs = report.runs.filter((r) => r.spec === "wrong");
    expect(runs.length).toBeGreaterThan(5);
    const cards = page.locator(".card", { has: page.locator("h3", { hasText: /^wrong / }) });
    expect(await cards.count()).toBe(runs.length);
    // One card shows the first divergence whole; the others say where it is.
    expect(await cards.locator(":scope > .expectation").count()).toBe(1);
    expect(await cards.locator(".same-as").count()).toBe(runs.length - 1);
    expect(await cards.locator(".same-as").first().textContent()).toMatch(/^\d+:3 diverged as under \S+ on \S+: expected 0x4, actual 0x3$/);
    const target = await cards.locator(".same-as a").first().getAttribute("href");
    expect(await page.locator(`${target} > .expectation`).count()).toBe(1);
    // The two after it: one line in every card.
    expect(await cards.locator("details.later summary").first().textContent()).toMatch(/^2 later expectations of this spec also diverged: \d+:3 expected 0x5, actual 0x3 · \d+:3 expected 0x1, actual 0x0$/);
    expect(await cards.locator("details.later").count()).toBe(runs.length);
  });

  it("shows spec names, suites and tags as text, never as markup", async () => {
    expect(await page.evaluate(() => (window as unknown as { pwned?: number }).pwned)).toBeUndefined();
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.locator(".spec-row td").first().textContent()).toBe(HOSTILE);
    expect(await page.locator(".card h3").first().textContent()).toContain(HOSTILE);
  });

  it("lists each answer a real backend could not see, with why, apart from divergences", async () => {
    const blind = {
      ...report,
      runs: report.runs.map((r) =>
        r.backend === "other" && r.spec === "wrong" ? { ...r, status: "passed" as const, expectations: r.expectations.map((e) => ({ ...e, outcome: "unseen" as const, actual: "unseen: <b>the buffer</b> did not come back" })) } : r,
      ),
    };
    const file = join(mkdtempSync(join(tmpdir(), "tcespec-html-unseen-")), "report.html");
    writeFileSync(file, formatHtml(blind));
    const other = await browser.newPage();
    await other.goto(pathToFileURL(file).href);
    const items = other.locator("ul.unseen li");
    expect(await items.count()).toBe(blind.runs.filter((r) => r.backend === "other" && r.spec === "wrong").length * 3);
    expect(await items.first().textContent()).toMatch(/mixed\.tce:\d+:3 expect get_tce phb0 0x1000 == 0x4 \(\S+ on other\): unseen: <b>the buffer<\/b> did not come back$/);
    await other.close();
  });
});
