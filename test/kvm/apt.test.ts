// The private apt says what it is doing: apt-get's lists and downloads counted as they come (a cold
// update took minutes with nothing on the screen). apt-get here is a stand-in on PATH that prints
// what Debian's does, so the counts are checked, not the timing.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PrivateApt, SetupError } from "../../src/backends/kvm/apt.js";

const dir = mkdtempSync(join(tmpdir(), "tcespec-apt-"));
const path = process.env.PATH;

beforeAll(() => {
  const bin = join(dir, "bin");
  rmSync(bin, { recursive: true, force: true });
  mkdirSync(bin);
  const fake = [
    "#!/bin/sh",
    'for a in "$@"; do last="$a"; case "$a" in update) mode=update;; download) mode=download;; esac; done',
    'if [ "$mode" = update ] && [ -n "$TCESPEC_FAKE_APT_FAIL" ]; then echo "E: The repository is not signed." >&2; exit 100; fi',
    'if [ "$mode" = update ]; then',
    '  echo "Get:1 http://deb.debian.org/debian bookworm InRelease [151 kB]"',
    '  echo "Hit:2 http://deb.debian.org/debian bookworm-updates InRelease"',
    '  echo "Get:3 http://deb.debian.org/debian bookworm/main ppc64el Packages [8,788 kB]"',
    '  echo "Reading package lists..."',
    "fi",
    'if [ "$mode" = download ]; then for a in "$@"; do case "$a" in *=*) n=${a%%=*}; v=${a#*=}; echo "Get:1 http://deb.debian.org/debian bookworm/main ppc64el $n ppc64el $v [1,024 B]"; touch "${n}_$(echo "$v" | sed s/:/%3a/)_ppc64el.deb";; esac; done; fi',
  ].join("\n");
  writeFileSync(join(bin, "apt-get"), fake);
  chmodSync(join(bin, "apt-get"), 0o755);
  process.env.PATH = `${bin}:${path}`;
});
afterAll(() => {
  process.env.PATH = path;
  rmSync(dir, { recursive: true, force: true });
});

describe("the private apt's progress", () => {
  it("counts the lists apt-get update read and the bytes it fetched, and says when it is done", async () => {
    const said: string[] = [];
    await new PrivateApt(join(dir, "apt")).update((m) => said.push(m));
    expect(said.at(-1)).toBe("apt-get update: 3 lists read, 8.5 MiB fetched, done");
  });

  it("a failed update is an error in apt's words, not a progress line", async () => {
    process.env.TCESPEC_FAKE_APT_FAIL = "1";
    try {
      await expect(new PrivateApt(join(dir, "apt2")).update(() => {})).rejects.toThrow(SetupError);
      await expect(new PrivateApt(join(dir, "apt2")).update(() => {})).rejects.toThrow(/apt-get update failed: E: The repository is not signed\./);
    } finally {
      delete process.env.TCESPEC_FAKE_APT_FAIL;
    }
  });

  it("downloads each package it lacks, through the same streamed apt-get", async () => {
    const into = join(dir, "debs");
    const files = await new PrivateApt(join(dir, "apt")).download([{ name: "busybox-static", version: "1:1.35.0-4" }], into);
    expect(files).toEqual([join(into, "busybox-static_1%3a1.35.0-4_ppc64el.deb")]);
  });
});
