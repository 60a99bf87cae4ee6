// A spec's `caps` made real: the capabilities it does not list are hidden from L1's QEMU by a
// small LD_PRELOAD library that answers 0 to KVM_CHECK_EXTENSION for them. The same library
// copies the guest's console into L1's kernel log as QEMU writes it (TCESPEC_KMSG), so that a WARN
// is logged among the guest's lines where it happened (real/console.ts, KMSG_COPY).
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Capability } from "../../engine/types.js";
import { cacheDir } from "../../cache.js";
import { KMSG_COPY } from "../real/console.js";

/** KVM_CAP_* numbers (include/uapi/linux/kvm.h). */
export const KVM_CAP: Record<Capability, number> = {
  spapr_tce: 63,
  multi_tce: 94,
  spapr_tce_64: 125,
  spapr_tce_vfio: 142,
};

/**
 * The capability numbers to hide so that QEMU sees exactly `caps`. QEMU 7.2 enables KVM's own
 * H_STUFF_TCE and H_PUT_TCE_INDIRECT whatever KVM_CAP_SPAPR_MULTITCE says (it reads that only
 * for the device tree), so with multi_tce hidden the shim also refuses to enable those two
 * hypercalls in the kernel, as a kernel without them would: they then reach QEMU.
 */
export function hiddenCaps(caps: readonly Capability[]): number[] {
  return (Object.keys(KVM_CAP) as Capability[]).filter((c) => !caps.includes(c)).map((c) => KVM_CAP[c]);
}

/**
 * The shim's C source. KVM_CHECK_EXTENSION is _IO(0xAE, 0x03); on powerpc _IO's direction bits
 * differ from x86's, so the number comes from the cross compiler's own <linux/kvm.h>.
 *
 * The console copy: QEMU writes what the guest prints (-serial stdio: fd 1) in the vCPU thread,
 * before the vCPU runs on. Each whole line goes to /dev/kmsg, prefixed, before write() returns:
 * a hypercall the guest makes after printing a line is logged after it, so a WARN inside that
 * call is too. (A copy made by the script that reads QEMU's output would lag behind the guest.)
 */
export const SHIM_SOURCE = `#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>
#include <linux/kvm.h>

static ssize_t (*real_write)(int, const void *, size_t);
static pthread_mutex_t copying = PTHREAD_MUTEX_INITIALIZER;
static int kmsg = -2;
static char pending[480];
static size_t used;

/* One line of the guest's, prefixed as real/console.ts reads it. */
static void copy_line(void) {
  char line[sizeof pending + 16];
  memcpy(line, "${KMSG_COPY}", ${KMSG_COPY.length});
  memcpy(line + ${KMSG_COPY.length}, pending, used);
  line[${KMSG_COPY.length} + used] = '\\n';
  real_write(kmsg, line, ${KMSG_COPY.length} + used + 1);
  used = 0;
}

static void copy_out(const char *buf, size_t n) {
  pthread_mutex_lock(&copying);
  if (kmsg == -2) kmsg = getenv("TCESPEC_KMSG") ? open("/dev/kmsg", O_WRONLY | O_CLOEXEC) : -1;
  for (size_t i = 0; kmsg >= 0 && i < n; i++) {
    if (buf[i] == '\\n') copy_line();
    else if (buf[i] != '\\r') {
      pending[used++] = buf[i];
      if (used == sizeof pending) copy_line();
    }
  }
  pthread_mutex_unlock(&copying);
}

ssize_t write(int fd, const void *buf, size_t n) {
  if (!real_write) real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
  ssize_t done = real_write(fd, buf, n);
  if (fd == 1 && done > 0) copy_out(buf, (size_t)done);
  return done;
}

ssize_t writev(int fd, const struct iovec *iov, int count) {
  static ssize_t (*real)(int, const struct iovec *, int);
  if (!real) real = (ssize_t (*)(int, const struct iovec *, int))dlsym(RTLD_NEXT, "writev");
  if (!real_write) real_write = (ssize_t (*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
  ssize_t done = real(fd, iov, count);
  size_t left = done > 0 ? (size_t)done : 0;
  for (int k = 0; fd == 1 && left > 0 && k < count; k++) {
    size_t n = iov[k].iov_len < left ? iov[k].iov_len : left;
    copy_out(iov[k].iov_base, n);
    left -= n;
  }
  return done;
}

static int hidden(long cap) {
  const char *list = getenv("TCESPEC_HIDE_CAPS");
  while (list && *list) {
    char *end;
    long n = strtol(list, &end, 10);
    if (end == list) return 0;
    if (n == cap) return 1;
    list = *end == ',' ? end + 1 : end;
  }
  return 0;
}

#define H_STUFF_TCE 0x138
#define H_PUT_TCE_INDIRECT 0x13c

int ioctl(int fd, unsigned long request, ...) {
  static int (*real)(int, unsigned long, ...);
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  if (!real) real = (int (*)(int, unsigned long, ...))dlsym(RTLD_NEXT, "ioctl");
  int debug = getenv("TCESPEC_SHIM_DEBUG") != NULL;
  /* QEMU passes the request as an int: an _IOW number arrives sign-extended. The kernel reads 32 bits. */
  unsigned int cmd = (unsigned int)request;
  if (cmd == KVM_CHECK_EXTENSION && hidden((long)arg)) {
    if (debug) fprintf(stderr, "tcespec-caps: hid capability %ld\\n", (long)arg);
    return 0;
  }
  if (cmd == KVM_ENABLE_CAP && debug) {
    const struct kvm_enable_cap *cap = arg;
    fprintf(stderr, "tcespec-caps: enable cap %u arg0 0x%llx\\n", cap->cap, (unsigned long long)cap->args[0]);
  }
  if (cmd == KVM_ENABLE_CAP && hidden(KVM_CAP_SPAPR_MULTITCE)) {
    const struct kvm_enable_cap *cap = arg;
    if (cap->cap == KVM_CAP_PPC_ENABLE_HCALL && (cap->args[0] == H_STUFF_TCE || cap->args[0] == H_PUT_TCE_INDIRECT)) {
      errno = EINVAL;
      return -1;
    }
  }
  return real(fd, request, arg);
}
`;

/**
 * The shim built for this host with its own C compiler (the kvm backend run directly on POWER),
 * cached by the source's hash; undefined when there is no compiler.
 */
export async function buildNativeShim(cacheRoot?: string): Promise<string | undefined> {
  const dir = cacheRoot ? join(cacheRoot, "native") : cacheDir("kvm", "native");
  const key = createHash("sha256").update(SHIM_SOURCE).digest("hex").slice(0, 12);
  const library = join(dir, `tcespec-caps-${key}.so`);
  if (existsSync(library)) return library;
  mkdirSync(dir, { recursive: true });
  const source = join(dir, `tcespec-caps-${key}.c`);
  writeFileSync(source, SHIM_SOURCE);
  try {
    await new Promise<void>((resolve, reject) =>
      execFile(process.env.CC ?? "cc", ["-O2", "-shared", "-fPIC", "-o", library, source, "-ldl"], (error) => (error ? reject(error) : resolve())),
    );
    return library;
  } catch {
    return undefined;
  } finally {
    rmSync(source, { force: true });
  }
}
