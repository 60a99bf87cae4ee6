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
