// The targets of QEMU builds: a cold build from an empty cache (TCESPEC_BENCH_COLD_BUILD=1: it
// fetches Debian's source and the sysroot and compiles QEMU twice, about ten minutes here), a
// cached build found, the L1 overlay's cost at boot, and `tcespec mutate` with four cached mutants
// on specs/hotplug under real KVM.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildQemu, findBuild, missingTools, type BuildTarget } from "../src/backends/qemu/build.js";
import { findImage } from "../src/backends/kvm/image.js";
import { runL1 } from "../src/backends/kvm/l1.js";
import { findMutants, mutate, type Mutant } from "../src/run/mutate.js";

export interface Row {
  what: string;
  measured: string;
  ratio: number;
  target: string;
  ok: boolean;
}

const PREFIX = { name: "prefix", source: { debian: "7.2" as const }, patches: ["mutants/revert-realloc.patch"], targets: ["kvm"] as BuildTarget[] };

export async function buildRows(): Promise<Row[]> {
  const rows: Row[] = [];
  if (missingTools(["tcg", "kvm"])) {
    rows.push({ what: "QEMU builds", measured: `not measured: ${missingTools(["tcg", "kvm"])}`, ratio: NaN, target: "", ok: false });
    return rows;
  }
  if (process.env.TCESPEC_BENCH_COLD_BUILD === "1") {
    const root = mkdtempSync(join(tmpdir(), "tcespec-cold-build-"));
    try {
      for (const target of ["kvm", "tcg"] as const) {
        const t0 = performance.now();
        await buildQemu({ name: `cold-${target}`, source: { debian: "7.2" }, patches: [], targets: [target], root });
        const minutes = (performance.now() - t0) / 60_000;
        rows.push({
          what: target === "kvm" ? "cross build of qemu-system-ppc64 for ppc64el, empty cache (source and sysroot fetched)" : "host build of qemu-system-ppc64 (TCG), source already fetched",
          measured: `${minutes.toFixed(1)} min`,
          ratio: minutes / 15,
          target: "≤ 15 min",
          ok: minutes <= 15,
        });
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  } else rows.push({ what: "cold QEMU builds", measured: "not measured (TCESPEC_BENCH_COLD_BUILD=1: about 10 min)", ratio: NaN, target: "≤ 15 min each", ok: true });

  // Built once if it is not there yet; then the time of finding it again.
  await buildQemu(PREFIX);
  const t0 = performance.now();
  await buildQemu(PREFIX);
  const cached = (performance.now() - t0) / 1000;
  rows.push({ what: "a cached QEMU build found again (tcespec qemu build of the same thing)", measured: `${(cached * 1000).toFixed(0)} ms`, ratio: cached, target: "≤ 1 s", ok: cached <= 1 });

  const image = findImage();
  const build = findBuild("prefix");
  if (!("manifest" in image) || !("manifest" in build)) {
    rows.push({ what: "L1 overlay, mutate", measured: "not measured: no L1 image ('tcespec kvm setup')", ratio: NaN, target: "", ok: false });
    return rows;
  }
  // L1's boot with and without the build appended, the faster of two each: what the overlay adds.
  const boot = async (overlay?: string) => {
    let best = Infinity;
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      const done = await runL1(image, [], { timeoutMs: 20_000, bootTimeoutMs: 120_000, ...(overlay ? { overlays: [overlay] } : {}) });
      if ("error" in done) throw new Error(`L1 did not boot: ${done.error}`);
      best = Math.min(best, (performance.now() - t) / 1000);
    }
    return best;
  };
  const plain = await boot();
  const overlaid = await boot(build.overlay);
  const added = overlaid - plain;
  rows.push({
    what: "L1 boot with a QEMU build appended to its initramfs, over the plain image",
    measured: `${added >= 0 ? "+" : ""}${added.toFixed(2)} s (${overlaid.toFixed(1)} s vs ${plain.toFixed(1)} s)`,
    ratio: Math.max(0, added),
    target: "≤ 1 s",
    ok: added <= 1,
  });

  const mutants = findMutants("mutants") as Mutant[];
  for (const m of mutants) await buildQemu({ name: `mutant-${m.name}`, source: { debian: "7.2" }, patches: [m.file], targets: ["kvm"] });
  const t1 = performance.now();
  const result = await mutate({
    paths: ["specs/hotplug"],
    mutants,
    debian: "7.2",
    backend: "kvm",
  });
  const minutes = (performance.now() - t1) / 60_000;
  const killed = result.mutants.filter((m) => m.killedBy.length > 0).length;
  rows.push({
    what: `tcespec mutate, ${mutants.length} cached mutants + the baseline on specs/hotplug under real KVM (${killed} killed)`,
    measured: `${minutes.toFixed(1)} min`,
    ratio: minutes / 5,
    target: "≤ 5 min",
    ok: minutes <= 5,
  });
  return rows;
}
