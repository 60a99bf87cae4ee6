// The two hosts of real KVM side by side (docs/hosts.md): L1's boot on each (L0 started to L1
// powered off, an empty batch, the faster of two), and the same specs run on each with --jobs 1
// (runs per second, boots included). Targets (issue "A PowerNV host"): L1 boot on PowerNV ≤ 15 s;
// runs per second on PowerNV ≥ pseries'. `npx tsx bench/hosts.ts`, or `npm run bench` with the rest.
import { findImage, initramfsToBoot } from "../src/backends/kvm/image.js";
import { L1_HOSTS } from "../src/backends/kvm/hosts.js";
import { runL1 } from "../src/backends/kvm/l1.js";
import { KvmBackend } from "../src/backends/kvm/backend.js";
import { fetchedQemu } from "../src/backends/qemu/versions.js";
import { run } from "../src/run/runner.js";
import type { Row } from "./builds.js";

/** The specs both hosts run the same way: vfio-pci plugs with DMA, windows, hypercalls. */
const SPECS = ["specs/hotplug/real-vfio.tce", "specs/hcalls/kvm.tce", "specs/windows/ddw.tce"];

export async function hostRows(): Promise<Row[]> {
  const image = findImage();
  if (!("manifest" in image)) return [{ what: "the hosts of real KVM", measured: "not measured: no L1 image ('tcespec kvm setup')", ratio: NaN, target: "", ok: false }];
  const q10 = fetchedQemu("10.0");
  if ("problem" in q10) return [{ what: "the PowerNV host", measured: `not measured: ${q10.problem}`, ratio: NaN, target: "", ok: false }];
  const boots: Record<string, number> = {};
  for (const host of Object.values(L1_HOSTS)) {
    const booted = { ...image, initramfs: await initramfsToBoot(image, host.initrdLimit) };
    let best = Infinity;
    for (let i = 0; i < 2; i++) {
      const t = performance.now();
      const done = await runL1(booted, [], { host, timeoutMs: 20_000, bootTimeoutMs: 120_000 });
      if ("error" in done) throw new Error(`L1 (${host.name}) did not boot: ${done.error}`);
      best = Math.min(best, (performance.now() - t) / 1000);
    }
    boots[host.name] = best;
  }
  const rates: Record<string, number> = {};
  let runs = 0;
  for (const host of Object.values(L1_HOSTS)) {
    const t = performance.now();
    const report = await run(SPECS, { profiles: ["qemu-7.2"], backends: [new KvmBackend({ host: host.name })], jobs: 1 });
    const ran = report.runs.filter((r) => r.status !== "unsupported");
    const failed = ran.filter((r) => r.status !== "passed");
    if (failed.length > 0) throw new Error(`${host.name}: ${failed.map((r) => `${r.spec}: ${r.status} ${r.reason ?? ""}`).join("; ")}`);
    runs = ran.length;
    rates[host.name] = ran.length / ((performance.now() - t) / 1000);
  }
  const pnv = boots.powernv!;
  return [
    { what: "L1 boot on the pseries host (KVM-HV nested; L0 start to L1 off, empty batch)", measured: `${boots.pseries!.toFixed(1)} s`, ratio: NaN, target: "", ok: true },
    { what: "L1 boot on the PowerNV host (powernv9 in QEMU 10.0, KVM-HV on bare metal)", measured: `${pnv.toFixed(1)} s`, ratio: pnv / 15, target: "≤ 15 s", ok: pnv <= 15 },
    {
      what: `runs per second on the PowerNV host vs pseries (${runs} runs of ${SPECS.length} files, --jobs 1, boot included: pseries ${rates.pseries!.toFixed(3)}/s)`,
      measured: `${rates.powernv!.toFixed(3)}/s`,
      ratio: rates.pseries! / rates.powernv!,
      target: "≥ pseries'",
      ok: rates.powernv! >= rates.pseries!,
    },
  ];
}

if (process.argv[1]?.endsWith("hosts.ts") || process.argv[1]?.endsWith("hosts.js")) {
  for (const r of await hostRows()) console.log(`${r.what}: ${r.measured}${Number.isNaN(r.ratio) ? "" : ` (${r.ratio.toFixed(2)}×, ${r.target}: ${r.ok ? "met" : "NOT MET"})`}`);
}
