// The machines L1 can be when no POWER host runs the guests: L0 (QEMU under TCG) emulates either a
// pseries guest that runs KVM-HV nested (cap-nested-hv), or a bare-metal POWER9 server (powernv9:
// skiboot firmware, PHB4 host bridges, the IODA2 IOMMU) that runs KVM-HV natively, as POWER
// servers do. Both boot the same L1 image and run the same batch script; a host is what L0 is
// told, which QEMU L0 is, and what its IOMMU lets a vfio-pci device have (docs/hosts.md). What the
// model plays for each host is src/engine/host.ts.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { CONSOLE_ONLY, EDU_FULL_DMA_MASK } from "../qemu/process.js";
import { defaultQemu, fetchedQemu } from "../qemu/versions.js";
import { findBuild } from "../qemu/build.js";
import type { MachineTraits } from "../real/traits.js";
import type { HostName } from "../../profile-names.js";

/** L0's program and how it is started. */
export interface L0Program {
  binary: string;
  /** Options before L0_ARGS: QEMU's own data directory, where the binary is a fetched one. */
  args: string[];
  env?: Record<string, string>;
  /** How long its edu devices' DMAs take (ms of its clock), where it was told (FAST_L0): edu's own 100 ms otherwise. */
  eduDmaMs?: number;
}

/**
 * The QEMU build `tcespec kvm setup --fast-dma` makes for L0 on the pseries host: Debian's 7.2
 * with two patches of tcespec's. The first makes the delay of edu's DMA a property, which L0 then
 * sets to 0: an edu DMA ends 100 ms after its start otherwise, and the library's guests wait for
 * about 300 of them. The second keeps the class of a CPU's virtual hypervisor beside it: 7.2 looks
 * an interface's type up by name at every exception and every entry to its execution loop, about
 * a sixth of L0's time under nested KVM's hypercalls (later QEMUs keep it, as 10.0 does). The build keeps its
 * first name. The QEMU that judges (L1's) is never this one.
 */
export const FAST_L0 = {
  build: "l0-fast-dma",
  patches: ["patches/l0-0001-hw-misc-edu-DMA-delay-property.patch", "patches/l0-0002-target-ppc-look-the-vhyp-class-up-once.patch"],
  property: "x-dma-delay-ms",
} as const;

const eduProperties = new Map<string, boolean>();
/** Whether a QEMU binary's edu has FAST_L0's property (asked once per binary: `-device edu,help`). */
export function hasFastEdu(binary: string): boolean {
  let known = eduProperties.get(binary);
  if (known === undefined) {
    try {
      known = execFileSync(binary, ["-device", "edu,help"], { encoding: "utf8", timeout: 20_000, stdio: ["ignore", "pipe", "ignore"] }).includes(`${FAST_L0.property}=`);
    } catch {
      known = false;
    }
    eduProperties.set(binary, known);
  }
  return known;
}

/** L0 as given, with its edu's DMAs made immediate where it can. */
export function withFastEdu(program: L0Program): L0Program {
  return hasFastEdu(program.binary) ? { ...program, args: [...program.args, "-global", `edu.${FAST_L0.property}=0`], eduDmaMs: 0 } : program;
}

/** The pseries host's L0: `--qemu` (or TCESPEC_QEMU) where given, else FAST_L0's build where there is one, else the system's QEMU. */
function pseriesL0(binary: string | undefined): L0Program {
  const given = binary ?? process.env.TCESPEC_QEMU;
  if (given) return withFastEdu({ binary: given, args: [] });
  const build = findBuild(FAST_L0.build);
  if ("binaries" in build && build.binaries.tcg) {
    // A build installs no firmware (Debian's source has no blobs): the packaged QEMU's.
    const data = defaultQemu("7.2");
    return withFastEdu({ binary: build.binaries.tcg, args: ["-L", "dataDir" in data && data.dataDir ? data.dataDir : "/usr/share/qemu"] });
  }
  return withFastEdu({ binary: "qemu-system-ppc64", args: [] });
}

export interface L1Host {
  name: HostName;
  /** For reports: what the host is. */
  describe: string;
  /** L0's machine, console and L1's PCI devices (L1's RAM, the kernel and initramfs come after). */
  args: readonly string[];
  /** The IOMMU group of each of L1's devices bound to vfio-pci, in the order L1 lists them. */
  groups: readonly number[];
  /** -machine options every guest (L2) gets on this host. */
  guestMachine?: string;
  /** Shell the batch runs in L1 before its guests ($VFIO_HOST_n set). */
  setup?: string;
  /** A guest's timeout here unless the run names one (--timeout). */
  timeoutMs: number;
  /** What each host step of a guest (plug, unplug, reset, migration) adds to its timeout here (guestTimeoutMs). */
  stepMs: number;
  /** How long a migration inside L1 may take, in L1's time (default 20 s). */
  migrateSeconds?: number;
  /** L0's binary: `--qemu` where given, else the host's own. Why not, if it cannot be had. */
  l0(binary: string | undefined): L0Program | { problem: string };
  /** L0 loads at most this much initramfs: the image's then goes to it compressed. */
  initrdLimit?: number;
  /** What this host's IOMMU lets a vfio-pci device's window be (MachineTraits' fields of the same names). */
  limits: Pick<MachineTraits, "vfioWindowEntries" | "vfioHostPage" | "vfioWindowAtZero" | "vfioPerPhb">;
  /** The most RAM a guest gets here (L1 grows with its batch's largest guest: l1Ram). */
  maxGuestRam: bigint;
}

const GiB = 1n << 30n;

/**
 * L0 counts L1's instructions as its clock and skips the time L1 spends idle (`-icount
 * shift=auto,sleep=off`): L1's kernel sleeps through every slot reset vfio-pci asks of a PowerNV
 * PHB (1.8 to 4 s each, in pnv_eeh_root_reset), its batch through its polls, and the guests (which give
 * the processor up while they wait) through the edu's DMA timer. While L1 runs, its clock follows
 * the host's. The real-vfio specs on PowerNV: 66 s without, 44 s with (`--jobs 2`, boots
 * included). Always on PowerNV; on the pseries host only where asked (withIdleSkips): there a
 * migration inside L1 takes 3 to 4 times as long under it (it computes, and icount slows that), past
 * the 20 s it was given (specs/reset-migration/migrate.tce, "monitor silent"), and the library gained
 * nothing (124 s against 110 s); the explorer's guests, which mostly wait, gain about 3 times.
 */
const IDLE_SKIPS = ["-icount", "shift=auto,sleep=off"];

/**
 * A host whose L0 skips L1's idle time (KvmOptions' idleSkips: what `tcespec explore` asks for):
 * on the pseries host every DMA of the passed-through edu waits out its 100 ms timer, which L0
 * then skips. An explorer's 16 scenarios (seed 3, one lane): 152 s without, 53 s with. What runs without idling runs slower
 * under icount (a migration inside L1 3 to 4 times, the library 124 s vs 110 s), and L1's clock
 * then counts instructions: its timeouts and the migration's limit are the PowerNV host's.
 * Where L0's edu ends its DMAs at once (`l0`'s eduDmaMs 0, FAST_L0) L1 has nothing left to skip
 * on the pseries host and the host is left as it is: the explorer's 64 scenarios of seed 11 took
 * 88 s with icount and 65 s without there, its migrations 8 to 13 s against 1 to 2.5 s.
 */
export function withIdleSkips(host: L1Host, l0?: L0Program): L1Host {
  if (host.args.includes("-icount") || l0?.eduDmaMs === 0) return host;
  return { ...host, args: [...IDLE_SKIPS, ...host.args], timeoutMs: Math.max(host.timeoutMs, POWERNV_TIMEOUTS.timeoutMs), stepMs: Math.max(host.stepMs, POWERNV_TIMEOUTS.stepMs), migrateSeconds: POWERNV_TIMEOUTS.migrateSeconds };
}

/** The PowerNV host's timeouts, in L1's time (L0 skips idle time there: L1's clock runs ahead of the host's). */
const POWERNV_TIMEOUTS = { timeoutMs: 60_000, stepMs: 6_000, migrateSeconds: 60 };

/** One of L1's PCI devices for the guests' vfio-pci plugs: L0's options for it, and its IOMMU group in L1. */
interface L1Device {
  args: readonly string[];
  group: number;
}

/**
 * A host from its machine and its devices, listed in the order L1 lists them ($VFIO_HOST_1…): L0's
 * arguments and the devices' groups both come from that one list. Every edu reaches every IOBA, as
 * the guests' DMA probes need (the 64-bit window is at 2^59).
 */
function withDevices(host: Omit<L1Host, "args" | "groups">, machine: readonly string[], devices: readonly L1Device[]): L1Host {
  return { ...host, args: [...machine, ...devices.flatMap((d) => d.args), ...EDU_FULL_DMA_MASK], groups: devices.map((d) => d.group) };
}

/**
 * L1's RAM for a batch whose largest guest has `guestRam`: 4 GiB, or that guest's and 2.5 GiB
 * for L1 itself (its kernel, the initramfs in RAM, the guest's QEMU and tables, the batch's
 * files), whole GiB. 1.5 GiB was too little: L1 ran out of memory under a 8.25 GiB guest's plug.
 */
export function l1Ram(guestRam: bigint): bigint {
  const needed = guestRam + 2n * GiB + GiB / 2n;
  return needed <= 4n * GiB ? 4n * GiB : ((needed + GiB - 1n) / GiB) * GiB;
}

/**
 * L1 a pseries guest (L0: the host's QEMU under TCG with cap-nested-hv). Its PCI devices: two edu
 * on PHB 0, which share L1's IOMMU group (one TCE table), for two devices on one of L2's PHBs; one
 * on PHB 1, a group of its own, for a second of L2's PHBs (a group cannot serve two). L1 lists
 * domain 0000 before 0001.
 */
export const PSERIES: L1Host = withDevices(
  {
    name: "pseries",
    describe: "a pseries L1 running KVM-HV nested",
    timeoutMs: 20_000,
    // A vfio-pci plug and unplug take 2.7 s under nested TCG, a migration 5 s.
    stepMs: 3_000,
    l0: (binary) => pseriesL0(binary),
    limits: {
      // Linux 6.12 as a pseries guest makes one-level TCE tables only, 2^21 entries with its 64K
      // pages; QEMU stops with "Failed to create a window" on a larger one.
      vfioWindowEntries: 1n << 21n,
      // Counted in the pages of L1's window: QEMU backs a guest page above 64K (L1's RAM pages)
      // with 64K pages there (a 1T window of 16M pages: 2^24 entries, a hardware error in QEMU 7.2).
      vfioHostPage: 0x10000n,
      // The model's pseries host puts a PHB's devices in one group, and L1 has two of group 0.
      vfioPerPhb: 2,
      // …and gives a window at bus offset 0 only within its own default window (1 GiB of 4 KiB
      // pages); any other and QEMU stops: "Host doesn't support DMA window at 0, must be
      // 800000000000000" (seen with QEMU 7.2 in L1: 2G of 4K, 1G of 64K).
      vfioWindowAtZero: { windowSize: 1n << 30n, pageSize: 0x1000n },
    },
    // Half of L1's 4 GiB.
    maxGuestRam: 2n * GiB,
  },
  ["-M", "pseries,cap-nested-hv=on,x-vof=on", "-cpu", "power9", "-accel", "tcg", "-smp", "1", ...CONSOLE_ONLY],
  [
    { args: ["-device", "edu"], group: 0 },
    { args: ["-device", "edu"], group: 0 },
    { args: ["-device", "spapr-pci-host-bridge,index=1,id=l0phb1", "-device", "edu,bus=l0phb1.0"], group: 1 },
  ],
);

/**
 * L1 a bare-metal POWER9 server (QEMU 10.0.2's powernv9, skiboot, PHB4). QEMU 7.2's powernv
 * cannot set the PHB BARs (skiboot: "Unable to set PHB BAR") and finds no PCI device, so L0 is the
 * 10.0 that `tcespec qemu setup 10.0` fetched. `-nodefaults` would remove the PHBs: the defaults
 * stay, and what is not wanted is switched off. One edu per PHB4 (`pcie.N`): each its own PE and
 * IOMMU group. The machine loads at most 128 MiB of initramfs.
 */
export const POWERNV: L1Host = withDevices(
  {
    name: "powernv",
    describe: "a PowerNV (powernv9, skiboot, PHB4) L1 running KVM-HV on bare metal",
    // In L1's time: each vfio-pci plug and unplug sleeps 2 to 4 s in a slot reset the emulated
    // PHB4 never completes (setup), time L0 skips (IDLE_SKIPS) but L1's clock counts. Each
    // vfio-pci plug, unplug and reset of one is a slot reset of 2 to 6 s of L1's time, and a
    // migration under icount takes 3 to 4 times what it does without.
    ...POWERNV_TIMEOUTS,
    // The emulated firmware advertises none of the speculation mitigations QEMU's pseries asks KVM
    // for by default ("Requested safe cache capability level not supported by KVM").
    guestMachine: "cap-cfpc=broken,cap-sbbc=broken,cap-ibs=broken,cap-ccf-assist=off",
    // vfio-pci resets a device as a guest takes it and as it lets go: here by a bus reset of its
    // slot, which the emulated PHB4 never completes (skiboot: "Unexpected slot state", "Error -6
    // on hot reset") after seconds of waiting, every plug and every unplug. No reset at all then:
    // each probe sets the device up itself.
    setup: 'for d in $(ls /sys/bus/pci/drivers/vfio-pci 2>/dev/null | grep :); do echo "" > /sys/bus/pci/devices/$d/reset_method; done',
    l0: (binary) => {
      if (binary) return withFastEdu({ binary, args: [] });
      const fetched = fetchedQemu("10.0");
      if ("problem" in fetched) return { problem: `the PowerNV host's L0 is QEMU 10.0 (7.2's powernv9 finds no PCI device): ${fetched.problem}` };
      // Without -nodefaults QEMU loads its modules: its own, not the system's (another version's
      // make it stop on an assertion).
      const modules = join(fetched.dir, "usr/lib", `${debArch()}-linux-gnu`, "qemu");
      return withFastEdu({ binary: fetched.binary, args: ["-L", fetched.dataDir], ...(existsSync(modules) ? { env: { QEMU_MODULE_DIR: modules } } : {}) });
    },
    initrdLimit: 128 * 1024 * 1024,
    // PowerNV builds multi-level TCE tables and programs any window it is given.
    limits: {},
    // Enough for a DMA probe to look at a TCE of 8 GiB (specs/hotplug/ddw-with-vfio.tce's), L1
    // then having 11 GiB: a vfio-pci plug pins all of the guest's RAM, in L1 and so in L0.
    maxGuestRam: 9n * GiB,
  },
  // `-nodefaults` would remove the PHBs: what is not wanted is switched off instead.
  ["-M", "powernv9", "-cpu", "power9", "-accel", "tcg", "-smp", "1", ...IDLE_SKIPS, "-display", "none", "-monitor", "none", "-serial", "stdio", "-audio", "none"],
  [0, 1, 2].map((i) => ({ args: ["-device", `edu,bus=pcie.${i}`], group: i })),
);

export const L1_HOSTS: Record<HostName, L1Host> = { pseries: PSERIES, powernv: POWERNV };

/** Debian's name of this machine's architecture, as in its multiarch paths. */
function debArch(): string {
  return process.arch === "x64" ? "x86_64" : process.arch === "arm64" ? "aarch64" : process.arch === "ppc64" ? "powerpc64le" : process.arch;
}
