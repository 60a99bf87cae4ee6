// Every form of LANGUAGE.md parses, and builds the AST it means.
import { describe, expect, it } from "vitest";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { parseSource } from "../../src/compile/index.js";
import type { Action, Check, Statement } from "../../src/compile/ast.js";

function statements(text: string): Statement[] {
  const parsed = parseSource("t.tce", text);
  expect(parsed.diagnostics).toEqual([]);
  return parsed.ast!.specs[0]!.statements;
}
function one(text: string): Statement {
  const list = statements(text);
  expect(list).toHaveLength(1);
  return list[0]!;
}
function action(text: string): Action {
  const s = one(text);
  if (s.kind !== "action") throw new Error(`not an action: ${s.kind}`);
  return s.action;
}
function check(text: string): Check {
  const s = one(text);
  if (s.kind !== "expect") throw new Error(`not an expectation: ${s.kind}`);
  return s.check;
}

describe("lexical rules", () => {
  it.each([
    ["4096", 4096n],
    ["0x1000", 0x1000n],
    ["0x8000_0000", 0x80000000n],
    ["1_000", 1000n],
    ["4K", 4096n],
    ["64K", 65536n],
    ["16M", 16n << 20n],
    ["1G", 1n << 30n],
    ["2G", 2n << 30n],
    ["1T", 1n << 40n],
    ["1P", 1n << 50n],
    ["0xffffffffffffffff", (1n << 64n) - 1n],
  ])("the number %s is %s", (text, value) => {
    const a = action(`put_tce phb0 ${text} 0`);
    expect(a.kind === "put_tce" && a.ioba.value).toBe(value);
  });

  it("comments run to the end of the line", () => {
    expect(statements("# a comment\nreset # another\n# last")).toHaveLength(1);
  });

  it("statements are separated by newlines or ';', blank lines ignored", () => {
    expect(statements("reset; migrate\n\n\nreset ;; reset").map((s) => (s.kind === "action" ? s.action.kind : s.kind))).toEqual([
      "reset",
      "migrate",
      "reset",
      "reset",
    ]);
  });

  it('strings take \\" and \\\\ escapes', () => {
    const parsed = parseSource("t.tce", 'spec "a \\"quoted\\" \\\\ name" { reset }');
    expect(parsed.ast!.specs[0]!.name).toBe('a "quoted" \\ name');
  });

  it("names may hold digits, '_' and '-', and a keyword prefix", () => {
    const s = one("plug vfio phb-dev_0 on phb0");
    expect(s.kind === "plug" && s.name).toBe("phb-dev_0");
  });

  it("keywords are case-sensitive", () => {
    expect(parseSource("t.tce", "RESET").diagnostics[0]!.message).toBe("unknown statement 'RESET' — did you mean 'reset'?");
  });

  it("CRLF line ends and a byte-order mark are handled", () => {
    const parsed = parseSource("t.tce", "\ufeffmachine tcg\r\nphb phb0 index 0\r\nreset\r\n");
    expect(parsed.diagnostics).toEqual([]);
    expect(parsed.ast!.specs[0]!.statements).toHaveLength(3);
    expect(parsed.ast!.specs[0]!.statements[2]).toMatchObject({ line: 3, column: 1 });
  });
});

describe("file structure", () => {
  it("suite, setup and spec blocks with tags and profiles", () => {
    const parsed = parseSource(
      "f.tce",
      `suite "vfio hotplug"
setup {
  machine kvm caps spapr_tce
  phb phb0 index 0
}
spec "first" tags hotplug, regression {
  put_tce phb0 0x1000 0x12340000 rw
}
spec "only fixed" profiles seed-v10, qemu-2.7 {
  reset
}
spec "both" tags a profiles qemu-7.2 { reset }`,
    );
    expect(parsed.diagnostics).toEqual([]);
    const ast = parsed.ast!;
    expect(ast.suite).toBe("vfio hotplug");
    expect(ast.setup.map((s) => s.kind)).toEqual(["machine", "phb"]);
    expect(ast.specs.map((s) => [s.name, s.tags, s.profiles?.names])).toEqual([
      ["first", ["hotplug", "regression"], undefined],
      ["only fixed", [], ["seed-v10", "qemu-2.7"]],
      ["both", ["a"], ["qemu-7.2"]],
    ]);
    expect(ast.specs[0]).toMatchObject({ line: 6, column: 1 });
  });

  it("a file without spec blocks is one spec named after the file", () => {
    const parsed = parseSource("dir/one-liner.tce", "plug vfio on phb0; expect table(0x80000000) userspace");
    expect(parsed.ast!.specs.map((s) => s.name)).toEqual(["one-liner"]);
    expect(parsed.ast!.specs[0]!.statements).toHaveLength(2);
  });

  it("tags may be keywords", () => {
    const parsed = parseSource("t.tce", 'spec "s" tags kvm, reset, vfio { reset }');
    expect(parsed.ast!.specs[0]!.tags).toEqual(["kvm", "reset", "vfio"]);
  });

  it("the shared examples parse (test/examples holds the project's copies)", () => {
    const copies = new URL("../examples/", import.meta.url);
    const files = readdirSync(copies).filter((f) => f.endsWith(".tce"));
    expect(files.sort()).toEqual(["one-liner.tce", "seed-scenario.tce", "windows.tce"]);
    for (const file of files) expect(parseSource(file, readFileSync(new URL(file, copies), "utf8")).diagnostics, file).toEqual([]);
    // Where the shared folder sits next to the checkout, the copies must not have drifted from it.
    const shared = new URL("../../../shared/examples/", import.meta.url);
    if (existsSync(shared)) {
      for (const file of files) expect(readFileSync(new URL(file, copies), "utf8"), file).toBe(readFileSync(new URL(file, shared), "utf8"));
    }
  });
});

describe("set-up statements", () => {
  it("machine kvm with caps", () => {
    expect(one("machine kvm caps spapr_tce, spapr_tce_64, spapr_tce_vfio, multi_tce")).toMatchObject({
      kind: "machine",
      accel: "kvm",
      caps: ["spapr_tce", "spapr_tce_64", "spapr_tce_vfio", "multi_tce"],
    });
  });
  it("machine … ram SIZE: the guest's RAM (an extension), after caps or tcg", () => {
    expect(one("machine kvm caps spapr_tce ram 1G")).toMatchObject({ kind: "machine", accel: "kvm", caps: ["spapr_tce"], ram: { value: 0x4000_0000n } });
    expect(one("machine tcg ram 768M")).toMatchObject({ kind: "machine", accel: "tcg", ram: { value: 0x3000_0000n } });
    expect(one("machine kvm")).not.toHaveProperty("ram");
  });

  it("machine kvm without caps means spapr_tce, multi_tce", () => {
    expect(one("machine kvm")).toMatchObject({ accel: "kvm", caps: ["spapr_tce", "multi_tce"] });
  });
  it("machine tcg", () => {
    expect(one("machine tcg")).toMatchObject({ accel: "tcg", caps: [] });
  });
  it("phb with every option", () => {
    const s = one("phb phb1 index 1 dma32 2G page 64K ddw off");
    expect(s).toMatchObject({ kind: "phb", name: "phb1", ddw: false });
    if (s.kind !== "phb") throw new Error();
    expect([s.index.value, s.dma32?.value, s.page?.value]).toEqual([1n, 2n << 30n, 65536n]);
  });
  it("phb defaults", () => {
    expect(one("phb phb0 index 0")).toMatchObject({ ddw: true, dma32: undefined, page: undefined });
  });
});

describe("actions", () => {
  it("plug vfio and emulated, named or not", () => {
    expect(one("plug vfio dev0 on phb0")).toMatchObject({ kind: "plug", device: "vfio", name: "dev0", phb: "phb0" });
    expect(one("plug emulated on phb1")).toMatchObject({ kind: "plug", device: "emulated", name: undefined, phb: "phb1" });
  });
  it("unplug", () => expect(one("unplug dev0")).toMatchObject({ kind: "unplug", name: "dev0" }));
  it("put_tce with both TCE forms and every table form", () => {
    expect(action("put_tce 0x80000000 0x1000 0x12340003")).toMatchObject({
      table: { kind: "liobn", liobn: 0x80000000n },
      tce: { value: 0x12340003n },
    });
    expect(action("put_tce phb0 0x1000 0x12340000 rw")).toMatchObject({
      table: { kind: "phb", phb: "phb0", window: 0 },
      tce: { value: 0x12340003n, text: "0x12340000 rw" },
    });
    expect(action("put_tce phb0[1] 0x0 0x1000 r")).toMatchObject({
      table: { kind: "phb", phb: "phb0", window: 1 },
      tce: { value: 0x1001n },
    });
    expect(action("put_tce phb0 0 0x1000 w")).toMatchObject({ tce: { value: 0x1002n } });
    expect(action("put_tce phb0 0 0x1003 none")).toMatchObject({ tce: { value: 0x1003n } });
  });
  it("get_tce", () => expect(action("get_tce phb0 0x2000")).toMatchObject({ kind: "get_tce", ioba: { value: 0x2000n } }));
  it("stuff_tce", () =>
    expect(action("stuff_tce phb0 0x0 0x1000 rw 16")).toMatchObject({ kind: "stuff_tce", tce: { value: 0x1003n }, count: { value: 16n } }));
  it("put_tce_indirect, with the list address extension", () => {
    const a = action("put_tce_indirect phb0 0x0 [0x1003, 0x2000 r, 0x3000 w]");
    expect(a.kind === "put_tce_indirect" && a.tces.map((t) => t.value)).toEqual([0x1003n, 0x2001n, 0x3002n]);
    expect(action("put_tce_indirect phb0 0x0 []")).toMatchObject({ tces: [] });
    expect(action("put_tce_indirect phb0 0x0 [0x1] at 0x10008")).toMatchObject({ listAddress: { value: 0x10008n } });
  });
  it("create_window, remove_window, reset_windows, query_window", () => {
    expect(action("create_window phb0 page 64K size 1T")).toMatchObject({
      kind: "create_window",
      phb: "phb0",
      pageSize: { value: 65536n },
      windowSize: { value: 1n << 40n },
    });
    expect(action("remove_window 0x80000001")).toMatchObject({ kind: "remove_window", table: { liobn: 0x80000001n } });
    expect(action("reset_windows phb0")).toMatchObject({ kind: "reset_windows", phb: "phb0" });
    expect(action("query_window phb0")).toMatchObject({ kind: "query_window", phb: "phb0" });
  });
  it("dma read and write", () => {
    expect(action("dma net0 read 0x80")).toMatchObject({ kind: "dma", device: "net0", access: "read", ioba: { value: 0x80n } });
    expect(action("dma net0 write 0x80")).toMatchObject({ access: "write" });
  });
  it("reset and migrate", () => {
    expect(action("reset").kind).toBe("reset");
    expect(action("migrate").kind).toBe("migrate");
  });
});

describe("expectations", () => {
  it.each([
    ["expect put_tce phb0 0 0 == H_SUCCESS", { kind: "action", op: "==", value: { kind: "code", code: "H_SUCCESS" } }],
    ["expect get_tce phb0 0 != 0x3", { kind: "action", op: "!=", value: { kind: "number", value: 3n } }],
    ["expect get_tce phb0 0 == 0x1000 rw", { kind: "action", value: { kind: "number", value: 0x1003n, hasPermission: true } }],
    ["expect create_window phb0 page 4K size 1G == 0x80000001", { kind: "action", value: { value: 0x80000001n } }],
    ["expect create_window phb0 page 4K size 1G == RTAS_HW_ERROR", { kind: "action", value: { code: "RTAS_HW_ERROR" } }],
    ["expect table(phb0) kvm", { kind: "placement", placement: "kvm" }],
    ["expect table(phb0[1]) userspace", { kind: "placement", placement: "userspace", table: { window: 1 } }],
    ["expect table(0x80000001) absent", { kind: "placement", placement: "absent" }],
    ["expect table(phb0) size 1G page 4K", { kind: "geometry", offset: undefined }],
    ["expect table(phb0) size 1T page 64K offset 0x800000000000000", { kind: "geometry", offset: { value: 1n << 59n } }],
    ["expect guest(phb0, 0x1000) == 0x3", { kind: "guest", ioba: { value: 0x1000n } }],
    ["expect hw(phb0, 0x1000) == 0x12340000 rw", { kind: "hw-entry", value: { value: 0x12340003n } }],
    ["expect hw(phb0) in_sync", { kind: "hw-state", state: "in_sync" }],
    ["expect hw(phb0) absent", { kind: "hw-state", state: "absent" }],
    ["expect dma net0 read 0x80 == 0x20000080", { kind: "action", value: { value: 0x20000080n } }],
    ["expect dma net0 write 0x80 == fault", { kind: "action", value: { kind: "word", word: "fault" } }],
    ["expect vfio(phb0) yes", { kind: "vfio", present: true }],
    ["expect vfio(phb0) no", { kind: "vfio", present: false }],
    ["expect windows(phb0) == 2", { kind: "windows", value: { value: 2n } }],
    ["expect notifiers(phb0) != 1", { kind: "notifiers", op: "!=" }],
    ["expect migrate == ok", { kind: "action", value: { word: "ok" } }],
    ["expect migrate == blocked", { kind: "action", value: { word: "blocked" } }],
  ])("%s", (text, shape) => {
    expect(check(text)).toMatchObject(shape);
  });

  it("when profile and xfail, in either order", () => {
    const a = one('expect hw(phb0) in_sync when profile pre-fix, qemu-2.7 xfail "stale"');
    const b = one('expect hw(phb0) in_sync xfail "stale" when profile pre-fix, qemu-2.7');
    for (const s of [a, b]) expect(s).toMatchObject({ when: { profiles: ["pre-fix", "qemu-2.7"] }, xfail: { reason: "stale" } });
  });

  it("every node carries its line and column", () => {
    const s = statements("reset\n  expect get_tce phb0 0x10 == 0x3");
    expect(s[1]).toMatchObject({ line: 2, column: 3 });
    if (s[1]!.kind !== "expect" || s[1]!.check.kind !== "action") throw new Error();
    expect(s[1]!.check.value).toMatchObject({ line: 2, column: 31 });
  });
});

describe("railroad diagrams", () => {
  it("docs/grammar.html is generated from the grammar, and loads nothing from the network", async () => {
    const { diagramsHtml } = await import("../../grammar/diagrams-html.js");
    const html = diagramsHtml();
    expect(html).toContain("expectStmt");
    expect(html).not.toMatch(/<(script|link)[^>]+(src|href)=/);
    expect(html).toContain("drawDiagramsFromSerializedGrammar");
    expect(readFileSync(new URL("../../docs/grammar.html", import.meta.url), "utf8"), "run npm run diagrams").toBe(html);
  });
  it("grammar/cst.ts holds the CST types of the grammar as it is", async () => {
    const { cstTypes } = await import("../../grammar/cst-types.js");
    expect(readFileSync(new URL("../../grammar/cst.ts", import.meta.url), "utf8"), "run npm run diagrams").toBe(cstTypes());
  });
});
