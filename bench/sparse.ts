// One sparse-table scenario in its own process, so its peak RSS is its own:
// 1,000 puts and two vfio-pci plug/replay cycles in a window of the given size.
import { Engine } from "../src/engine/engine.js";
import { liobnOf } from "../src/engine/types.js";

export function sparseScenario(windowSize: bigint): void {
  const engine = new Engine("qemu-2.7", { accel: "kvm", caps: ["spapr_tce", "spapr_tce_64", "multi_tce"] });
  engine.apply({ kind: "add_phb", phb: { name: "phb0", index: 0, dma32: 1n << 30n, pageShift: 12, ddw: true } });
  engine.apply({ kind: "create_window", phbIndex: 0, pageSize: 4096n, windowSize });
  const liobn = liobnOf(0, 1);
  const base = 1n << 59n;
  const pages = windowSize >> 12n;
  for (let cycle = 0; cycle < 2; cycle++) {
    for (let i = 0n; i < 500n; i++) {
      // Spread over the whole window, so a dense table would have to exist everywhere.
      const page = (i * 7919n * (pages / 1000n + 1n)) % pages;
      engine.apply({ kind: "put_tce", liobn, ioba: base + page * 4096n, tce: ((i + 1n) << 12n) | 3n });
    }
    engine.apply({ kind: "plug", device: "vfio", name: "dev0", phbIndex: 0 });
    if (engine.hardwareState(liobn) !== "in_sync") throw new Error("replay lost entries");
    engine.apply({ kind: "unplug", name: "dev0" });
  }
}

if (process.argv[1]?.endsWith("sparse.js")) {
  const size = BigInt(process.argv[2] ?? String(1n << 40n));
  const started = performance.now();
  for (let i = 0; i < 20; i++) sparseScenario(size);
  const ms = (performance.now() - started) / 20;
  process.stdout.write(JSON.stringify({ ms, maxRssMb: process.resourceUsage().maxRSS / 1024 }));
}
