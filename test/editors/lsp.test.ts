// The language server as an editor meets it: `tcespec lsp --stdio` in a child process, spoken to
// over JSON-RPC (vscode-jsonrpc, as VS Code's client does): initialize, open and change a file,
// and ask for diagnostics, completion, hover, formatting and a definition.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, type ChildProcess } from "node:child_process";
import { fileURLToPath, pathToFileURL } from "node:url";
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from "vscode-jsonrpc/node";

const bin = fileURLToPath(new URL("../../bin/tcespec.js", import.meta.url));
const uri = pathToFileURL("/tmp/lsp-test/seed.tce").href;
let server: ChildProcess;
let rpc: MessageConnection;
const published = new Map<number, { uri: string; diagnostics: { range: unknown; message: string }[] }>();
let version = 0;
let waiting: ((p: { diagnostics: { range: unknown; message: string }[] }) => void) | undefined;

const TEXT = `suite "seed"

setup {
  machine kvm caps spapr_tce
  phb phb0 index 0
}

spec "the first vfio device moves the table" tags vfio-first-plug {
  put_tce phb0 0x1000 0x12340000 rw
  plug vfio dev0 on phb0
  expect table(phb0) userspace when profile qemu-7.2
  unplug dev0
}
`;

/** Sends a change and waits for the diagnostics it causes. */
function change(text: string): Promise<{ diagnostics: { range: unknown; message: string }[] }> {
  const answer = new Promise<{ diagnostics: { range: unknown; message: string }[] }>((resolve) => (waiting = resolve));
  void rpc.sendNotification("textDocument/didChange", { textDocument: { uri, version: ++version }, contentChanges: [{ text }] });
  return answer;
}
const at = (text: string, needle: string, delta = 0) => {
  const offset = text.indexOf(needle) + delta;
  const before = text.slice(0, offset).split("\n");
  return { line: before.length - 1, character: before[before.length - 1]!.length };
};

beforeAll(async () => {
  server = spawn("node", [bin, "lsp", "--stdio"], { stdio: ["pipe", "pipe", "inherit"] });
  rpc = createMessageConnection(new StreamMessageReader(server.stdout!), new StreamMessageWriter(server.stdin!));
  rpc.onNotification("textDocument/publishDiagnostics", (p) => {
    published.set(published.size, p);
    waiting?.(p);
  });
  rpc.listen();
  const init = await rpc.sendRequest("initialize", { processId: process.pid, rootUri: null, capabilities: {} });
  expect((init as { capabilities: Record<string, unknown> }).capabilities).toMatchObject({ hoverProvider: true, definitionProvider: true });
  await rpc.sendNotification("initialized", {});
  const opened = new Promise<unknown>((resolve) => (waiting = resolve));
  await rpc.sendNotification("textDocument/didOpen", { textDocument: { uri, languageId: "tcespec", version: ++version, text: TEXT } });
  await opened;
}, 30_000);

afterAll(async () => {
  await rpc.sendRequest("shutdown").catch(() => undefined);
  await rpc.sendNotification("exit").catch(() => undefined);
  rpc.dispose();
  server.kill();
});

describe("tcespec lsp --stdio", () => {
  it("publishes no diagnostics for a good file, and check's errors with exact ranges on change", async () => {
    expect(published.get(0)!.diagnostics).toEqual([]);
    const broken = TEXT.replace("put_tce phb0", "put_tc phb0").replace("when profile qemu-7.2", "when profile qemu-7.3");
    const { diagnostics } = await change(broken);
    // Both mistakes at once, the syntax error and the unknown profile: one pass.
    expect(diagnostics.map((d) => d.message)).toEqual(["unknown statement 'put_tc' — did you mean 'put_tce'?", "unknown profile 'qemu-7.3' — did you mean 'qemu-7.2'?"]);
    expect(diagnostics[0]!.range).toEqual({ start: at(broken, "put_tc"), end: at(broken, "put_tc", 6) });
    expect(diagnostics[1]!.range).toEqual({ start: at(broken, "qemu-7.3"), end: at(broken, "qemu-7.3", 8) });
    const next = await change(TEXT.replace("when profile qemu-7.2", "when profile qemu-7.3"));
    expect(next.diagnostics.map((d) => d.message)).toEqual(["unknown profile 'qemu-7.3' — did you mean 'qemu-7.2'?"]);
    expect(next.diagnostics[0]!.range).toEqual({ start: at(TEXT, "qemu-7.2"), end: at(TEXT, "qemu-7.2", 8) });
    expect((await change(TEXT)).diagnostics).toEqual([]);
  });

  it("completes from the grammar: statements, then what may follow, and declared names", async () => {
    const labels = async (text: string, needle: string, delta = 0) => {
      await change(text);
      const items = (await rpc.sendRequest("textDocument/completion", { textDocument: { uri }, position: at(text, needle, delta) })) as { label: string }[];
      return items.map((i) => i.label);
    };
    const statement = await labels(TEXT.replace("  unplug dev0\n", "  unplug dev0\n  pu\n"), "  pu\n", 4);
    expect(statement).toEqual(expect.arrayContaining(["put_tce", "put_tce_indirect", "plug", "expect", "reset", "migrate"]));
    expect(statement).not.toContain("index");
    const table = await labels(TEXT.replace("  unplug dev0\n", "  unplug dev0\n  expect table(phb0) \n"), "table(phb0) ", 12);
    expect(table.sort()).toEqual(["absent", "kvm", "size", "userspace"]);
    const phb = await labels(TEXT.replace("  unplug dev0\n", "  unplug dev0\n  put_tce \n"), "  put_tce \n", 10);
    expect(phb).toEqual(["phb0"]);
    const device = await labels(TEXT.replace("  unplug dev0\n", "  unplug \n"), "  unplug \n", 9);
    expect(device).toEqual(["dev0"]);
    const profiles = await labels(TEXT.replace("when profile qemu-7.2", "when profile "), "when profile ", 13);
    expect(profiles).toEqual(expect.arrayContaining(["pre-fix", "qemu-7.2", "qemu-10.0"]));
    const caps = await labels(TEXT.replace("caps spapr_tce", "caps "), "caps ", 5);
    expect(caps).toEqual(expect.arrayContaining(["spapr_tce", "multi_tce", "spapr_tce_vfio"]));
    await change(TEXT);
  });

  it("hovers a statement with what it does and the rules its spec exercises, and a profile", async () => {
    const hover = async (needle: string, delta = 1) =>
      ((await rpc.sendRequest("textDocument/hover", { textDocument: { uri }, position: at(TEXT, needle, delta) })) as { contents: { value: string } } | null)?.contents.value;
    const plug = await hover("plug vfio");
    expect(plug).toContain("hotplug a vfio-pci device");
    expect(plug).toContain("`vfio-first-plug`");
    expect(await hover("put_tce phb0")).toContain("H_PUT_TCE");
    expect(await hover("qemu-7.2", 3)).toMatch(/\*\*qemu-7\.2\*\*: .*spapr_tce_vfio/);
  });

  it("formats through fmt, and leaves a broken file alone", async () => {
    const messy = TEXT.replace("  put_tce phb0 0x1000 0x12340000 rw", "put_tce    phb0 0x1000   0x12340000 rw");
    await change(messy);
    const edits = (await rpc.sendRequest("textDocument/formatting", { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } })) as {
      newText: string;
    }[];
    expect(edits).toHaveLength(1);
    expect(edits[0]!.newText).toBe(TEXT);
    await change(TEXT.replace("put_tce", "put_tc"));
    expect(await rpc.sendRequest("textDocument/formatting", { textDocument: { uri }, options: { tabSize: 2, insertSpaces: true } })).toEqual([]);
    await change(TEXT);
  });

  it("goes to the definition of a PHB or a device", async () => {
    const definition = async (needle: string, delta: number) =>
      (await rpc.sendRequest("textDocument/definition", { textDocument: { uri }, position: at(TEXT, needle, delta) })) as { range: { start: unknown } } | null;
    expect((await definition("unplug dev0", 8))!.range.start).toEqual(at(TEXT, "dev0 on"));
    expect((await definition("table(phb0)", 7))!.range.start).toEqual(at(TEXT, "phb0 index"));
    expect(await definition("expect", 1)).toBeNull();
  });
});

describe("completion of PHB names", () => {
  it("offers QEMU's phb0 where the file leaves PHB 0 to QEMU, and the file's own PHBs", async () => {
    const { completions, definition } = await import("../../src/lsp/assist.js");
    const phbs = (text: string) =>
      completions(text, text.length)
        .filter((c) => c.kind === "phb")
        .map((c) => c.label)
        .sort();
    expect(phbs("put_tce ")).toEqual(["phb0"]);
    expect(phbs("phb a index 1\nput_tce ")).toEqual(["a", "phb0"]);
    expect(phbs("phb a index 0\nput_tce ")).toEqual(["a"]);
    const renamed = "phb phb0 index 2\nput_tce phb0";
    expect(phbs(renamed.replace(/phb0$/, ""))).toEqual(["phb0"]);
    expect(definition(renamed, renamed.length - 1)).toEqual({ start: 4, end: 8 });
    // Comments and strings declare nothing, and nothing is completed inside them.
    expect(phbs('# phb old index 3\nspec "phb s index 4" {\n  put_tce ')).toEqual(["phb0"]);
    expect(completions("reset # put_", 12)).toEqual([]);
    expect(completions('spec "put_', 10)).toEqual([]);
  });

  it("offers 'kernel' after when, and the kernel rules in a 'when kernel' list, profiles in a 'when profile' one", async () => {
    const { completions } = await import("../../src/lsp/assist.js");
    const labels = (text: string) => completions(text, text.length).map((c) => c.label);
    const head = "expect stuff_tce phb0 0x0 0x0 1 == H_SUCCESS when ";
    expect(labels(head)).toEqual(expect.arrayContaining(["profile", "kernel"]));
    expect(labels(head)).not.toContain("phb0");
    expect(labels(`${head}kernel `).sort()).toEqual(["linux-4", "linux-6", "linux-6-checked"]);
    expect(labels(`${head}kernel linux-6, `).sort()).toEqual(["linux-4", "linux-6", "linux-6-checked"]);
    expect(labels(`${head}profile `)).toContain("qemu-7.2");
    expect(labels(`${head}profile `)).not.toContain("linux-6");
    // `when host`, an extension, the same way.
    expect(labels(head)).toContain("host");
    expect(labels(`${head}host `).sort()).toEqual(["powernv", "pseries"]);
    expect(labels(`${head}kernel linux-6 when host pseries, `).sort()).toEqual(["powernv", "pseries"]);
  });
});
