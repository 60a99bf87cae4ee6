// The kvm backend's parts that need no KVM: the initramfs writer, the batch script, reading
// L1's console, the capability list, and the placement the trace tells.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cpio, dirEntry, fileEntry } from "../../src/backends/kvm/cpio.js";
import { batchScript } from "../../src/backends/kvm/l1.js";
import { BATCH, guestSeconds, softwareOf, splitConsole, UNSETTLED } from "../../src/backends/real/console.js";
import { judge } from "../../src/backends/real/judge.js";
import { hiddenCaps, KVM_CAP } from "../../src/backends/kvm/caps.js";
import { lastWords, readGuestOutput } from "../../src/backends/real/console.js";
import { planFor } from "../../src/backends/real/planner.js";
import type { GuestPlan } from "../../src/backends/real/traits.js";
import { KVM_TRAITS } from "../../src/backends/kvm/backend.js";
import { TCG_TRAITS } from "../../src/backends/qemu/backend.js";
import { specOf, hasCommand } from "../helpers.js";


describe("the initramfs writer", () => {
  it.skipIf(!hasCommand("cpio"))("writes a newc archive GNU cpio reads back, byte for byte", () => {
    const dir = mkdtempSync(join(tmpdir(), "tcespec-cpio-"));
    try {
      const data = Buffer.from(Array.from({ length: 1001 }, (_, i) => i % 251));
      writeFileSync(join(dir, "a.cpio"), cpio([dirEntry("batch"), fileEntry("batch/run.sh", "echo hi\n", true), fileEntry("batch/0.elf", data)]));
      execFileSync("cpio", ["-idm", "--quiet", "-F", join(dir, "a.cpio")], { cwd: dir });
      expect(readFileSync(join(dir, "batch/0.elf")).equals(data)).toBe(true);
      expect(readFileSync(join(dir, "batch/run.sh"), "utf8")).toBe("echo hi\n");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("pads to 512 bytes, so a second archive can follow", () => {
    expect(cpio([fileEntry("x", "abc")]).length % 512).toBe(0);
  });
});

describe("the batch L1 runs", () => {
  it("hides the capabilities a spec does not list, and only those", () => {
    expect(hiddenCaps(["spapr_tce", "spapr_tce_64", "spapr_tce_vfio", "multi_tce"])).toEqual([]);
    expect(hiddenCaps(["spapr_tce", "multi_tce"]).sort()).toEqual([KVM_CAP.spapr_tce_64, KVM_CAP.spapr_tce_vfio].sort());
  });

  it("runs each guest under KVM with its options, caps hidden only where asked, its console copied into L1's kernel log", () => {
    const script = batchScript(
      [
        { elf: new Uint8Array(), args: ["-device", "spapr-pci-host-bridge,index=1"], hideCaps: [] },
        { elf: new Uint8Array(), args: [], hideCaps: [125, 142] },
      ],
      20_000,
    );
    const all = script.trim().split("\n");
    expect(script).toMatch(/^echo 0 > \/proc\/sys\/kernel\/randomize_va_space\n/);
    // The kernel log: one descriptor, WARN_ONCE's switch in debugfs, and the shim preloaded for every QEMU (TCESPEC_KMSG).
    expect(all.slice(1, 4)).toEqual([
      "exec 5>/dev/kmsg",
      "[ -e /sys/kernel/debug/clear_warn_once ] || mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null",
      "[ -e '/lib/tcespec-caps.so' ] && export LD_PRELOAD='/lib/tcespec-caps.so' TCESPEC_KMSG=1",
    ]);
    // Then what judges the batch, as it says itself: the kernel, and the guests' QEMU.
    expect(all[4]).toBe(`echo "TCESPEC-SOFTWARE $(uname -r) $('qemu-system-ppc64' --version 2>&1 | head -1)"`);
    // L1's devices bound to vfio-pci become $VFIO_HOST_1, $VFIO_HOST_2…
    expect(script).toMatch(/ls \/sys\/bus\/pci\/drivers\/vfio-pci .*eval VFIO_HOST_\$i=\$d/);
    const lines = all.slice(all.findIndex((l) => l.startsWith('echo "TCESPEC-RUN 0')));
    // Each guest starts with an empty kernel log and every WARN_ONCE armed again.
    expect(lines[0]).toBe('echo "TCESPEC-RUN 0 $(cat /proc/uptime)"; dmesg -c >/dev/null; [ -w /sys/kernel/debug/clear_warn_once ] && echo 1 > /sys/kernel/debug/clear_warn_once');
    expect(lines[1]).toMatch(/^timeout -s KILL 20 'qemu-system-ppc64' .*'-accel' 'kvm'.*'spapr-pci-host-bridge,index=1' '-kernel' '\/batch\/0.elf'/);
    expect(lines[1]).not.toContain("TCESPEC_HIDE_CAPS");
    // After it, a log that holds a WARN is printed between markers, before the guest's end.
    // QEMU's exit status is kept before the log is read (a guest without host steps reports it only there).
    expect(lines[2]).toBe('rc=$?; tcespec_settle || echo "TCESPEC-UNSETTLED 0"; dmesg -c > /tmp/k0; if grep -q "WARNING: CPU:" /tmp/k0; then echo "TCESPEC-KLOG 0"; cat /tmp/k0; echo "TCESPEC-KLOG-END 0"; fi');
    expect(lines[3]).toMatch(/^echo "TCESPEC-DONE 0 \$rc /);
    expect(lines[5]).toMatch(/^LD_PRELOAD='\/lib\/tcespec-caps.so' TCESPEC_HIDE_CAPS=125,142 timeout/);
  });
  it("lets the guest go on after an unplug only once QEMU no longer lists the device", () => {
    const script = batchScript([{ elf: new Uint8Array(), args: [], hideCaps: [], steps: [{ kind: "unplug", device: "d0" }] }], 20_000);
    const step = script.slice(script.indexOf("      1) "), script.indexOf(" ;;", script.indexOf("      1) ")));
    expect(step.indexOf("info pci")).toBeGreaterThan(step.indexOf("device_del"));
    expect(step).toContain(`grep -q 'id "d0"'`);
    expect(step.indexOf("echo g >&3")).toBeGreaterThan(step.indexOf("info pci"));
    // The monitor's earlier prompt is waited for before the log is emptied for device_del.
    expect(step.indexOf("tcespec_prompt")).toBeLessThan(step.indexOf("device_del"));
    // Unplugged is said only once QEMU no longer lists it; a device still listed is a failed step.
    expect(step.indexOf("TCESPEC-ACT 1 unplugged d0")).toBeGreaterThan(step.indexOf("info pci"));
    expect(step).toContain("TCESPEC-ACT 1 failed: device_del d0: QEMU still lists the device 10 s later");
  });

  it("says a device is plugged only once QEMU lists it, and names each way a step fails", () => {
    const script = batchScript(
      [{ elf: new Uint8Array(), args: [], hideCaps: [], steps: [{ kind: "plug", device: { name: "d0", phbIndex: 0, slot: 1, vfio: true }, bus: "pci.0" }, { kind: "migrate" }], hosts: [2] }],
      20_000,
    );
    const plug = script.slice(script.indexOf("      1) "), script.indexOf(" ;;", script.indexOf("      1) ")));
    expect(plug).toContain("device_add vfio-pci,host=$VFIO_HOST_2,id=d0,bus=pci.0,addr=1");
    expect(plug.indexOf("TCESPEC-ACT 1 plugged d0 0")).toBeGreaterThan(plug.indexOf("device_add"));
    expect(plug.indexOf("TCESPEC-ACT 1 plugged d0 0")).toBeGreaterThan(plug.indexOf("info pci"));
    expect(plug).toContain("TCESPEC-ACT 1 failed: device_add d0: QEMU does not list the device after it");
    // A silent monitor: for a while, or for good because QEMU is gone (the exit file), said apart.
    expect(plug).toContain('TCESPEC-ACT 1 failed: device_add: $([ -f /tmp/q0.exit ] && echo "QEMU exited before it answered" || echo "the monitor did not answer within 60 s")');
    expect(script).toContain("echo $rc > /tmp/q0.exit; echo \"TCESPEC-QEMU-EXIT $rc\"");
    expect(plug).toContain('TCESPEC-ACT 1 failed: device_add: $(grep Error');
    const migrate = script.slice(script.indexOf("      2) "), script.indexOf(" ;;", script.indexOf("      2) ")));
    // Blocked only where QEMU refused it (an Error); a failed or unfinished migration is an error.
    expect(migrate).toMatch(/if grep -q "Error" .*TCESPEC-ACT 2 blocked/);
    expect(migrate).toContain("TCESPEC-ACT 2 failed: migrate: QEMU did not complete it within 20 s");
    // QEMU's own exit status is reported, not the migration loop's.
    expect(script).toMatch(/; rc=\$\?; while .*; rc=\$\?; done; echo \$rc > \/tmp\/q0\.exit; echo "TCESPEC-QEMU-EXIT \$rc"/);
  });
  // The migrate step run by bash against a fake monitor that answers as QEMU does on a machine that
  // came in by a migration: `info migrate` says the incoming one "completed" while no outgoing one
  // has started (qmp_query_migrate), and a refusal's Error may come in with a later answer.
  const migrateAgainst = (monitor: string) => {
    const dir = mkdtempSync(join(tmpdir(), "tcespec-migrate-"));
    try {
      const script = batchScript([{ elf: new Uint8Array(), args: [], hideCaps: [], steps: [{ kind: "migrate" }] }], 20_000, {
        elfs: dir,
        work: dir,
        qemu: "qemu-system-ppc64",
        shim: "/none",
        accel: "kvm",
        tuneAslr: false,
        listVfio: false,
        kernelLog: false,
      });
      const start = script.indexOf("      1) ");
      const step = script.slice(start, script.indexOf(" ;;", start) + 3);
      const harness = [
        `tcespec_say() { echo "$1"; }`,
        `mkfifo ${dir}/mon; : > ${dir}/m0.log`,
        `( n=0; while read -r cmd; do echo "$cmd" >> ${dir}/seen; n=$((n+1)); ${monitor.replaceAll("LOG", `${dir}/m0.log`)}; done < ${dir}/mon ) &`,
        `exec 4>${dir}/mon 3>/dev/null`,
        `case 1 in`,
        step,
        `esac`,
        `exec 4>&-; wait`,
      ].join("\n");
      const said = execFileSync("bash", ["-c", harness], { encoding: "utf8", timeout: 30_000 });
      return { said: said.trim(), seen: readFileSync(join(dir, "seen"), "utf8").trim().split("\n") };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
  it.skipIf(!hasCommand("bash") || !hasCommand("mkfifo"))("reads a refused migration as blocked, though a machine that came in by one says its incoming migration completed", () => {
    // The refusal comes in with the first `info migrate` answer, after it.
    const { said } = migrateAgainst(
      `case "$cmd" in "info migrate") [ $n = 2 ] && echo "Error: VFIO device doesn't support migration" >> LOG; echo "Migration status: completed" >> LOG;; "info status") echo "VM status: running" >> LOG;; esac`,
    );
    expect(said).toBe("TCESPEC-ACT 1 blocked: Error: VFIO device doesn't support migration");
  });
  it.skipIf(!hasCommand("bash") || !hasCommand("mkfifo"))("says migrated only once the source has stopped after sending it all (postmigrate)", () => {
    const { said, seen } = migrateAgainst(
      `case "$cmd" in "info migrate") echo "Migration status: completed" >> LOG;; "info status") [ $n -ge 7 ] && echo "VM status: paused (postmigrate)" >> LOG || echo "VM status: running" >> LOG;; esac`,
    );
    expect(said).toBe("TCESPEC-ACT 1 migrated");
    // QEMU is told to quit only after the third look at its status, the one that said postmigrate.
    expect(seen.indexOf("quit")).toBeGreaterThan(seen.indexOf("info status") + 4);
    expect(seen.filter((c) => c === "info status").length).toBeGreaterThanOrEqual(3);
  });
  it("runs a job under TCG when it asks to, the others under KVM", () => {
    const script = batchScript(
      [
        { elf: new Uint8Array(), args: [], hideCaps: [], accel: "tcg" },
        { elf: new Uint8Array(), args: [], hideCaps: [] },
      ],
      20_000,
    );
    const runs = script.split("\n").filter((l) => l.includes("timeout -s KILL"));
    expect(runs.map((l) => /'-accel' '(\w+)'/.exec(l)?.[1])).toEqual(["tcg", "kvm"]);
  });
  it("runs the same script directly on a host: its own paths, QEMU and shim, no change to the host's ASLR or its kernel log", () => {
    const script = batchScript([{ elf: new Uint8Array(), args: [], hideCaps: [125], steps: [{ kind: "reset" }] }], 20_000, {
      elfs: "/work/d",
      work: "/work/d",
      qemu: "/usr/bin/qemu-system-ppc64",
      shim: "/cache/shim.so",
      accel: "kvm",
      tuneAslr: false,
      listVfio: false,
      kernelLog: false,
    });
    expect(script).not.toContain("randomize_va_space");
    expect(script).not.toMatch(/dmesg|kmsg|clear_warn_once/);
    expect(script).not.toContain("drivers/vfio-pci");
    expect(script).not.toMatch(/\/tmp\/|\/batch\//);
    expect(script).toContain("mkfifo /work/d/in0 /work/d/m0.in /work/d/m0.out");
    expect(script).toContain("LD_PRELOAD='/cache/shim.so'");
    expect(script).toContain("'/usr/bin/qemu-system-ppc64'");
  });

  it("reads what the batch ran on from its console", () => {
    expect(softwareOf("boot…\nTCESPEC-SOFTWARE 6.12.95+deb12-powerpc64le-64k QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nTCESPEC-RUN 0")).toEqual({
      kernel: "6.12.95+deb12-powerpc64le-64k",
      qemu: "QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)",
    });
    expect(softwareOf("TCESPEC-RUN 0")).toBeUndefined();
  });

  it("expect host runs only where the kernel log is read: not on a host whose own kernel runs the guests", async () => {
    const { KvmBackend } = await import("../../src/backends/kvm/backend.js");
    const direct = new KvmBackend({ direct: { accel: "tcg" } });
    const launcher = (direct as unknown as { launcher: { prepare(s: unknown): Promise<object> } }).launcher;
    expect(await launcher.prepare(specOf("machine kvm\nphb phb0 index 0\nexpect host ok"))).toEqual({ unsupported: expect.stringMatching(/^expect host: this host's kernel log is not read here/) });
    expect(await launcher.prepare(specOf("machine kvm caps spapr_tce, spapr_tce_64, spapr_tce_vfio, multi_tce\nphb phb0 index 0\nput_tce phb0 0 0"))).toEqual({ hideCaps: [] });
  });

  it("tells two kernel builds of one release apart by their banner (/proc/version in L1, the string in the build's vmlinux)", async () => {
    const { bannerOf } = await import("../../src/backends/kvm/kernel.js");
    const { KvmBackend } = await import("../../src/backends/kvm/backend.js");
    const dir = mkdtempSync(join(tmpdir(), "tcespec-banner-"));
    try {
      const banner = "Linux version 6.12.95-tcespec (root@vm) (powerpc64le-linux-gnu-gcc (Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #4 SMP Thu Dec  3 07:05:37 UTC 2026";
      const vmlinux = join(dir, "vmlinux");
      // As a vmlinux holds it: a template without the build number first, then the banner.
      writeFileSync(vmlinux, Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0]), Buffer.from("Linux version 6.12.95-tcespec (root@vm) (gcc) # SMP \0"), Buffer.from(`${banner}\n\0`)]));
      expect(bannerOf(vmlinux)).toBe(banner);
      const console = `TCESPEC-SOFTWARE 6.12.95-tcespec QEMU emulator version 7.2.22 (Debian 1:7.2+dfsg-7+deb12u18+b3)\nTCESPEC-PROC-VERSION ${banner}\nTCESPEC-PLATFORM  pSeries\n`;
      expect(softwareOf(console)).toMatchObject({ kernel: "6.12.95-tcespec", banner });
      const manifest = { version: 1, name: "linux-fixed", base: "6.12.95", release: "6.12.95-tcespec", source: { label: "Debian linux 6.12.95-1~bpo12+1" }, patches: [], kasan: false, rules: "linux-6", artifact: { key: "k", bytes: 1 }, built: "" };
      const backend = new KvmBackend({ hostKernel: { manifest, vmlinux, dir, overlay: "", config: "" } as never });
      const launcher = (backend as unknown as { launcher: { image: object; judgedBy(s: object): string | undefined } }).launcher;
      launcher.image = { dir };
      const judged = (software: object) => launcher.judgedBy(software);
      expect(judged(softwareOf(console)!)).toBeUndefined();
      // The host is what L1's kernel says it runs on: a PowerNV L1 never answers for the pseries host asked for.
      expect(softwareOf(console)).toMatchObject({ platform: "pSeries" });
      expect(judged(softwareOf(console.replace("pSeries", "PowerNV"))!)).toBe("L1 says it runs on platform 'PowerNV', not the pseries host asked for (--kvm-host)");
      expect(judged(softwareOf(console.replace("TCESPEC-PLATFORM  pSeries\n", ""))!)).toBe("L1 says it runs on no platform it named, not the pseries host asked for (--kvm-host)");
      expect(judged(softwareOf(console.replace("#4 SMP Thu Dec  3", "#3 SMP Wed Dec  2"))!)).toMatch(/^L1 ran 'Linux version 6\.12\.95-tcespec .* #3 SMP Wed Dec  2 .*', not kernel build 'linux-fixed' \('.* #4 SMP Thu Dec  3 .*'\): the build's vmlinux was not what booted$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("splits L1's console into each guest's output, and says why one failed", () => {
    const console = [
      "TCESPEC-L1-READY 4.2",
      "TCESPEC-RUN 0 5.1 0.2",
      "spapr_iommu_new_table liobn=0x80000000 table=0x7fff fd=11",
      "TCESPEC-BEGIN",
      "0".repeat(32),
      "TCESPEC-END",
      "TCESPEC-DONE 0 0 6.0 0.3",
      "TCESPEC-RUN 1 6.0 0.3",
      "qemu-system-ppc64: -device foo: not found",
      "TCESPEC-DONE 1 1 6.5 0.3",
      "TCESPEC-RUN 2 6.5 0.3",
      "TCESPEC-DONE 2 137 9.5 0.3",
      "TCESPEC-RUN 3 9.5 0.3",
      "qemu-system-ppc64: ../hw/ppc/spapr_pci.c:100: assertion failed",
      "TCESPEC-QEMU-EXIT 134",
      "TCESPEC-DONE 3 0 9.6 0.3",
      "TCESPEC-RUN 4 9.6 0.3",
      "TCESPEC-HOST",
      "TCESPEC-ACT 1 failed: device_del d0: QEMU still lists the device 10 s later",
      "TCESPEC-QEMU-EXIT 137",
      "TCESPEC-DONE 4 0 30.0 0.3",
      "TCESPEC-RUN 5 30.0 0.3",
      "TCESPEC-BEGIN",
      "BUG: Unable to handle kernel data access at 0xcbd79bf19b700000",
      "Oops: Kernel access of bad area, sig: 11 [#1]",
      "NIP [c008000003a2b4dc] kvmppc_tce_put+0x5c/0xa0 [kvm]",
      "",
    ].join("\n");
    const [ok, bad, slow, aborted, stuck, crashed, missing] = splitConsole(console, 7, { timeoutMs: 20_000, stopped: "L1's kernel panicked (Kernel panic - not syncing: Fatal exception)" });
    expect(ok).toEqual({ body: "TCESPEC-RUN 0 5.1 0.2\nspapr_iommu_new_table liobn=0x80000000 table=0x7fff fd=11\nTCESPEC-BEGIN\n" + "0".repeat(32) + "\n" });
    expect(bad).toEqual({ error: "L1's QEMU exited (code 1) before the guest finished: qemu-system-ppc64: -device foo: not found" });
    expect(slow).toEqual({ error: "timed out after 20000 ms (--timeout): the guest did not finish" });
    // QEMU's own status, not the loop's around it: an abort is SIGABRT, with QEMU's last words, a crash of QEMU (a verdict).
    expect(aborted).toMatchObject({ crash: { software: "QEMU", report: "qemu-system-ppc64: ../hw/ppc/spapr_pci.c:100: assertion failed (SIGABRT)" } });
    expect(stuck).toEqual({ error: "host step 1 failed: device_del d0: QEMU still lists the device 10 s later; timed out after 20000 ms (--timeout): the guest did not finish" });
    expect(crashed).toMatchObject({
      crash: { software: "host kernel", report: "BUG: Unable to handle kernel data access at 0xcbd79bf19b700000", function: "kvmppc_tce_put+0x5c/0xa0" },
      body: expect.stringContaining("TCESPEC-BEGIN"),
    });
    expect(missing).toEqual({ error: "not run: L1's kernel panicked (Kernel panic - not syncing: Fatal exception) before this guest's turn", notRun: true });
  });
});

describe("placement from QEMU's trace", () => {
  const body = [
    "spapr_iommu_new_table liobn=0x80000000 table=0x1 fd=11",
    "TCESPEC-BEGIN",
    "TCESPEC-MARK",
    "spapr_iommu_new_table liobn=0x80000001 table=0x2 fd=-1",
    "spapr_iommu_new_table liobn=0x80000000 table=0x3 fd=-1",
    "TCESPEC-MARK",
    "",
  ].join("\n");

  it("holds at each mark what the trace said before it, tables made before the guest began included", () => {
    const out = readGuestOutput(body);
    expect(out.lines).toEqual([]);
    expect([...out.marks[0]!.kvmTables]).toEqual([0x80000000n]);
    expect([...out.marks[1]!.kvmTables]).toEqual([]);
  });

  it("takes L1's kernel records out of the console whole, even inside a trace or result line", () => {
    // As seen in L1's console (pseries L1 creating a DDW for vfio), and the same inside a result line.
    const out = readGuestOutput(
      [
        "TCESPEC-BEGIN",
        "spapr_iommu_new_[    6.332181] spapr_tce_create_table: Calling query /pci@800000020000000",
        "table liobn=0x80000001 table=0x2 fd=-1",
        "0000000000000000[    6.812938] spapr_tce_create_table: Calling query /pci@800000020000000",
        "0000000080000001",
        "[    6.878089][  T280] a record on a line of its own",
        "TCESPEC-MARK",
        "",
      ].join("\n"),
    );
    expect(out.lines).toEqual(["00000000000000000000000080000001"]);
    expect(out.marks).toHaveLength(1);
    expect([...out.marks[0]!.kvmTables]).toEqual([]);
    // The record's table line was read: 0x80000001 lives in userspace (fd -1), and no stray line is a result.
    expect(readGuestOutput(["TCESPEC-BEGIN", "spapr_iommu_new_[    6.332181] x", "table liobn=0x80000001 table=0x2 fd=7", "TCESPEC-MARK", ""].join("\n")).marks[0]!.kvmTables).toEqual(new Set([0x80000001n]));
  });

  it("counts vfio's notifiers by window from QEMU 7.2's listener trace; a RAM section's region_del is not one", () => {
    const out = readGuestOutput(
      [
        "TCESPEC-BEGIN",
        "vfio_listener_region_add_iommu region_add [iommu] 0x0 - 0x3fffffff",
        "vfio_listener_region_add_iommu region_add [iommu] 0x800000000000000 - 0x80000003fffffff",
        "TCESPEC-MARK",
        "vfio_listener_region_del region_del 0x0 - 0x1fffffff",
        "vfio_listener_region_del region_del 0x800000000000000 - 0x80000003fffffff",
        "TCESPEC-MARK",
        "vfio_listener_region_add_iommu region_add [iommu] 0x0 - 0x3fffffff",
        "vfio_listener_region_del region_del 0x0 - 0x3fffffff",
        "vfio_listener_region_del region_del 0x0 - 0x3fffffff",
        "TCESPEC-MARK",
        "",
      ].join("\n"),
    );
    expect(out.marks.map((m) => Object.fromEntries([...m.notifiers.byBase].map(([base, n]) => [base.toString(16), n])))).toEqual([
      { "0": 1, "800000000000000": 1 },
      { "0": 1 },
      {},
    ]);
  });

  it("counts them by table where QEMU 10.0's trace names the region", () => {
    const out = readGuestOutput(
      [
        "TCESPEC-BEGIN",
        "vfio_listener_region_add_iommu region_add [iommu] tce-iommu-80000000 0x0 - 0x3fffffff",
        "vfio_listener_region_add_iommu region_add [iommu] tce-iommu-80000100 0x0 - 0x3fffffff",
        "TCESPEC-MARK",
        "vfio_listener_region_del_iommu region_del [iommu] tce-iommu-80000000",
        "vfio_listener_region_del region_del 0x0 - 0x3fffffff",
        "TCESPEC-MARK",
        "",
      ].join("\n"),
    );
    expect(out.marks.map((m) => [...m.notifiers.byLiobn].map(([liobn, n]) => `${liobn.toString(16)}:${n}`))).toEqual([
      ["80000000:1", "80000100:1"],
      ["80000100:1"],
    ]);
    expect(out.marks.every((m) => m.notifiers.byBase.size === 0)).toBe(true);
  });

  it("asks the host under KVM, and only whether the window exists under TCG", () => {
    const spec = specOf("machine kvm\nphb phb0 index 0\nexpect table(phb0) kvm");
    const kvmPlan = planFor(spec, "qemu-7.2", KVM_TRAITS);
    expect("steps" in kvmPlan && kvmPlan.steps[0]!.calls.map((c) => c.kind)).toEqual(["hcall", "hcall", "mark"]);
    expect(planFor(spec, "qemu-7.2", TCG_TRAITS)).toEqual({ unsupported: expect.stringMatching(/^machine kvm/) });
    const tcg = specOf("machine tcg\nphb phb0 index 0\nexpect table(phb0) userspace");
    expect(planFor(tcg, "qemu-7.2", KVM_TRAITS)).toEqual({ unsupported: expect.stringMatching(/^machine tcg/) });
    // With a vfio-pci device a TCG guest runs in L1 too (L1's QEMU under TCG).
    const tcgVfio = specOf("machine tcg\nphb phb0 index 0\nplug vfio d0 on phb0\nexpect table(phb0) userspace");
    expect("steps" in planFor(tcgVfio, "qemu-7.2", KVM_TRAITS)).toBe(true);
  });
});

describe("device slots", () => {
  const slots = (plan: GuestPlan | { unsupported: string }) =>
    "steps" in plan ? plan.steps.flatMap((s) => s.calls).flatMap((c) => (c.kind === "plug" ? [`${c.device.name}@${c.device.phbIndex}:${c.device.slot}`] : [])) : plan.unsupported;
  it("a plug takes the lowest slot free on its PHB: one an unplug left, not the count of devices", () => {
    const spec = specOf(
      "machine kvm\nphb phb0 index 0\nphb phb1 index 1\nplug emulated e0 on phb0\nplug emulated e1 on phb0\nunplug e0\nplug emulated e2 on phb0\nplug emulated e3 on phb0\nplug emulated f0 on phb1",
    );
    expect(slots(planFor(spec, "qemu-7.2", KVM_TRAITS))).toEqual(["e0@0:1", "e1@0:2", "e2@0:1", "e3@0:3", "f0@1:1"]);
    const vfio = specOf("machine kvm\nphb phb0 index 0\nplug vfio d0 on phb0\nplug emulated e0 on phb0\nunplug d0\nplug vfio d1 on phb0");
    expect(slots(planFor(vfio, "qemu-7.2", KVM_TRAITS))).toEqual(["d0@0:1", "e0@0:2", "d1@0:1"]);
  });
});

describe("windows at bus 0 next to a vfio-pci device on a pseries L1 (seen with QEMU 7.2 in L1)", () => {
  const plan = (text: string) => {
    const p = planFor(specOf(`machine kvm caps spapr_tce, spapr_tce_64, multi_tce, spapr_tce_vfio\n${text}`), "qemu-7.2", KVM_TRAITS);
    return "unsupported" in p ? p.unsupported : "runs";
  };
  it("only within L1's own default window, 1G of 4K pages: QEMU stops on any other", () => {
    expect(plan("phb phb0 index 0 dma32 2G\nplug vfio d0 on phb0")).toMatch(/^line 3: plug vfio: .* window at bus 0 of size 2G page 4K: .*Host doesn't support DMA window at 0/);
    expect(plan("phb phb0 index 0 dma32 256M\nplug vfio d0 on phb0")).toBe("runs");
    // A removal refused (no DDW on the PHB) leaves the default window where it was.
    expect(plan("phb phb0 index 0 dma32 8G ddw off\nremove_window phb0\nplug vfio d0 on phb0")).toMatch(/^line 4: plug vfio: .* window at bus 0 of size 8G page 4K/);
    expect(plan("phb phb0 index 0 dma32 8G\nremove_window phb0\nplug vfio d0 on phb0")).toBe("runs");
    expect(plan("phb phb0 index 0\nremove_window phb0\ncreate_window phb0 page 64K size 1G\nplug vfio d0 on phb0")).toMatch(/^line 5: .*size 1G page 64K/);
    expect(plan("phb phb0 index 0\nremove_window phb0\ncreate_window phb0 page 4K size 512M\nplug vfio d0 on phb0")).toBe("runs");
    expect(plan("phb phb0 index 0\nplug vfio d0 on phb0\nremove_window phb0\ncreate_window phb0 page 64K size 1G")).toMatch(/^line 5: create_window: /);
    // A 64-bit window next to the device is another matter (at 2^59).
    expect(plan("phb phb0 index 0\nplug vfio d0 on phb0\ncreate_window phb0 page 64K size 1G")).toBe("runs");
    expect(planFor(specOf("machine tcg\nphb phb0 index 0 dma32 2G\nplug emulated e0 on phb0"), "qemu-7.2", TCG_TRAITS)).toHaveProperty("steps");
  });
  it("a userspace table larger than L1's QEMU can allocate is refused up front (found by the explorer: 2^28 entries work, 2^29 fail)", () => {
    const userspace = (size: string) => planFor(specOf(`machine kvm caps spapr_tce_64\nphb phb0 index 0\ncreate_window phb0 page 2M size ${size}`), "qemu-7.2", KVM_TRAITS);
    expect(userspace("1P")).toEqual({ unsupported: expect.stringMatching(/^line 3: create_window of 536870912 entries in userspace \(no spapr_tce\): QEMU here can allocate 268435456 at most/) });
    expect(userspace("512T")).toHaveProperty("steps");
    // Found by the explorer too: spapr_tce without spapr_tce_64 keeps a window at 2^59 in userspace.
    expect(planFor(specOf("machine kvm caps spapr_tce, spapr_tce_vfio, multi_tce\nphb phb0 index 0\ncreate_window phb0 page 2M size 1P"), "qemu-7.2", KVM_TRAITS)).toEqual({
      unsupported: expect.stringMatching(/in userspace \(a window KVM cannot hold without spapr_tce_64\)/),
    });
    // In KVM the kernel allocates the table as it is used.
    expect(planFor(specOf("machine kvm caps spapr_tce, spapr_tce_64\nphb phb0 index 0\ncreate_window phb0 page 2M size 1P"), "qemu-7.2", KVM_TRAITS)).toHaveProperty("steps");
  });

  it("QEMU 7.2's notifier counts are a PHB's only where no other PHB has a vfio-pci device (found by the explorer)", () => {
    const notifiers = (body: string, dma32 = "4G") => {
      const plan = planFor(specOf(`machine kvm\nphb phb0 index 0\nphb phbx index 1 dma32 ${dma32}\n${body}`), "qemu-7.2", KVM_TRAITS);
      return "unsupported" in plan ? plan.unsupported : "runs";
    };
    // phb0's notifier and phbx's default window share the range the trace names (bus 0 on).
    expect(notifiers("plug vfio d0 on phb0\nexpect notifiers(phbx) == 0")).toMatch(/^notifiers\(…\): .*the vfio-pci device is on another PHB than the one asked about$/);
    expect(notifiers("plug vfio d0 on phb0\nplug vfio d1 on phbx\nexpect notifiers(phb0) == 1", "256M")).toMatch(/vfio-pci devices on two PHBs$/);
    expect(notifiers("plug vfio d0 on phb0\nexpect notifiers(phb0) == 1")).toBe("runs");
    expect(notifiers("expect notifiers(phbx) == 0")).toBe("runs");
  });

  it("a WARN comes from the kernel log the batch prints after the guest (seen on Linux 6.12.95), placed among the guest's copied lines", () => {
    // What the batch printed for a guest whose H_STUFF_TCE made the kernel WARN (trimmed: registers left out).
    const klog = [
      "[   10.583055] tcespec: TCESPEC-BEGIN",
      "[   10.592125] tcespec: 00000000000000000000000080000000",
      "[   10.600426] tcespec: TCESPEC-HOST",
      "[   12.451090] vfio-pci 0000:00:00.0: enabling device (0000 -> 0002)",
      "[   12.823118] tcespec: TCESPEC-ACT 1 plugged d0 0",
      // A kernel with CONFIG_PRINTK_CALLER (the KASAN build) names the task after the time.
      "[   12.864963][  T280] tcespec: 00000000000000000000000000000000",
      "[   12.902001] ------------[ cut here ]------------",
      "[   12.902100] WARNING: CPU: 0 PID: 164 at arch/powerpc/kvm/book3s_64_vio.c:476 kvmppc_tce_iommu_unmap+0x168/0x190 [kvm]",
      "[   12.902200] Modules linked in: vfio_pci vfio_pci_core vfio_iommu_spapr_tce vfio kvm_hv kvm",
      "[   12.910068] NIP [c0080000005ebc30] kvmppc_tce_iommu_unmap+0x168/0x190 [kvm]",
      "[   12.915957] Call Trace:",
      "[   12.916035] [c000000002eaf460] [c00800000058bb7c] kvmppc_tce_iommu_unmap+0xb4/0x190 [kvm] (unreliable)",
      "[   12.916216] [c000000002eaf4f0] [c00800000058cf34] kvmppc_h_stuff_tce+0x140/0x34c [kvm]",
      "[   12.916299] [c000000002eaf5c0] [c00800000044d11c] kvmppc_pseries_do_hcall+0x111c/0x1d08 [kvm_hv]",
      "[   12.917000] ---[ end trace 0000000000000000 ]---",
      "[   12.920000] tcespec: fffffffffffffffe0000000000000000",
      "[   12.930000] tcespec: TCESPEC-END",
      "[   13.124565] WARNING: CPU: 0 PID: 160 at drivers/vfio/vfio_iommu_spapr_tce.c:371 tce_iommu_release+0x180/0x224 [vfio_iommu_spapr_tce]",
    ].join("\n");
    const console = `TCESPEC-RUN 0 1 1\nTCESPEC-BEGIN\n${"0".repeat(24)}80000000\nTCESPEC-HOST\nTCESPEC-ACT 1 plugged d0 0\n${"0".repeat(32)}\nfffffffffffffffe${"0".repeat(16)}\nTCESPEC-END\nTCESPEC-QEMU-EXIT 0\nTCESPEC-KLOG 0\n${klog}\nTCESPEC-KLOG-END 0\nTCESPEC-DONE 0 0 2 1\n`;
    const [warned] = splitConsole(console, 1);
    expect(warned).toMatchObject({
      warning: {
        report: {
          software: "host kernel",
          warning: true,
          report: "WARNING: CPU: 0 PID: 164 at arch/powerpc/kvm/book3s_64_vio.c:476 kvmppc_tce_iommu_unmap+0x168/0x190 [kvm]",
          function: "kvmppc_tce_iommu_unmap+0x168/0x190 [kvm]",
          trace: ["kvmppc_tce_iommu_unmap+0xb4/0x190 [kvm]", "kvmppc_h_stuff_tce+0x140/0x34c [kvm]", "kvmppc_pseries_do_hcall+0x111c/0x1d08 [kvm_hv]"],
          // What followed at QEMU's exit is named with it.
          also: ["WARNING: CPU: 0 PID: 160 at drivers/vfio/vfio_iommu_spapr_tce.c:371 tce_iommu_release+0x180/0x224 [vfio_iommu_spapr_tce]"],
        },
      },
    });
    // What the guest had printed by then: the copies before the WARN, the host step's report among them.
    expect((warned as { warning: { before: string } }).warning.before).toBe(`TCESPEC-BEGIN\n${"0".repeat(24)}80000000\nTCESPEC-HOST\nTCESPEC-ACT 1 plugged d0 0\n${"0".repeat(32)}\n`);
    // The guest's own output is the console's, the kernel log left out; the WARN is no crash.
    expect(warned).not.toHaveProperty("crash");
    expect((warned as { body: string }).body).not.toContain("WARNING");
    expect((warned as { warning: { placed: string } }).warning.placed).toBe("among");
    // A WARN before the guest's first line is placed at its start; with no copy of the guest's lines at all, nowhere.
    const first = console.replace("[   10.583055] tcespec: TCESPEC-BEGIN", "[   10.5] WARNING: CPU: 0 PID: 1 at virt/kvm/kvm_main.c:1 kvm_create_vm+0x1/0x2 [kvm]\n[   10.583055] tcespec: TCESPEC-BEGIN");
    expect(splitConsole(first, 1)[0]).toMatchObject({ warning: { placed: "start", report: { function: "kvm_create_vm+0x1/0x2 [kvm]" } } });
    const uncopied = console.replace(/\[[^\]\n]*\](\[[^\]\n]*\])? tcespec: [^\n]*\n/g, "");
    expect(splitConsole(uncopied, 1)[0]).toMatchObject({ warning: { placed: "unplaced" } });
    // A WARN before a crash, or before a guest that did not finish, is named with it.
    const crashed = console.replace("TCESPEC-END\nTCESPEC-QEMU-EXIT 0", "TCESPEC-QEMU-EXIT 134\nqemu-system-ppc64: hardware error: x");
    expect(splitConsole(crashed, 1)[0]).toMatchObject({ crash: { software: "QEMU", also: [expect.stringMatching(/^WARNING: .*kvmppc_tce_iommu_unmap/), expect.stringMatching(/tce_iommu_release/)] } });
    const killed = console.replace("TCESPEC-END\nTCESPEC-QEMU-EXIT 0", "TCESPEC-QEMU-EXIT 137");
    expect(splitConsole(killed, 1, { timeoutMs: 20_000 })[0]).toMatchObject({ error: expect.stringMatching(/^timed out after 20000 ms .*; the host kernel had warned: WARNING: .*kvmppc_tce_iommu_unmap/) });
    // A log without a WARN is not printed; a guest without one has no warning.
    const [quiet] = splitConsole(console.replace(/TCESPEC-KLOG 0[\s\S]*TCESPEC-KLOG-END 0\n/, ""), 1);
    expect(quiet).not.toHaveProperty("warning");
    expect(quiet).not.toHaveProperty("unsettled");
  });

  it("after a guest whose QEMU's memory khugepaged still held when its log was read, says `host … at exit` is unseen, not ok (a WARN of its teardown could come later)", () => {
    const quiet = `TCESPEC-RUN 0 1 1\nTCESPEC-BEGIN\nTCESPEC-END\nTCESPEC-QEMU-EXIT 0\nTCESPEC-DONE 0 0 2 1\n`;
    const [held] = splitConsole(quiet.replace("TCESPEC-DONE 0", "TCESPEC-UNSETTLED 0\nTCESPEC-DONE 0"), 1);
    expect(held).toMatchObject({ unsettled: UNSETTLED });
    expect(splitConsole(quiet, 1)[0]).not.toHaveProperty("unsettled");
    // Where the log held a WARN, it is the verdict whatever came later.
    expect(splitConsole(quiet.replace("TCESPEC-DONE 0", `TCESPEC-KLOG 0\n[   1.0] WARNING: CPU: 0 PID: 1 at mm/x.c:1 destroy_context+0x1/0x2\nTCESPEC-KLOG-END 0\nTCESPEC-UNSETTLED 0\nTCESPEC-DONE 0`), 1)[0]).not.toHaveProperty("unsettled");
    // The batch script says it where its wait for khugepaged ran out.
    expect(batchScript([{ elf: new Uint8Array(), args: ["-m", "512M"], hideCaps: [] }], 20_000)).toContain(`tcespec_settle || echo "TCESPEC-UNSETTLED 0"`);
    const spec = specOf("machine kvm\nphb phb0 index 0\nexpect get_tce phb0 0 == 0\nexpect host ok at exit");
    const plan = planFor(spec, "qemu-7.2", KVM_TRAITS) as GuestPlan;
    const output = readGuestOutput(`${"0".repeat(32)}\n`);
    const outcomes = (unsettled?: string) => {
      const result = judge(spec, "qemu-7.2", plan, output, "kvm", undefined, undefined, unsettled);
      return typeof result === "string" ? result : result.expectations.map((e) => `${e.outcome} ${e.actual}`);
    };
    expect(outcomes()).toEqual(["matched 0x0", "matched ok"]);
    expect(outcomes(UNSETTLED)).toEqual(["matched 0x0", `unseen unseen: ${UNSETTLED}`]);
  });

  it("a crash of L1's kernel during a host step is the crash, not the step's failure that follows from it", () => {
    const [crashed] = splitConsole(
      "TCESPEC-RUN 0 1 1\nTCESPEC-HOST\nBUG: Unable to handle kernel data access at 0x8\nNIP [c0080000] kvmppc_tce_put+0x5c/0xa0 [kvm]\nTCESPEC-ACT 1 failed: device_add: QEMU exited before it answered\nTCESPEC-QEMU-EXIT 139\nTCESPEC-DONE 0 0 2 1\n",
      1,
    );
    expect(crashed).toMatchObject({ crash: { software: "host kernel", report: "BUG: Unable to handle kernel data access at 0x8", function: "kvmppc_tce_put+0x5c/0xa0" } });
    expect(crashed).not.toHaveProperty("error");
  });

  it("a KASAN report (seen on Linux 6.12.95 built with --kasan) names the function that made the access, and a trace without the reporting machinery", async () => {
    const { kernelCrash } = await import("../../src/backends/real/console.js");
    const report = [
      "[   13.152511][   T82] ==================================================================",
      "[   13.154273][   T82] BUG: KASAN: slab-out-of-bounds in kvmppc_tce_put+0x64/0xf8",
      "[   13.155178][   T82] Read of size 8 at addr c0000000196f5d80 by task qemu-system-ppc/82",
      "[   13.156863][   T82] Call Trace:",
      "[   13.156915][   T82] [c00000000abf75b0] [c0000000018f080c] dump_stack_lvl+0x84/0xe8 (unreliable)",
      "[   13.157704][   T82] [c00000000abf75e0] [c00000000074ecc4] print_report+0x280/0x73c",
      "[   13.157814][   T82] [c00000000abf76c0] [c00000000074f388] kasan_report+0x11c/0x200",
      "[   13.157880][   T82] [c00000000abf77d0] [c000000000751448] __asan_load8+0xac/0xe0",
      "[   13.157966][   T82] [c00000000abf77f0] [c00000000018633c] kvmppc_tce_put+0x64/0xf8",
      "[   13.158035][   T82] [c00000000abf7840] [c000000000187a4c] kvmppc_h_stuff_tce+0x2f4/0x3e8",
      "[   13.158126][   T82] --- interrupt: 3000",
      "BUG: Unable to handle kernel data access at 0xd600180000010000",
      "NIP [c0000000007512d0] __asan_store8+0x60/0xe0",
    ].join("\n");
    expect(kernelCrash(report)).toEqual({
      software: "host kernel",
      report: "BUG: KASAN: slab-out-of-bounds in kvmppc_tce_put+0x64/0xf8",
      function: "kvmppc_tce_put+0x64/0xf8",
      trace: ["kvmppc_tce_put+0x64/0xf8", "kvmppc_h_stuff_tce+0x2f4/0x3e8"],
    });
  });

  it("a timeout carries what QEMU said before it", () => {
    const [slow] = splitConsole("TCESPEC-RUN 0 1 1\nTCESPEC-BEGIN\nqemu-system-ppc64: GLib: gmem.c:169: failed to allocate 4294967296 bytes\nKilled\nTCESPEC-DONE 0 137 2 1\n", 1, { timeoutMs: 20_000 });
    expect(slow).toEqual({ error: "timed out after 20000 ms (--timeout): the guest did not finish; QEMU said: qemu-system-ppc64: GLib: gmem.c:169: failed to allocate 4294967296 bytes" });
  });

  it("QEMU's hardware error is among its last words, and its abort a crash of QEMU", () => {
    const [stopped] = splitConsole(
      "TCESPEC-RUN 0 1 1\nTCESPEC-ACT 1 failed: device_add: QEMU exited before it answered\nqemu: hardware error: vfio_listener_region_del: Cannot delete missing window at 0\nCPU #0:\nTCESPEC-QEMU-EXIT 134\nTCESPEC-DONE 0 0 2 1\n",
      1,
    );
    expect(stopped).toMatchObject({ crash: { software: "QEMU", report: "qemu: hardware error: vfio_listener_region_del: Cannot delete missing window at 0 (SIGABRT)" } });
  });
});

describe("guest RAM on the real targets", () => {
  const ramArg = (plan: GuestPlan | { unsupported: string }) => ("args" in plan ? plan.args[plan.args.lastIndexOf("-m") + 1] : plan.unsupported);
  it("a guest gets the spec's RAM, and the model's default when it does not say", () => {
    expect(ramArg(planFor(specOf("machine kvm\nphb phb0 index 0\nput_tce phb0 0 0x3"), "qemu-7.2", KVM_TRAITS))).toBe("512M");
    expect(ramArg(planFor(specOf("machine kvm ram 1G\nphb phb0 index 0\nput_tce phb0 0 0x3"), "qemu-7.2", KVM_TRAITS))).toBe("1024M");
    expect(ramArg(planFor(specOf("machine tcg\nphb phb0 index 0\nput_tce phb0 0 0x3"), "qemu-7.2", TCG_TRAITS))).toBe("512M");
    expect(ramArg(planFor(specOf("machine kvm ram 4G\nphb phb0 index 0"), "qemu-7.2", KVM_TRAITS))).toMatch(/a guest here has 2048M at most/);
  });
  it("a DMA probe grows the RAM only where no answer depends on it", () => {
    const dma = "plug vfio d0 on phb0\nput_tce phb0 0x1000 0x3000_0003\nexpect dma d0 read 0x1000 == 0x3000_0000";
    expect(ramArg(planFor(specOf(`machine kvm\nphb phb0 index 0\n${dma}`), "qemu-7.2", KVM_TRAITS))).toBe("1024M");
    expect(ramArg(planFor(specOf(`machine kvm ram 512M\nphb phb0 index 0\n${dma}`), "qemu-7.2", KVM_TRAITS))).toMatch(/more than the spec's 512M \(ram 512M\)/);
    const listed = `machine kvm\nphb phb0 index 0\nput_tce_indirect phb0 0x8000 [0x2000_0000]\n${dma}`;
    expect(ramArg(planFor(specOf(listed), "qemu-7.2", KVM_TRAITS))).toMatch(/KVM's answer to the put_tce_indirect at line 3 depends on it/);
  });
});

describe("--kernel", () => {
  it("a version prefix ends at a component boundary", async () => {
    const { versionMatches } = await import("../../src/backends/kvm/image.js");
    expect(versionMatches("6.1.0-50-powerpc64le", "6.1")).toBe(true);
    expect(versionMatches("6.12.95+deb12-powerpc64le-64k", "6.1")).toBe(false);
    expect(versionMatches("6.12.95+deb12-powerpc64le-64k", "6.12")).toBe(true);
    expect(versionMatches("6.12.95+deb12-powerpc64le-64k", "6.12.95+deb12-powerpc64le-64k")).toBe(true);
  });
});

describe("QEMU's last words", () => {
  it("are its errors, hardware errors and the C library's heap reports, each from where it starts in its line", () => {
    const text = [
      "qemu-system-ppc64: warning: TCG doesn't support requested feature",
      "qemu-system-ppc64: vfio: failed to setup fd -1 for a group with fd 18: Bad file descriptor",
      "00000000000000000000qemu-system-ppc64: ../../softmmu/memory.c:1739: memory_region_finalize: Assertion `!mr->container' failed.",
      "000000000000",
      "spapr_iommu_new_table liobn=0x80000001 table=0x2 fd=-1",
      "",
    ].join("\n");
    expect(lastWords(text)).toBe(
      "qemu-system-ppc64: vfio: failed to setup fd -1 for a group with fd 18: Bad file descriptor | qemu-system-ppc64: ../../softmmu/memory.c:1739: memory_region_finalize: Assertion `!mr->container' failed.",
    );
    expect(lastWords("0000free(): invalid pointer\nqemu: hardware error: vfio: DMA mapping failed, unable to continue\n")).toBe(
      "free(): invalid pointer | qemu: hardware error: vfio: DMA mapping failed, unable to continue",
    );
    // A record of the kernel's or of PowerNV's firmware inside a line is not part of it.
    expect(
      lastWords(
        "qemu-system-ppc64: vfio: failed to setup fd -1 for a group with fd 17: Bad file descriptor\nqemu-sys[   36.203800211,3] PHB#0000[0:0]: Unexpected slot state 00000104\ntem-ppc64: ../../softmmu/memory.c:1739: memory_re[   36.203800] vfio-pci 0000:00:01.0: resetting\ngion_finalize: Assertion `!mr->container' failed.\nAborted\n",
      ),
    ).toBe("qemu-system-ppc64: vfio: failed to setup fd -1 for a group with fd 17: Bad file descriptor | qemu-system-ppc64: ../../softmmu/memory.c:1739: memory_region_finalize: Assertion `!mr->container' failed.");
    // GLib's failed assertion (g_assert), said twice: once.
    const glib = "ERROR:../../qom/object.c:1196:object_unref: assertion failed: (obj->ref > 0)";
    expect(lastWords(`qemu-system-ppc64: vfio: failed to setup fd -1 for a group with fd 18: Bad file descriptor\n**\n0000${glib}\nBail out! ${glib}\n`)).toBe(
      `qemu-system-ppc64: vfio: failed to setup fd -1 for a group with fd 18: Bad file descriptor | ${glib}`,
    );
  });
});

describe("each guest's time on L1's clock", () => {
  it("is read from the uptimes the batch prints at a guest's start and end, in the order guests ended", () => {
    const script = batchScript([{ elf: new Uint8Array(), args: [], hideCaps: [] }], 60_000);
    // The script prints them as this reader expects: the index, then (at the end) the exit status, then /proc/uptime.
    expect(script).toContain(`echo "${BATCH.run} 0 $(cat /proc/uptime)"`);
    expect(script).toMatch(new RegExp(`echo "${BATCH.done} 0 \\$rc \\$\\(cat /proc/uptime\\)"`));
    const text = `boot\r\n${BATCH.run} 0 3.47 0.00\r\nguest\r\n(qemu) ${BATCH.done} 0 0 5.00 0.15\r\n${BATCH.run} 1 5.00 0.15\n${BATCH.done} 1 137 12.25 1.00\n${BATCH.run} 2 12.30 1.00\n`;
    const seconds = guestSeconds(text);
    expect(seconds).toHaveLength(2);
    expect(seconds[0]).toBeCloseTo(1.53, 6);
    expect(seconds[1]).toBeCloseTo(7.25, 6);
  });
});
