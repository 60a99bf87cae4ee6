// `tcespec kvm kernel build` on a stand-in Linux tree: its Makefile knows the targets tcespec
// asks for (the guest defconfig, olddefconfig, vmlinux, kernelversion, kernelrelease) and its
// scripts/config edits .config as the real one does. Everything around the compiler is real: the
// working tree, patches applied and undone, make's incremental rebuild, the configuration edits and
// their check, the cache keys, the manifests, the CLI.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildKernel, describeKernel, findKernel, L1_NEEDS, listKernels, removeKernel, type KernelBuild } from "../../src/backends/kvm/kernel.js";
import { main } from "../../src/cli.js";
import { found } from "../../src/build/source.js";

let dir: string;
let tree: string;
let root: string;

// The guest defconfig: what L1 needs, built in, and two drivers as modules (which tcespec turns off).
const DEFCONFIG = [...L1_NEEDS.map((s) => `CONFIG_${s}=y`), "CONFIG_MODULES=y", "CONFIG_TORTURE_TEST=m", "CONFIG_ZRAM=m", 'CONFIG_LOCALVERSION=""', "CONFIG_LOCALVERSION_AUTO=y", ""].join("\n");

// olddefconfig drops CONFIG_VFIO_PCI when the tree has a file saying so (a Kconfig that cannot have it).
const MAKEFILE = `O ?= .
.PHONY: ppc64le_guest_defconfig olddefconfig vmlinux kernelversion kernelrelease mrproper
ppc64le_guest_defconfig:
\tcp arch/powerpc/configs/guest $(O)/.config
olddefconfig:
\tif [ -e drops-vfio-pci ]; then sed -i '/^CONFIG_VFIO_PCI=/d' $(O)/.config; fi
vmlinux: $(O)/vmlinux
$(O)/vmlinux: kernel/tce.c $(O)/.config
\tif [ -e drops-vfio-pci ]; then sed -i '/^CONFIG_VFIO_PCI=/d' $(O)/.config; fi
\t@echo "  CC      kernel/tce.o"
\tcat kernel/tce.c > $@
\techo built >> $(O)/rebuilds.log
kernelversion:
\t@echo 6.12.95
kernelrelease:
\t@echo 6.12.95$$(sed -n 's/^CONFIG_LOCALVERSION="\\(.*\\)"/\\1/p' $(O)/.config)
mrproper:
\trm -f .config
`;

// scripts/config as the real one edits: --disable writes "# CONFIG_X is not set", --enable X=y, --set-str.
const SCRIPTS_CONFIG = `#!/bin/sh
[ "$1" = --file ] || exit 2
file=$2; shift 2
while [ $# -gt 0 ]; do
  case $1 in
    --disable) sed -i "/^CONFIG_$2=/d;/^# CONFIG_$2 is not set/d" "$file"; echo "# CONFIG_$2 is not set" >> "$file"; shift 2;;
    --enable) sed -i "/^CONFIG_$2=/d;/^# CONFIG_$2 is not set/d" "$file"; echo "CONFIG_$2=y" >> "$file"; shift 2;;
    --set-str) sed -i "/^CONFIG_$2=/d" "$file"; echo "CONFIG_$2=\\"$3\\"" >> "$file"; shift 3;;
    *) exit 2;;
  esac
done
`;

function patch(name: string, from: string, to: string): string {
  const path = join(dir, name);
  writeFileSync(path, `powerpc/iommu: a fix\n\n--- a/kernel/tce.c\n+++ b/kernel/tce.c\n@@ -1,2 +1,2 @@\n check ioba\n-${from}\n+${to}\n`);
  return path;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "tcespec-kernel-"));
  tree = join(dir, "linux");
  root = join(dir, "cache");
  for (const d of ["arch/powerpc/configs", "scripts", "kernel"]) mkdirSync(join(tree, d), { recursive: true });
  writeFileSync(join(tree, "Makefile"), MAKEFILE);
  writeFileSync(join(tree, "arch/powerpc/configs/guest"), DEFCONFIG);
  writeFileSync(join(tree, "scripts/config"), SCRIPTS_CONFIG);
  chmodSync(join(tree, "scripts/config"), 0o755);
  writeFileSync(join(tree, "kernel/tce.c"), "check ioba\nfirst entry only\n");
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const build = (name: string, patches: string[], kasan = false) => buildKernel({ name, source: { dir: tree }, patches, kasan, root, checkTools: false });
const vmlinuxOf = (b: KernelBuild) => readFileSync(b.vmlinux, "utf8");

describe.runIf(found("make"))("building a kernel tree with patches", () => {
  it("builds the tree, then with a patch, then finds the first again in the cache", async () => {
    const stock = await build("stock", []);
    expect(stock.cached).toBe(false);
    expect(vmlinuxOf(stock.build)).toBe("check ioba\nfirst entry only\n");
    expect(stock.build.manifest).toMatchObject({ name: "stock", base: "6.12.95", release: "6.12.95-tcespec", kasan: false, patches: [], source: { dir: tree } });

    const fixed = await build("fixed", [patch("fix.patch", "first entry only", "every entry")]);
    expect(vmlinuxOf(fixed.build)).toBe("check ioba\nevery entry\n");
    expect(fixed.build.manifest.patches).toEqual([{ name: "fix.patch", path: join(dir, "fix.patch"), sha256: expect.stringMatching(/^[0-9a-f]{64}$/) }]);
    expect(fixed.build.vmlinux).not.toBe(stock.build.vmlinux);

    const again = await build("stock-again", []);
    expect(again.cached).toBe(true);
    expect(again.build.vmlinux).toBe(stock.build.vmlinux);
    expect(vmlinuxOf(findKernel("stock", root) as KernelBuild)).toBe("check ioba\nfirst entry only\n");
  });

  it("configures no modules, what L1 needs built in, and a release that says tcespec built it", () => {
    const config = readFileSync((findKernel("stock", root) as KernelBuild).config, "utf8");
    expect(config).not.toMatch(/=m$/m);
    expect(config).toMatch(/^# CONFIG_MODULES is not set$/m);
    expect(config).toMatch(/^# CONFIG_TORTURE_TEST is not set$/m);
    for (const need of L1_NEEDS) expect(config).toMatch(new RegExp(`^CONFIG_${need}=y$`, "m"));
    expect(config).toMatch(/^# CONFIG_KASAN is not set$/m);
  });

  it("a name built again from a changed tree names the new build, and its last one, named by nothing now, goes", async () => {
    const first = (await build("moving", [patch("moving.patch", "first entry only", "moved once")])).build.vmlinux;
    const second = (await build("moving", [patch("moving2.patch", "first entry only", "moved twice")])).build.vmlinux;
    expect(vmlinuxOf(findKernel("moving", root) as KernelBuild)).toBe("check ioba\nmoved twice\n");
    expect(existsSync(first)).toBe(false);
    expect(existsSync(second)).toBe(true);
    expect(removeKernel("moving", root)).toBe(true);
  });

  it("a KASAN build is another configuration: its own output directory and artifact, the plain one kept", async () => {
    const kasan = await build("stock-kasan", [], true);
    expect(kasan.cached).toBe(false);
    expect(kasan.build.manifest.kasan).toBe(true);
    expect(readFileSync(kasan.build.config, "utf8")).toMatch(/^CONFIG_KASAN=y$/m);
    expect(kasan.build.vmlinux).not.toBe((findKernel("stock", root) as KernelBuild).vmlinux);
    expect(describeKernel(kasan.build.manifest)).toMatch(/^tcespec kernel 'stock-kasan': Linux 6\.12\.95 from .*linux.*, no patches, KASAN$/);
    expect((await build("stock", [])).cached).toBe(true);
  });

  it("says which of what L1 needs the tree's Kconfig dropped", async () => {
    writeFileSync(join(tree, "drops-vfio-pci"), "");
    try {
      await expect(build("no-vfio-pci", [patch("other.patch", "first entry only", "other")])).rejects.toThrow(/has no CONFIG_VFIO_PCI after make vmlinux/);
    } finally {
      rmSync(join(tree, "drops-vfio-pci"));
    }
  });

  it("refuses a patch that does not apply, naming it", async () => {
    await expect(build("broken", [patch("broken.patch", "no such line", "x")])).rejects.toThrow(/broken\.patch does not apply/);
  });

  it("names a build with a letter first, since --kernel also takes Debian versions", async () => {
    await expect(build("6.12-mine", [])).rejects.toThrow(/starts with a letter/);
  });

  it("lists kernel builds and removes one, keeping an artifact another names", () => {
    expect(listKernels(root).map((k) => ("manifest" in k ? k.manifest.name : k.dir))).toEqual(["fixed", "stock", "stock-again", "stock-kasan"]);
    const shared = (findKernel("stock", root) as KernelBuild).vmlinux;
    expect(removeKernel("stock", root)).toBe(true);
    expect(existsSync(shared)).toBe(true);
    expect(removeKernel("stock-again", root)).toBe(true);
    expect(existsSync(shared)).toBe(false);
    expect(removeKernel("stock", root)).toBe(false);
    expect(findKernel("stock", root)).toEqual({ problem: expect.stringMatching(/no kernel build named 'stock' \(builds: fixed, stock-kasan;/) });
  });
});

describe("the kernel build commands", () => {
  const cli = async (...argv: string[]) => {
    let out = "";
    let err = "";
    const code = await main(argv, (t) => (out += t), (t) => (err += t));
    return { code, out, err };
  };

  it("refuses a build without a source, with two, or of a kernel family tcespec does not build", async () => {
    expect(await cli("kvm", "kernel", "build", "x")).toMatchObject({ code: 2, err: expect.stringMatching(/--debian VERSION or --source DIR/) });
    expect(await cli("kvm", "kernel", "build", "x", "--debian", "6.12", "--source", ".")).toMatchObject({ code: 2 });
    expect(await cli("kvm", "kernel", "build", "x", "--debian", "5.10")).toMatchObject({ code: 2, err: expect.stringMatching(/--debian takes a kernel version tcespec builds \(6\.12\)/) });
    expect(await cli("kvm", "kernel", "make", "x")).toMatchObject({ code: 2, err: expect.stringMatching(/kvm kernel takes 'build NAME' or 'rm NAME'/) });
  });

  it("refuses a source that is not a Linux tree", async () => {
    expect(await cli("kvm", "kernel", "build", "x", "--source", "specs")).toMatchObject({ code: 2, err: expect.stringMatching(/specs is not a Linux source tree/) });
  });

  it("says in one line that a kernel named on run does not exist, and takes a Debian version as before", async () => {
    const result = await cli("run", "specs/hcalls/indirect.tce", "--backend", "kvm", "--kernel", "no-such-kernel");
    expect(result.code).toBe(2);
    expect(result.err).toMatch(/^tcespec: no kernel build named 'no-such-kernel'/);
    expect(result.err.trim().split("\n")).toHaveLength(1);
    expect(await cli("kvm", "info", "--kernel", "no-such-kernel")).toMatchObject({ code: 2, err: expect.stringMatching(/no kernel build named 'no-such-kernel'/) });
  });
});
