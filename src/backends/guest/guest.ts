// A spec's hypercalls and RTAS calls as a bare-metal guest program. The guest makes each call
// and prints what came back as a line of 32 hex digits (two registers); the host reads the lines.
import { buidOf, HCALL, RTAS_TOKENS } from "../../papr.js";
import { BEGIN_MARKER, END_MARKER, HOST_STEP, MARK } from "../real/console.js";
import { elf64 } from "./elf.js";
import { loadImmediate, ppc, SPR } from "./ppc.js";

const VTY_UNIT = 0x7100; // the default vty's unit address 0x71000000, as `lis`
/**
 * Where the guest notes the step to go on from after a machine reset: guest RAM outside the
 * image (which the reset loads again), below the firmware's and the device tree's areas, and
 * inside the smallest guest a spec can ask for (256M: at 384M, where it was, a guest of 256M
 * lost its note at every reset and started over, for ever; `tcespec explore` found it).
 */
export const RESUME_ADDR = 0x0c00_0000n;
const RESUME_MAGIC = 0x7ce5_0000_5e5e_0001n;

export type GuestCall =
  | {
      kind: "hcall";
      opcode: bigint;
      args: readonly bigint[];
      list?: { tces: readonly bigint[]; offsetInPage: bigint };
      /** Keep the value this call returns (r4) for a later call. */
      saveValue?: boolean;
      /** Pass the kept value as this argument instead of args[i] (restoring an entry). */
      savedAsArg?: number;
    }
  | { kind: "rtas"; token: bigint; args: readonly bigint[]; nret: number }
  /** No call: the guest prints the mark, and the host records what it sees at that point. */
  | { kind: "mark" }
  /**
   * The host acts at this point. `reset`: the guest notes where to go on, prints the step and
   * stops; after the reset it starts again and jumps there. `migrate`: the guest prints the step
   * and waits for a character on its console, which the host sends once the machine (the
   * source, or the destination) may go on.
   */
  | {
      kind: "host";
      action: "reset" | "migrate" | "unplug";
      /** The device an unplug removes. */
      device?: string;
      /**
       * Devices to configure again once the guest goes on: after a reset every device's config
       * space is at its reset values; after a migration an emulated edu's is too, as QEMU's edu
       * has no migration state (no vmsd).
       */
      reconfigure?: readonly EduDevice[];
    }
  /**
   * Hotplug an emulated device (QEMU's edu) at this slot of this PHB: the host adds it and
   * releases the guest, which then assigns its BAR and enables memory and bus mastering through
   * RTAS config-space writes (there is no firmware to do it).
   */
  | { kind: "plug"; device: EduDevice }
  /** The device makes a one-byte DMA at the IOBA (read: memory to device; write: device to memory); the guest waits for it. */
  | { kind: "dma"; device: EduDevice; access: "read" | "write"; ioba: bigint }
  /**
   * A passed-through device's DMA, seen in guest memory: its translation happens in the host's
   * IOMMU, where no trace reaches. The candidates are the addresses the DMA may land at (each TCE
   * the spec writes, at the IOBA's offset in its page); the scratch entry, put for the probe and
   * restored after it, carries the device's buffer to and from the guest's scratch page. Prints
   * one result line (see VFIO_PROBE). Consecutive probes of one batch (one step's, on one device
   * and scratch entry) share the scratch entry's put, the preload and the write-back.
   */
  | {
      kind: "vfio-dma";
      device: EduDevice;
      access: "read" | "write";
      ioba: bigint;
      scratch: { liobn: bigint; ioba: bigint };
      candidates: readonly bigint[];
      batch: number;
    }
  /**
   * The probes' scratch entry (the guest's scratch page, read-write), put before a PHB's first
   * vfio-pci plug so that QEMU's replay of the table carries it into the hardware table, even
   * where later puts never reach it (the bug the seed fixes). Filled in once the spec is planned;
   * `used` false where no probe needs it (then it is no call at all).
   */
  | { kind: "scratch"; scratch: { liobn: bigint; ioba: bigint }; used: boolean };

/**
 * The bytes a batch of vfio-pci DMA probes writes. The buffer's check byte (byte 0) and one byte
 * per read are loaded with `preload` from the scratch page. Read (memory to device): candidate k
 * holds `tag + k`; the DMA brings the IOBA's byte to the read's own byte of the buffer. Then one
 * write-back over `sentinel` returns them all, and the guest prints each read's byte and 0.
 * Write (device to memory): the candidates hold `fill`; the device writes its check byte at the
 * IOBA, and the guest prints the mask of the candidates that no longer hold the fill, and the
 * check byte as the write-back brought it (`preload` where the scratch entry worked). A check
 * byte the scratch entry could not load keeps what an earlier preload left there (0 or
 * `preload`: never the fill), so the write is seen without the scratch entry.
 */
export const VFIO_PROBE = { preload: 0xc3, sentinel: 0x3c, fill: 0xa5, tag: 0x40, maxCandidates: 64 } as const;

/** Where an edu device sits: its PHB, its slot, and so its config address and its registers. */
export interface EduDevice {
  name: string;
  phbIndex: number;
  slot: number;
  /** A vfio-pci device (the host's edu, passed through): the guest leaves its config space alone. */
  vfio?: boolean;
  /** Which of the host's devices (from 1) it is, where the target names its devices' IOMMU groups (traits' vfioGroups). */
  host?: number;
  /** How long its DMA takes, in ms of its QEMU's clock, where not edu's own 100 ms (traits' vfioDmaMs). */
  dmaMs?: number;
}

/** edu: BAR0 is 1 MiB of registers; DMA source, destination, count and command; its buffer at 0x40000. */
const EDU_BAR_SIZE = 0x10_0000n;
const EDU_DMA_SRC = 0x80n;
const EDU_DMA_DST = 0x88n;
const EDU_DMA_COUNT = 0x90n;
const EDU_DMA_CMD = 0x98n;
const EDU_BUFFER = 0x40000n;
/** The guest's timebase: 512 MHz. */
const TICKS_PER_MS = 512_000n;
/**
 * An edu DMA ends 100 ms (of its QEMU's virtual clock, which the guest's timebase follows) after
 * its start: the guest gives the processor up that long before it looks. Looking from 1 ms on,
 * twice as long each time, it saw the end 127 ms after the start.
 */
const EDU_DMA_DELAY = 100n * TICKS_PER_MS;
/** sPAPR PHB i's 32-bit MMIO window: CPU address 2^45 + (i + 1) · 2 GiB shows PCI bus address 2 GiB. */
const MMIO32_BUS = 0x8000_0000n;
const mmio32Cpu = (phbIndex: number) => (1n << 45n) + BigInt(phbIndex + 1) * 0x8000_0000n;
export const eduBar = (device: EduDevice) => MMIO32_BUS + BigInt(device.slot) * EDU_BAR_SIZE;
const eduRegisters = (device: EduDevice) => mmio32Cpu(device.phbIndex) + BigInt(device.slot) * EDU_BAR_SIZE;

type ProbeCall = Extract<GuestCall, { kind: "vfio-dma" }>;

/** Result lines a call prints: one per two returned values (a mark's line is not a result). */
export function linesOf(call: GuestCall): number {
  if (call.kind === "scratch") return call.used ? 1 : 0;
  return call.kind === "hcall" || call.kind === "vfio-dma" ? 1 : call.kind === "rtas" ? Math.ceil(call.nret / 2) : 0;
}

const R_BASE = 30; // runtime address of BASE_LABEL: the program is position independent
const R_TMP = 29;
const R_HEX = 12;
const R_RTAS = 22;
const R_SAVED = 25;
const R_RESUME = 24;
const BASE_LABEL = 4;
/**
 * How long a wait gives the processor up between two looks (at the console for the host's
 * character, at the device for the end of its DMA), in the 512 MHz timebase: 1 ms at first,
 * twice as long each time round, 64 ms at most. A guest that looked without pause kept L1's one
 * processor busy with its exits while L1's QEMU plugged a device, and L1 never idle (L0's -icount
 * sleep=off skips only idle time); one that looked every 5 ms still cost a PowerNV L1 an exit
 * (a world switch in emulated code) hundreds of times in a slot reset's sleep.
 */
const WAIT_FIRST = TICKS_PER_MS;
const WAIT_LONGEST = 64n * TICKS_PER_MS;
/** The current wait (non-volatile: hypercalls keep it). */
const R_WAIT = 28;
/** MSR[EE]: external and decrementer interrupts enabled. H_CEDE sets it; the guest clears it again. */
const MSR_EE = 0x8000;

/**
 * The interrupts a wait (H_CEDE, MSR[EE] set) can take, at their real addresses: the
 * decrementer's puts the decrementer seconds away and returns; an external interrupt's returns
 * with MSR[EE] clear, leaving it pending (the wait then ends at once: it spins, as before).
 * r3 is kept in SPRG0 meanwhile.
 */
const VECTORS: readonly { at: number; code: readonly number[] }[] = [
  { at: 0x500, code: [ppc.mtspr(SPR.SPRG0, 3), ppc.mfspr(3, SPR.SRR1), ppc.ori(3, 3, MSR_EE), ppc.xori(3, 3, MSR_EE), ppc.mtspr(SPR.SRR1, 3), ppc.mfspr(3, SPR.SPRG0), ppc.rfid()] },
  { at: 0x900, code: [ppc.mtspr(SPR.SPRG0, 3), ppc.lis(3, 0x7fff), ppc.mtspr(SPR.DEC, 3), ppc.mfspr(3, SPR.SPRG0), ppc.rfid()] },
];
const HEX_DIGITS = "0123456789abcdef";
const MAX_LIST = 512; // QEMU never reads past 512 entries: it refuses the call first

function textRegister(text: string): bigint {
  const bytes = Buffer.alloc(8);
  bytes.write(text.slice(0, 8), "latin1");
  return bytes.readBigUInt64BE(0);
}

class Assembler {
  readonly words: number[] = [];
  get here(): number {
    return this.words.length * 4;
  }
  emit(...words: number[]): void {
    this.words.push(...words);
  }
  /** reg = value: one `li` where it fits, five instructions otherwise. */
  load(reg: number, value: bigint): void {
    if (value >= 0n && value < 0x8000n) this.emit(ppc.li(reg, Number(value)));
    else this.emit(...loadImmediate(reg, value));
  }
  /** A hypercall's opcode in r3 and its arguments from r4 on; the caller adds any register argument, then `sc 1`. */
  hcallArgs(opcode: bigint, args: readonly bigint[]): void {
    this.load(3, opcode);
    args.forEach((value, i) => this.load(4 + i, value));
  }
  /**
   * Looks (`look` leaves its answer in cr0) until cr0 says `until`, giving the processor up
   * between two looks (`pausing`; without, it spins).
   */
  waitFor(until: "ne" | "eq", look: () => void, pausing = true): void {
    this.load(R_WAIT, WAIT_FIRST);
    const top = this.here;
    look();
    if (!pausing) {
      this.emit((until === "ne" ? ppc.beq : ppc.bne)(top - this.here));
      return;
    }
    const exit = this.words.length;
    this.emit(ppc.nop()); // patched: the branch out
    this.pause();
    this.emit(ppc.b(top - this.here));
    this.words[exit] = (until === "ne" ? ppc.bne : ppc.beq)(this.here - exit * 4);
  }
  /** Gives the processor up once, for this long (timebase ticks). */
  pauseFor(ticks: bigint): void {
    this.load(R_WAIT, ticks);
    this.pause();
  }
  /** Waits until the machine is reset under it, the processor given up. */
  waitForReset(): void {
    this.load(R_WAIT, WAIT_FIRST);
    const top = this.here;
    this.pause();
    this.emit(ppc.b(top - this.here));
  }
  /** Gives the processor up until the decrementer fires (R_WAIT), masks interrupts again, and waits twice as long next time, up to WAIT_LONGEST. */
  private pause(): void {
    this.emit(ppc.mtspr(SPR.DEC, R_WAIT), ppc.li(3, Number(HCALL.H_CEDE)), ppc.hcall());
    this.emit(ppc.mfmsr(11), ppc.ori(11, 11, MSR_EE), ppc.xori(11, 11, MSR_EE), ppc.mtmsrdEE(11));
    this.load(11, WAIT_LONGEST);
    this.emit(ppc.cmpd(R_WAIT, 11), ppc.bge(8), ppc.sldi(R_WAIT, R_WAIT, 1));
  }
  /** reg = runtime address of an offset in the image. */
  address(reg: number, imageOffset: number): void {
    this.load(R_TMP, BigInt(imageOffset - BASE_LABEL));
    this.emit(ppc.add(reg, R_BASE, R_TMP));
  }
  callTo(target: number): void {
    this.emit(ppc.b(target - this.here, true));
  }
  print(text: string): void {
    this.emit(ppc.li(3, Number(HCALL.H_PUT_TERM_CHAR)), ppc.lis(4, VTY_UNIT), ppc.li(5, text.length));
    this.load(6, textRegister(text));
    this.load(7, textRegister(text.slice(8)));
    this.emit(ppc.hcall());
  }
}

/** The guest image for these calls, as an ELF64 file. */
export function buildGuest(calls: readonly GuestCall[]): Uint8Array {
  const a = new Assembler();
  a.emit(ppc.b(4, true)); // bl to the next instruction…
  a.emit(ppc.mflr(R_BASE)); // …whose address lands in R_BASE
  // 64-bit mode (MSR[SF]), as Linux's start does: the firmware enters in 32-bit mode, where every
  // address is cut to 32 bits (a probe's look at 4 GiB saw 0; found with a 9 GiB guest).
  a.emit(ppc.mfmsr(11), ppc.li(10, 1), ppc.sldi(10, 10, 63), ppc.or(11, 11, 10), ppc.mtmsrd(11));
  // The vectors the waits need, written where the processor looks (and past its caches).
  for (const vector of VECTORS) {
    a.emit(ppc.li(10, vector.at));
    vector.code.forEach((word, i) => a.emit(ppc.lis(11, word >>> 16), ppc.ori(11, 11, word & 0xffff), ppc.stw(11, i * 4, 10)));
    a.emit(ppc.dcbst(10), ppc.sync(), ppc.icbi(10), ppc.isync());
  }
  const jumpToMain = a.words.length;
  a.emit(ppc.nop()); // patched: b main

  // hex64: prints r20 as 16 hex digits; r20 comes back unchanged (rotated by 64 bits).
  const hex64 = a.here;
  a.emit(ppc.li(6, 0), ppc.li(7, 0));
  for (const reg of [6, 7]) {
    for (let i = 0; i < 8; i++)
      a.emit(ppc.rotldi(20, 20, 4), ppc.andiDot(11, 20, 15), ppc.lbzx(11, R_HEX, 11), ppc.sldi(reg, reg, 8), ppc.or(reg, reg, 11));
  }
  a.emit(ppc.li(3, Number(HCALL.H_PUT_TERM_CHAR)), ppc.lis(4, VTY_UNIT), ppc.li(5, 16), ppc.hcall(), ppc.blr());

  const main = a.here;
  a.words[jumpToMain] = ppc.b(main - jumpToMain * 4);
  // Data offsets are known once the code size is; code is emitted against a fixed layout instead.
  const layout = dataLayout(calls);
  a.address(R_HEX, layout.hexDigits);
  // After a machine reset the program starts here again: a note in RAM says where to go on.
  const resets = calls.filter((c) => c.kind === "host" && c.action === "reset").length;
  const resumeJumps: number[] = [];
  if (resets > 0) {
    // r10 and r11 only: r12 holds the hex digits' address.
    a.load(R_RESUME, RESUME_ADDR);
    a.load(10, RESUME_MAGIC);
    a.emit(ppc.ld(11, 0, R_RESUME), ppc.cmpd(11, 10));
    const toFresh = a.words.length;
    a.emit(ppc.nop()); // patched: bne fresh
    a.emit(ppc.ld(11, 8, R_RESUME));
    for (let k = 1; k <= resets; k++) {
      a.emit(ppc.cmpdi(11, k), ppc.bne(8));
      resumeJumps.push(a.words.length);
      a.emit(ppc.nop()); // patched: b resume_k
    }
    a.words[toFresh] = ppc.bne(a.here - toFresh * 4);
  }
  a.print(`\n${BEGIN_MARKER}\n`);
  let resumePoint = 0;
  let listIndex = 0;
  const printPair = () => {
    a.callTo(hex64);
    a.emit(ppc.mr(20, 21));
    a.callTo(hex64);
    a.print("\n");
  };
  const rtasCall = (token: bigint, args: readonly bigint[], nret: number) => {
    a.address(R_RTAS, layout.rtas);
    const words = [token, BigInt(args.length), BigInt(nret), ...args];
    words.forEach((word, i) => {
      a.load(23, word);
      a.emit(ppc.stw(23, i * 4, R_RTAS));
    });
    a.load(3, HCALL.H_RTAS);
    a.emit(ppc.mr(4, R_RTAS), ppc.hcall());
  };
  // A device's BAR assigned, memory space and bus mastering on, by RTAS config-space writes.
  const configure = (device: EduDevice) => {
    const config = (register: number, size: number, value: bigint) => {
      const buid = buidOf(device.phbIndex);
      const address = BigInt((device.slot << 11) | register);
      rtasCall(RTAS_TOKENS.writePciConfig, [address, buid >> 32n, buid & 0xffffffffn, BigInt(size), value], 1);
    };
    config(0x10, 4, eduBar(device)); // BAR0
    config(0x04, 2, 0x6n); // command: memory space, bus master
  };
  // `count` bytes (one unless said) from src to dst (bus addresses, or the buffer at EDU_BUFFER); the guest waits for them.
  const eduDma = (device: EduDevice, src: bigint, dst: bigint, toMemory: boolean, count = 1n) => {
    const registers = eduRegisters(device);
    // Eight-byte accesses to the device's registers.
    const store = (offset: bigint, value: bigint) => {
      a.hcallArgs(HCALL.H_LOGICAL_CI_STORE, [8n, registers + offset, value]);
      a.emit(ppc.hcall());
    };
    store(EDU_DMA_SRC, src);
    store(EDU_DMA_DST, dst);
    store(EDU_DMA_COUNT, count);
    store(EDU_DMA_CMD, toMemory ? 3n : 1n); // start; direction bit 1: device to memory
    // Wait for the transfer: the start bit clears when it is done, the edu's delay after the start.
    const delay = device.dmaMs === undefined ? EDU_DMA_DELAY : BigInt(device.dmaMs) * TICKS_PER_MS;
    if (delay > 0n) a.pauseFor(delay);
    a.waitFor("eq", () => {
      a.hcallArgs(HCALL.H_LOGICAL_CI_LOAD, [8n, registers + EDU_DMA_CMD]);
      a.emit(ppc.hcall(), ppc.andiDot(4, 4, 1));
    });
  };
  /**
   * One batch of vfio-pci probes (see VFIO_PROBE): the scratch entry put once; one DMA preloads
   * the buffer's check byte (byte 0) and one byte per read; each read brings its IOBA's byte to a
   * byte of its own; one write-back returns them all; each write sends the check byte. Each
   * probe's two words wait in its results slot until the batch prints them, in call order.
   */
  let probeSlot = 0;
  const probeBatch = (batch: readonly ProbeCall[], firstSlot: number) => {
    const { device, scratch } = batch[0]!;
    for (const call of batch) if (call.candidates.length > VFIO_PROBE.maxCandidates) throw new Error(`internal: ${call.candidates.length} DMA candidates, at most ${VFIO_PROBE.maxCandidates}`);
    const slotOf = (call: ProbeCall) => layout.results + 16 * (firstSlot + batch.indexOf(call));
    const reads = batch.filter((call) => call.access === "read");
    const writes = batch.filter((call) => call.access === "write");
    const bytes = reads.length + 1;
    const storeByte = (value: number, at: number, offset = 0) => a.emit(ppc.li(11, value), ppc.stb(11, offset, at));
    const storeAt = (address: bigint, value: number) => {
      a.load(10, address);
      storeByte(value, 10);
    };
    const storeResult = (call: ProbeCall, first: number, second: number) => {
      a.address(10, slotOf(call));
      a.emit(ppc.std(first, 0, 10), ppc.std(second, 8, 10));
    };
    // The scratch entry: its old value kept in r26, then the guest's scratch page, read-write.
    a.address(27, layout.scratch);
    const entry = [scratch.liobn, scratch.ioba];
    a.hcallArgs(HCALL.H_GET_TCE, entry);
    a.emit(ppc.hcall(), ppc.mr(26, 4));
    a.hcallArgs(HCALL.H_PUT_TCE, entry);
    a.emit(ppc.ori(6, 27, 3), ppc.hcall());
    // The buffer's first bytes get the preload byte from the scratch page.
    for (let b = 0; b < bytes; b++) storeByte(VFIO_PROBE.preload, 27, b);
    a.emit(ppc.sync());
    eduDma(device, scratch.ioba, EDU_BUFFER, false, BigInt(bytes));
    reads.forEach((call, r) => {
      call.candidates.forEach((address, k) => storeAt(address, VFIO_PROBE.tag + k));
      a.emit(ppc.sync());
      eduDma(device, call.ioba, EDU_BUFFER + BigInt(r + 1), false);
    });
    // The write-back, over the sentinel: the check byte (r21) proves the scratch entry carried the
    // preload in and the buffer out; each read's byte says where it landed.
    for (let b = 0; b < bytes; b++) storeByte(VFIO_PROBE.sentinel, 27, b);
    a.emit(ppc.sync());
    eduDma(device, EDU_BUFFER, scratch.ioba, true, BigInt(bytes));
    a.emit(ppc.sync(), ppc.lbz(21, 0, 27), ppc.li(9, 0));
    reads.forEach((call, r) => {
      a.emit(ppc.lbz(20, r + 1, 27));
      storeResult(call, 20, 9);
    });
    for (const call of writes) {
      call.candidates.forEach((address) => storeAt(address, VFIO_PROBE.fill));
      a.emit(ppc.sync());
      eduDma(device, EDU_BUFFER, call.ioba, true);
      a.emit(ppc.sync(), ppc.li(20, 0));
      call.candidates.forEach((address, k) => {
        a.load(10, address);
        // Landed where the byte is no longer the fill: seen with or without the preload (a
        // buffer the scratch entry could not load holds 0, as a faulted read leaves it).
        a.emit(ppc.lbz(11, 0, 10), ppc.cmpdi(11, VFIO_PROBE.fill), ppc.beq(16));
        a.emit(ppc.li(9, 1), ppc.sldi(9, 9, k), ppc.or(20, 20, 9));
      });
      storeResult(call, 20, 21);
    }
    // The scratch entry gets its old value back.
    a.hcallArgs(HCALL.H_PUT_TCE, entry);
    a.emit(ppc.mr(6, 26), ppc.hcall());
    for (const call of batch) {
      a.address(10, slotOf(call));
      a.emit(ppc.ld(20, 0, 10), ppc.ld(21, 8, 10));
      printPair();
    }
  };
  for (let i = 0; i < calls.length; i++) {
    const call = calls[i]!;
    if (call.kind === "mark") {
      a.print(`${MARK}\n`);
    } else if (call.kind === "host" && call.action === "reset") {
      a.load(R_RESUME, RESUME_ADDR);
      a.load(10, RESUME_MAGIC);
      a.emit(ppc.std(10, 0, R_RESUME), ppc.li(10, ++resumePoint), ppc.std(10, 8, R_RESUME));
      a.print(`${HOST_STEP}\n`);
      a.waitForReset();
      const at = resumeJumps[resumePoint - 1]!;
      a.words[at] = ppc.b(a.here - at * 4);
      // The reset put every device's config space back to its reset values.
      call.reconfigure?.forEach(configure);
    } else if (call.kind === "host" || call.kind === "plug") {
      a.print(`${HOST_STEP}\n`);
      // Wait for the host's character (HCALL.H_GET_TERM_CHAR answers how many it read in r4).
      // Across a migration without pause: QEMU 7.2 under TCG neither migrates the decrementer nor
      // starts it again at the destination (fixed upstream in 2023, "target/ppc: Migrate DECR
      // SPR"), so a guest waiting for it there never woke (migrate.tce timed out; docs/qemu-bugs.md).
      const migrating = call.kind === "host" && call.action === "migrate";
      a.waitFor("ne", () => a.emit(ppc.li(3, Number(HCALL.H_GET_TERM_CHAR)), ppc.lis(4, VTY_UNIT), ppc.hcall(), ppc.cmpdi(4, 0)), !migrating);
      // A vfio-pci device too: QEMU keeps its BAR and passes the command register on.
      if (call.kind === "plug") configure(call.device);
      if (call.kind === "host") call.reconfigure?.forEach(configure);
    } else if (call.kind === "dma") {
      const read = call.access === "read";
      eduDma(call.device, read ? call.ioba : EDU_BUFFER, read ? EDU_BUFFER : call.ioba, !read);
      a.print(`${MARK}\n`);
    } else if (call.kind === "vfio-dma") {
      // The probes of one batch run together; their lines follow, in the calls' order.
      let end = i + 1;
      while (end < calls.length && calls[end]!.kind === "vfio-dma" && (calls[end] as ProbeCall).batch === call.batch) end++;
      const batch = calls.slice(i, end) as ProbeCall[];
      probeBatch(batch, probeSlot);
      probeSlot += batch.length;
      i = end - 1;
    } else if (call.kind === "scratch") {
      if (!call.used) continue;
      a.address(27, layout.scratch);
      a.hcallArgs(HCALL.H_PUT_TCE, [call.scratch.liobn, call.scratch.ioba]);
      a.emit(ppc.ori(6, 27, 3), ppc.hcall(), ppc.mr(20, 3), ppc.mr(21, 4));
      printPair();
    } else if (call.kind === "hcall") {
      a.hcallArgs(call.opcode, call.args);
      if (call.list) {
        // H_PUT_TCE_INDIRECT's third argument (r6) is the list's guest address.
        a.address(6, layout.lists + listIndex++ * 0x1000 + Number(call.list.offsetInPage));
      }
      if (call.savedAsArg !== undefined) a.emit(ppc.mr(4 + call.savedAsArg, R_SAVED));
      a.emit(ppc.hcall(), ppc.mr(20, 3), ppc.mr(21, 4));
      if (call.saveValue) a.emit(ppc.mr(R_SAVED, 4));
      printPair();
    } else {
      rtasCall(call.token, call.args, call.nret);
      const rets = 4 * (3 + call.args.length);
      for (let r = 0; r < call.nret; r += 2) {
        // The first return word is the status, a signed int; the others are unsigned.
        a.emit(ppc.lwz(20, rets + r * 4, R_RTAS), ...(r === 0 ? [ppc.extsw(20, 20)] : []));
        if (r + 1 < call.nret) a.emit(ppc.lwz(21, rets + (r + 1) * 4, R_RTAS));
        else a.emit(ppc.li(21, 0));
        // hex64 clobbers r20 only by rotation, but r21 is consumed before the second call.
        printPair();
      }
    }
  }
  a.print(`${END_MARKER}\n`);
  // RTAS power-off: after the end marker the guest stops its machine, so QEMU exits by itself.
  rtasCall(RTAS_TOKENS.powerOff, [0n, 0n], 1);
  a.emit(ppc.b(0)); // spin, should the power-off not take
  if (a.here > layout.codeLimit) throw new Error(`internal: guest code (${a.here} bytes) overran its layout`);
  return elf64(image(a.words, layout, calls), 0n, 0n);
}

interface Layout {
  codeLimit: number;
  hexDigits: number;
  rtas: number;
  /** A page the device's buffer passes through in a vfio-pci DMA probe. */
  scratch: number;
  /** Two words for each vfio-pci probe, kept until its batch prints them. */
  results: number;
  lists: number;
  size: number;
}

/** A generous bound on a call's code: well under 1 KiB, and a vfio-pci probe 64 bytes more per candidate. */
function codeBound(call: GuestCall): number {
  return call.kind === "vfio-dma" ? 2048 + call.candidates.length * 64 : 1024;
}

/** Code first, then the hex digits, the RTAS buffer, the scratch page, the probes' results, and one 4 KiB page per TCE list. */
function dataLayout(calls: readonly GuestCall[]): Layout {
  const codeLimit = align(0x2000 + calls.reduce((n, c) => n + codeBound(c), 0), 0x1000);
  const hexDigits = codeLimit;
  const rtas = codeLimit + 0x100;
  const scratch = codeLimit + 0x1000;
  const results = scratch + 0x1000;
  const lists = results + align(16 * calls.filter((c) => c.kind === "vfio-dma").length, 0x1000);
  const listCount = calls.filter((c) => c.kind === "hcall" && c.list).length;
  return { codeLimit, hexDigits, rtas, scratch, results, lists, size: lists + listCount * 0x1000 };
}

function align(value: number, to: number): number {
  return Math.ceil(value / to) * to;
}

function image(words: number[], layout: Layout, calls: readonly GuestCall[]): Uint8Array {
  const bytes = Buffer.alloc(layout.size);
  words.forEach((word, i) => bytes.writeUInt32BE(word, i * 4));
  bytes.write(HEX_DIGITS, layout.hexDigits, "latin1");
  let listIndex = 0;
  for (const call of calls) {
    if (call.kind !== "hcall" || !call.list) continue;
    const base = layout.lists + listIndex++ * 0x1000;
    call.list.tces.slice(0, MAX_LIST).forEach((tce, i) => bytes.writeBigUInt64BE(BigInt.asUintN(64, tce), base + i * 8));
  }
  return bytes;
}
