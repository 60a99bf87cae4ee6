// The host whose KVM and IOMMU run the machine: what differs between a pseries host (Linux as a
// guest of a hypervisor, KVM-HV nested: the kvm backend's default L1) and a PowerNV one (Linux on
// bare metal, as POWER servers run KVM: OPAL, PHB4, IODA2). Only the hardware table's side
// differs; the hypercalls are the kernel's (kvm.ts). Seen with Linux 6.12.95 on both hosts
// (--kvm-host), read in its source (docs/hosts.md).
import type { HostName } from "../profile-names.js";
export { HOST_NAMES, isHostName, type HostName } from "../profile-names.js";

export interface Host {
  readonly id: HostName;
  readonly name: string;
  /** What it stands for, as docs/language.md's table of hosts says it (generated from here). */
  readonly summary: string;
  /**
   * A hardware entry that grants write grants read too, whoever maps it: PowerNV's table code
   * (pnv_tce_build, pnv_tce_xchg) adds read to every write. On pseries only QEMU's vfio maps do
   * (vfio_dma_map); KVM's own keep the TCE's direction (tce_exchange_pseries).
   */
  readonly writeAddsRead: boolean;
  /**
   * KVM's exchange of a hardware entry past the window's end fails: on pseries the hypervisor
   * answers H_PARAMETER, KVM WARNs and hands the call to QEMU. On PowerNV nothing bounds a
   * one-level table's index: the entry past the end is written (out of the table) and the call
   * succeeds, with no WARN.
   */
  readonly pastEndFails: boolean;
  /**
   * Each vfio-pci device on a guest PHB is an IOMMU group of its own, and the groups share QEMU's
   * container (PowerNV programs any table it is given: set_window). A group that leaves while
   * another stays clears the container's tables, which the others still use
   * (tce_iommu_release_ownership, since "vfio/spapr: Always clear TCEs before unsetting the
   * window"): the devices left have an empty hardware table, QEMU's view unchanged. On pseries the
   * kvm backend gives a PHB's devices one group (a second group could not share the container).
   */
  readonly groupPerDevice: boolean;
  /**
   * A vfio-pci device's DMA at an IOBA past every window lands in the hardware table all the same:
   * the PHB picks the table by the IOBA's bit 59 (its TVE select: the default window's, or a 64-bit
   * window's at 2^59) and takes the entry's index modulo the table's size (QEMU's PHB4 masks the
   * index by the table's size, and checks no range). For a one-level table (2^21 entries at most,
   * as QEMU's vfio asks for one): the index modulo the window's entries. Seen on the PowerNV host:
   * reads at 1 GiB + 0x1000 and 2 GiB + 0x2000 of a 1 GiB default window landed at the pages of
   * IOBA 0x1000 and 0x2000 (specs/devices/vfio-dma.tce). On pseries such a DMA faults.
   */
  readonly dmaPastEndWraps: boolean;
}

export const PSERIES_HOST: Host = {
  id: "pseries",
  name: "pseries (KVM-HV nested)",
  summary:
    "Linux as a pseries guest running KVM-HV nested (the kvm backend's default L1): a PHB's vfio-pci devices are one IOMMU group; KVM's hardware maps keep a TCE's direction; an entry past a window's end fails in the hypervisor (KVM WARNs, QEMU answers)",
  writeAddsRead: false,
  pastEndFails: true,
  groupPerDevice: false,
  dmaPastEndWraps: false,
};

export const POWERNV_HOST: Host = {
  id: "powernv",
  name: "PowerNV (KVM-HV on bare metal)",
  summary:
    "Linux on a bare-metal POWER9 (OPAL, PHB4, IODA2), as POWER servers run KVM (--kvm-host powernv): each vfio-pci device is an IOMMU group of its own, sharing QEMU's container, and one leaving clears the tables the others use; write grants read in the hardware table; an entry past a window's end is written, silently; a vfio-pci device's DMA past a window's end wraps round into it",
  writeAddsRead: true,
  pastEndFails: false,
  groupPerDevice: true,
  dmaPastEndWraps: true,
};

export const HOSTS: Record<HostName, Host> = { pseries: PSERIES_HOST, powernv: POWERNV_HOST };
