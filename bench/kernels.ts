// The targets of kernel builds: a cold build from an empty cache (TCESPEC_BENCH_COLD_BUILD=1: it
// fetches Debian's linux source and compiles vmlinux, about a quarter of an hour here), a cached
// build found again, and L1's boot on a built kernel, with and without KASAN, beside its boot on
// Debian's kernel. The kernel builds are .ci/run's (built here if they are missing).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildKernel, missingKernelTools, type KernelBuildRequest } from "../src/backends/kvm/kernel.js";
import { findImage, type L1Image } from "../src/backends/kvm/image.js";
import { runL1 } from "../src/backends/kvm/l1.js";
import type { Row } from "./builds.js";

const FIX = "patches/linux-0001-powerpc-iommu-check-the-whole-range-in-iommu_tce_check_ioba.patch";
const FIXED: KernelBuildRequest = { name: "linux-fixed", source: { debian: "6.12" }, patches: [FIX], rules: "linux-6-checked" };
const FIXED_KASAN: KernelBuildRequest = { ...FIXED, name: "linux-fixed-kasan", kasan: true };

export async function kernelRows(): Promise<Row[]> {
  const rows: Row[] = [];
  const missing = missingKernelTools();
  if (missing) return [{ what: "kernel builds", measured: `not measured: ${missing}`, ratio: NaN, target: "", ok: false }];
  if (process.env.TCESPEC_BENCH_COLD_BUILD === "1") {
    const root = mkdtempSync(join(tmpdir(), "tcespec-cold-kernel-"));
    try {
      const t0 = performance.now();
      await buildKernel({ ...FIXED, name: "cold", root });
      const minutes = (performance.now() - t0) / 60_000;
      rows.push({ what: "kernel build (vmlinux for L1) from an empty cache, Debian's source fetched", measured: `${minutes.toFixed(1)} min`, ratio: minutes / 30, target: "≤ 30 min", ok: minutes <= 30 });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  } else rows.push({ what: "cold kernel build", measured: "not measured (TCESPEC_BENCH_COLD_BUILD=1: about 15 min)", ratio: NaN, target: "≤ 30 min", ok: true });

  await buildKernel(FIXED);
  const t0 = performance.now();
  const { build: fixed } = await buildKernel(FIXED);
  const cached = (performance.now() - t0) / 1000;
  rows.push({ what: "a cached kernel build found again (tcespec kvm kernel build of the same thing)", measured: `${(cached * 1000).toFixed(0)} ms`, ratio: cached, target: "≤ 1 s", ok: cached <= 1 });

  const image = findImage();
  if (!("manifest" in image)) return [...rows, { what: "L1 boot on a built kernel", measured: "not measured: no L1 image ('tcespec kvm setup')", ratio: NaN, target: "", ok: false }];
  // L1's boot to its READY line with no guest: the faster of two.
  const boot = async (l1: L1Image, overlays: string[] = [], bootTimeoutMs = 120_000) => {
    let best = Infinity;
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      const done = await runL1(l1, [], { timeoutMs: 20_000, bootTimeoutMs, overlays });
      if ("error" in done) throw new Error(`L1 did not boot: ${done.error}`);
      best = Math.min(best, (performance.now() - t) / 1000);
    }
    return best;
  };
  const debian = await boot(image);
  const built = await boot({ ...image, vmlinux: fixed.vmlinux }, [fixed.overlay]);
  rows.push({
    what: "L1 boot on a built kernel (no modules to load), beside Debian's kernel",
    measured: `${built.toFixed(1)} s (Debian's: ${debian.toFixed(1)} s)`,
    ratio: built / 15,
    target: "≤ 15 s",
    ok: built <= 15,
  });
  if (process.env.TCESPEC_BENCH_KASAN === "1") {
    const { build: kasan } = await buildKernel(FIXED_KASAN);
    const withKasan = await boot({ ...image, vmlinux: kasan.vmlinux }, [kasan.overlay], 300_000);
    rows.push({ what: "L1 boot on a built kernel with KASAN", measured: `${withKasan.toFixed(1)} s`, ratio: withKasan / 30, target: "≤ 30 s", ok: withKasan <= 30 });
  } else rows.push({ what: "L1 boot with KASAN", measured: "not measured (TCESPEC_BENCH_KASAN=1: builds the KASAN kernel if missing)", ratio: NaN, target: "≤ 30 s", ok: true });
  return rows;
}
