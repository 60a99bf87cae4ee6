// Generated spec text for the benchmarks: a suite of N statements that all pass.
export function generateSuite(statements: number, specSize = 1000): string {
  const out: string[] = ['suite "generated"', "setup {", "  machine kvm caps spapr_tce, multi_tce", "  phb phb0 index 0", "}"];
  let written = 0;
  let spec = 0;
  while (written < statements) {
    out.push(`spec "block ${spec++}" tags generated {`);
    for (let i = 0; i < specSize && written < statements; i++, written++) {
      const ioba = BigInt((i * 0x1000) % 0x3fff_f000);
      const page = 0x1000_0000n + BigInt(i) * 0x1000n;
      switch (i % 5) {
        case 0:
          out.push(`  put_tce phb0 0x${ioba.toString(16)} 0x${page.toString(16)} rw`);
          break;
        case 1:
          out.push(`  expect get_tce phb0 0x${(ioba - 0x1000n).toString(16)} == 0x${(page - 0x1000n).toString(16)} rw`);
          break;
        case 2:
          out.push(`  expect table(phb0) kvm when profile pre-fix, qemu-7.2`);
          break;
        case 3:
          out.push(`  stuff_tce phb0 0x${(ioba + 0x100000n).toString(16)} 0x0 2`);
          break;
        default:
          out.push(`  expect guest(phb0, 0x${(ioba - 0x4000n).toString(16)}) == 0x${(page - 0x4000n).toString(16)} rw # a comment`);
      }
    }
    out.push("}");
  }
  return `${out.join("\n")}\n`;
}

/** A JSON document of about the same size, for the reference parse. */
export function generateJson(bytes: number): string {
  const rows: string[] = [];
  let size = 2;
  for (let i = 0; size < bytes; i++) {
    const row = JSON.stringify({
      op: "put_tce",
      liobn: "0x80000000",
      ioba: `0x${(i * 4096).toString(16)}`,
      tce: `0x${(0x10000000 + i * 4096).toString(16)}`,
      perm: "rw",
      line: i,
    });
    rows.push(row);
    size += row.length + 2;
  }
  return `[\n${rows.join(",\n")}\n]`;
}

/**
 * Bad inputs of 64 KB that once made error recovery slow or crash it: each kind of mistake repeated
 * until the file is full. The front end's check time on the worst of them is a bench target, and
 * the robustness tests check that each gives bounded, positioned errors.
 */
export function hostileInputs(bytes = 64 * 1024): { name: string; text: string }[] {
  const fill = (head: string, unit: string, tail = "") => (head + unit.repeat(Math.ceil(bytes / unit.length))).slice(0, bytes - tail.length) + tail;
  const library = [
    'setup {\n  machine kvm caps spapr_tce\n  phb phb0 index 0\n}\n',
    'spec "a" tags hotplug {\n  put_tce phb0 0x1000 0x12340000 rw\n  plug vfio d0 on phb0\n  expect hw(phb0, 0x1000) == 0x12340003\n}\n',
  ].join("");
  // A library-like file with one character in fifty replaced by a bracket, quote or sign.
  let seed = 7;
  const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
  const mutant = [...fill("", library)].map((c) => (random() < 0.02 ? '{}()[]=,;"x0 \n'[Math.floor(random() * 14)]! : c)).join("");
  return [
    { name: "4,900 bad tags", text: fill('spec "x" tags ', "t!, ", " { reset }") },
    { name: "a spec per line with a bad tag", text: fill("", 'spec "x" tags a!, b { reset }\n') },
    { name: "unknown words, a line each", text: fill('spec "x" {\n', "zz\n", "}") },
    { name: "unknown words on one line", text: fill('spec "x" { ', "zz ", "}") },
    { name: "opening braces", text: fill("", "{") },
    { name: "closing braces", text: fill("", "}") },
    { name: "opening parentheses", text: fill("expect table", "(") },
    { name: "unclosed strings", text: fill("", 'spec "x {\n') },
    { name: "single '='", text: fill("expect get_tce phb0 0 ", "= ") },
    { name: "an unclosed TCE list", text: fill("put_tce_indirect phb0 0 [", "0x1 ,") },
    { name: "broken statements in specs", text: fill("", 'spec "a" { put_tce phb0 [ 0x1 ( } \n') },
    { name: "a mutated library file", text: mutant },
  ];
}
