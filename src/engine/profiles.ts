// The four QEMU behaviours the engine plays. A profile is data plus a few decisions;
// the engine asks them at the points where QEMU versions differ, and nowhere else.
import type { Capability, ProfileName } from "./types.js";
import type { TceTable } from "./table.js";
import { KVM_LINUX_4, KVM_LINUX_6, type KvmRules } from "./kvm.js";

export interface PlacementContext {
  table: TceTable;
  phbHasVfio: boolean;
  caps: ReadonlySet<Capability>;
}

export interface Profile {
  name: ProfileName;
  /** What it stands for, as docs/language.md's table of profiles says it (generated from here). */
  summary: string;
  /** DDW page shifts the PHB accepts (the PHB's page_size_mask). */
  ddwPageShifts: readonly number[];
  /** spapr_tce_alloc_table: may this table be created in KVM now (all other limits aside)? */
  mayLiveInKvm(context: PlacementContext): boolean;
  /** On the first vfio-pci hotplug onto a PHB: move every table of the PHB to userspace and replay. */
  reallocOnHotplug: boolean;
  /** spapr_tce_set_need_vfio: when vfio's notifier is first registered, a KVM table is reallocated. */
  reallocOnNotifier(context: PlacementContext): boolean;
  /**
   * vfio's listener registers its notifier on the table (and replays it). QEMU 7.2 first hands KVM
   * the table's fd when the host has spapr_tce_vfio; a table in userspace has none (-1), the ioctl
   * fails ("vfio: failed to setup fd -1"), and the listener returns before registering: the
   * hardware window stays empty (seen on the kvm backend, without spapr_tce and for a window KVM
   * cannot hold).
   */
  vfioListens(context: PlacementContext): boolean;
  /** KVM keeps the hardware table in step itself (KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE). */
  kvmUpdatesHardware(caps: ReadonlySet<Capability>): boolean;
  /** The in-kernel TCE hypercalls of the kernel this QEMU ran on. */
  kvm: KvmRules;
  /**
   * KVM capabilities this QEMU never asks for (it predates them, or has them wired off): a host
   * that has them behaves, for this QEMU, as one without. A real QEMU standing for the profile (a
   * build with the fix reverted) runs with them hidden from it, as this QEMU never saw them.
   */
  predates: readonly Capability[];
  /** Which real software has answered the library as this profile says, and how (the matrix prints it); none: the model alone. */
  confirmedBy?: string;
}

const BASE_PAGE_SHIFTS = [12, 16, 24];

// QEMU 7.2: as 2.7, but with the host's spapr_tce_vfio the table stays in KVM and KVM programs
// the hardware table itself. The PHB also offers 2M pages.
const QEMU_7_2: Profile = {
  name: "qemu-7.2",
  summary:
    "as 2.7, but a host with `spapr_tce_vfio` keeps the table in KVM and KVM feeds the hardware table itself; 2M DDW pages. Its KVM rules are today's kernels' (seen on Linux 6.12 and 6.1): the range of a stuff or list is checked on its first entry only, and an unaligned TCE is handed to QEMU.",
  ddwPageShifts: [12, 16, 21, 24],
  mayLiveInKvm: ({ table, caps }) => !table.notifier || caps.has("spapr_tce_vfio"),
  reallocOnHotplug: false,
  reallocOnNotifier: ({ caps }) => !caps.has("spapr_tce_vfio"),
  vfioListens: ({ table, caps }) => !caps.has("spapr_tce_vfio") || table.placement === "kvm",
  kvmUpdatesHardware: (caps) => caps.has("spapr_tce_vfio"),
  // Seen on Linux 6.12 KVM-HV (the kvm backend): today's kernels, not 4.x's.
  kvm: KVM_LINUX_6,
  predates: [],
  confirmedBy:
    "Debian's QEMU 7.2.22 under TCG (--backend model,qemu) and in L1 on Linux 6.12 KVM-HV with real vfio-pci devices (--backend model,kvm): the whole library, 0 disagreements",
};

export const PROFILES: Record<ProfileName, Profile> = {
  // Before the fix: nothing moves; KVM answers later puts and the hardware table misses them.
  "pre-fix": {
    name: "pre-fix",
    summary:
      "QEMU before the seed's fix: hotplugging the first vfio-pci device moves nothing. The plug replays what the table holds then into the hardware table; after it, KVM answers the guest's puts and QEMU never sees them, so the hardware table misses every mapping made in KVM after the plug — the bug tcespec was written for.",
    ddwPageShifts: BASE_PAGE_SHIFTS,
    mayLiveInKvm: () => true,
    reallocOnHotplug: false,
    reallocOnNotifier: () => false,
    vfioListens: () => true,
    kvmUpdatesHardware: () => false,
    kvm: KVM_LINUX_4,
    predates: ["spapr_tce_vfio"],
    // What it confirms is the placement and notifier rules; its kernel is 6.12, whose KVM answered
    // every hypercall of specs/hotplug as the model's Linux 4.x rules do.
    confirmedBy:
      "QEMU 7.2.22 built from Debian's source with the seed's fix reverted (mutants/revert-realloc.patch, tcespec qemu build), in L1 on Linux 6.12 KVM-HV with real vfio-pci devices: specs/hotplug, 0 disagreements (placement, get_tce, the stale hardware table seen by DMA and by hw())",
  },
  // The seed's patch (spapr_tce_realloc_userspace from spapr_phb_hotplug_dma_sync): on the first
  // vfio-pci hotplug every table of the PHB moves to userspace. The model also allocates a table
  // enabled later on such a PHB (a new DDW window, the default window after reset) in userspace.
  "seed-v10": {
    name: "seed-v10",
    summary:
      "the seed's patch: the first vfio-pci hotplug moves every table of the PHB to userspace and replays its entries into the hardware table.",
    ddwPageShifts: BASE_PAGE_SHIFTS,
    mayLiveInKvm: ({ phbHasVfio }) => !phbHasVfio,
    reallocOnHotplug: true,
    reallocOnNotifier: () => false,
    vfioListens: () => true,
    kvmUpdatesHardware: () => false,
    kvm: KVM_LINUX_4,
    predates: ["spapr_tce_vfio"],
  },
  // QEMU 2.7: need_vfio; cap_spapr_vfio was hard-wired off, so vfio always means userspace.
  "qemu-2.7": {
    name: "qemu-2.7",
    summary:
      "upstream's fix: when vfio registers its notifier on a table that KVM holds, the table moves to userspace (`need_vfio`).",
    ddwPageShifts: BASE_PAGE_SHIFTS,
    mayLiveInKvm: ({ table }) => !table.notifier,
    reallocOnHotplug: false,
    reallocOnNotifier: () => true,
    vfioListens: () => true,
    kvmUpdatesHardware: () => false,
    kvm: KVM_LINUX_4,
    predates: ["spapr_tce_vfio"],
  },
  "qemu-7.2": QEMU_7_2,
  // QEMU 10.0: what 7.2 does. From 7.2.0 to 10.0 spapr_rtas_ddw.c is unchanged, spapr_iommu.c and
  // the TCE parts of target/ppc/kvm.c change only in form, and hw/vfio/spapr.c is refactored with
  // one behaviour change the model does not see (a failed KVM_DEV_VFIO_GROUP_SET_SPAPR_TCE refuses
  // the device_add instead of leaving its window unmapped: seen, the kvm backend reports QEMU's
  // refusal as an error); 10.0.2 (Debian's bookworm-backports build,
  // --qemu-version 10.0) answers the whole library as 7.2 does.
  "qemu-10.0": {
    ...QEMU_7_2,
    name: "qemu-10.0",
    summary:
      "what QEMU 10.0.2 does: the same as 7.2 in everything the library checks (run on the real binary).",
    confirmedBy:
      "Debian's QEMU 10.0.2 (bookworm-backports) under TCG (--qemu-version 10.0) and in L1 on Linux 6.12 KVM-HV: the library, 0 disagreements",
  },
};

export { PROFILE_NAMES } from "../profile-names.js";
