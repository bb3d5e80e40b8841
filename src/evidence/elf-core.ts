/**
 * The ELF core file format (what the kernel writes on a crash and `gcore` writes on demand),
 * for a process's memory preserved by `collect --memory`: gdb, readelf and Volatility-style
 * tools open it without anything of breachkit's.
 *
 * Layout: the ELF header, the program headers (one PT_NOTE, then one PT_LOAD per mapping), the
 * notes (NT_PRSTATUS per thread, NT_PRPSINFO, NT_AUXV, NT_FILE), padding to a page, then the
 * mappings' bytes one after the other. Everything before the bytes is built here in one
 * buffer; the bytes are streamed after it by the dump, so a 2 GiB dump never sits in memory.
 *
 * Registers: breachkit does not ptrace. The kernel shows, without ptrace, the stack and
 * instruction pointers of a stopped task (/proc/<pid>/task/<tid>/syscall); those two are
 * filled in, every other register is zero (said in the dump's record).
 *
 * References: the System V ABI (ELF header and program headers), linux/elfcore.h
 * (elf_prstatus, elf_prpsinfo), linux/elf.h (note types), fs/binfmt_elf.c (NT_FILE layout).
 */

export type CoreMachine = "x64" | "arm64";

const EM: Record<CoreMachine, number> = { x64: 62, arm64: 183 };
/** elf_prstatus: 112 bytes of header, the general registers, pr_fpvalid and padding. */
const REGS: Record<CoreMachine, { count: number; sp: number; pc: number }> = {
  // user_regs_struct: r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip
  // cs eflags rsp ss fs_base gs_base ds es fs gs
  x64: { count: 27, sp: 19, pc: 16 },
  // user_pt_regs: x0..x30, sp, pc, pstate
  arm64: { count: 34, sp: 31, pc: 32 },
};

const PT_LOAD = 1;
const PT_NOTE = 4;
const NT_PRSTATUS = 1;
const NT_PRPSINFO = 3;
const NT_AUXV = 6;
const NT_FILE = 0x46494c45;
const EHDR_SIZE = 64;
const PHDR_SIZE = 56;
/** e_phnum is 16 bits; 0xffff means "see section 0", which this writer does not use. */
export const MAX_SEGMENTS = 0xfffe - 1;

export interface CoreThread {
  tid: number;
  sp: number | null;
  pc: number | null;
}

export interface CoreSegment {
  start: number;
  end: number;
  perms: string;
  /** Bytes of this segment present in the file (0 for a mapping left out, memsz stays). */
  fileSize: number;
  /** The mapped file (for NT_FILE), or "" for anonymous and special mappings. */
  path: string;
  /** Offset in the mapped file. */
  offset: number;
}

export interface CoreProcess {
  machine: CoreMachine;
  pid: number;
  ppid: number;
  pgrp: number;
  sid: number;
  uid: number;
  gid: number;
  /** One-letter state of /proc/<pid>/stat ("S", "R", "T"...). */
  state: string;
  comm: string;
  args: string;
  threads: readonly CoreThread[];
  auxv: Uint8Array | null;
  pageSize: number;
}

export interface CoreLayout {
  /** Header, program headers, notes and padding: the first `header.length` bytes of the file. */
  header: Buffer;
  /** File offset of each segment's bytes, in the order given. */
  offsets: number[];
  /** Total size of the file when every segment's bytes follow. */
  totalSize: number;
}

function note(type: number, desc: Uint8Array): Buffer {
  const name = Buffer.from("CORE\0", "latin1");
  const nameLen = align4(name.length);
  const descLen = align4(desc.length);
  const b = Buffer.alloc(12 + nameLen + descLen);
  b.writeUInt32LE(name.length, 0);
  b.writeUInt32LE(desc.length, 4);
  b.writeUInt32LE(type, 8);
  name.copy(b, 12);
  Buffer.from(desc).copy(b, 12 + nameLen);
  return b;
}

const align4 = (n: number) => (n + 3) & ~3;
const alignTo = (n: number, a: number) => Math.ceil(n / a) * a;

function prstatus(p: CoreProcess, t: CoreThread): Buffer {
  const regs = REGS[p.machine];
  const b = Buffer.alloc(112 + regs.count * 8 + 8);
  b.writeInt32LE(t.tid, 32);
  b.writeInt32LE(p.ppid, 36);
  b.writeInt32LE(p.pgrp, 40);
  b.writeInt32LE(p.sid, 44);
  if (t.sp !== null) b.writeBigUInt64LE(BigInt(t.sp), 112 + regs.sp * 8);
  if (t.pc !== null) b.writeBigUInt64LE(BigInt(t.pc), 112 + regs.pc * 8);
  return b;
}

const STATES = "RSDTZW";

function prpsinfo(p: CoreProcess): Buffer {
  const b = Buffer.alloc(136);
  const s = STATES.indexOf(p.state);
  b.writeInt8(Math.max(s, 0), 0);
  b.write(p.state.slice(0, 1) || "?", 1, "latin1");
  b.writeInt8(p.state === "Z" ? 1 : 0, 2);
  b.writeUInt32LE(p.uid >>> 0, 16);
  b.writeUInt32LE(p.gid >>> 0, 20);
  b.writeInt32LE(p.pid, 24);
  b.writeInt32LE(p.ppid, 28);
  b.writeInt32LE(p.pgrp, 32);
  b.writeInt32LE(p.sid, 36);
  Buffer.from(p.comm, "latin1").subarray(0, 15).copy(b, 40);
  Buffer.from(p.args, "latin1").subarray(0, 79).copy(b, 56);
  return b;
}

function fileNote(p: CoreProcess, segments: readonly CoreSegment[]): Buffer | null {
  const files = segments.filter((s) => s.path.startsWith("/"));
  if (files.length === 0) return null;
  const head = Buffer.alloc(16 + files.length * 24);
  head.writeBigUInt64LE(BigInt(files.length), 0);
  head.writeBigUInt64LE(BigInt(p.pageSize), 8);
  files.forEach((s, i) => {
    head.writeBigUInt64LE(BigInt(s.start), 16 + i * 24);
    head.writeBigUInt64LE(BigInt(s.end), 24 + i * 24);
    head.writeBigUInt64LE(BigInt(Math.floor(s.offset / p.pageSize)), 32 + i * 24);
  });
  const names = Buffer.from(files.map((s) => `${s.path}\0`).join(""), "utf8");
  return Buffer.concat([head, names]);
}

function flags(perms: string): number {
  return (perms[0] === "r" ? 4 : 0) | (perms[1] === "w" ? 2 : 0) | (perms[2] === "x" ? 1 : 0);
}

/** Build everything of the core file that precedes the memory bytes, and where each goes. */
export function coreLayout(p: CoreProcess, segments: readonly CoreSegment[]): CoreLayout {
  if (segments.length > MAX_SEGMENTS) {
    throw new RangeError(`a core file holds at most ${MAX_SEGMENTS} segments`);
  }
  const notes: Buffer[] = [];
  for (const t of p.threads) notes.push(note(NT_PRSTATUS, prstatus(p, t)));
  notes.push(note(NT_PRPSINFO, prpsinfo(p)));
  if (p.auxv && p.auxv.length > 0) notes.push(note(NT_AUXV, p.auxv));
  const files = fileNote(p, segments);
  if (files) notes.push(note(NT_FILE, files));
  const notesBuf = Buffer.concat(notes);

  const phnum = 1 + segments.length;
  const notesOffset = EHDR_SIZE + phnum * PHDR_SIZE;
  const dataOffset = alignTo(notesOffset + notesBuf.length, p.pageSize);
  const header = Buffer.alloc(dataOffset);

  // ELF header.
  header.write("\x7fELF", 0, "latin1");
  header[4] = 2; // ELFCLASS64
  header[5] = 1; // little-endian
  header[6] = 1; // EV_CURRENT
  header.writeUInt16LE(4, 16); // ET_CORE
  header.writeUInt16LE(EM[p.machine], 18);
  header.writeUInt32LE(1, 20);
  header.writeBigUInt64LE(BigInt(EHDR_SIZE), 32); // e_phoff
  header.writeUInt16LE(EHDR_SIZE, 52);
  header.writeUInt16LE(PHDR_SIZE, 54);
  header.writeUInt16LE(phnum, 56);

  // PT_NOTE.
  let ph = EHDR_SIZE;
  header.writeUInt32LE(PT_NOTE, ph);
  header.writeBigUInt64LE(BigInt(notesOffset), ph + 8);
  header.writeBigUInt64LE(BigInt(notesBuf.length), ph + 32);
  header.writeBigUInt64LE(4n, ph + 48);
  notesBuf.copy(header, notesOffset);

  const offsets: number[] = [];
  let off = dataOffset;
  for (const s of segments) {
    ph += PHDR_SIZE;
    header.writeUInt32LE(PT_LOAD, ph);
    header.writeUInt32LE(flags(s.perms), ph + 4);
    header.writeBigUInt64LE(BigInt(off), ph + 8);
    header.writeBigUInt64LE(BigInt(s.start), ph + 16);
    header.writeBigUInt64LE(BigInt(s.fileSize), ph + 32);
    header.writeBigUInt64LE(BigInt(s.end - s.start), ph + 40);
    header.writeBigUInt64LE(BigInt(p.pageSize), ph + 48);
    offsets.push(off);
    off += s.fileSize;
  }
  return { header, offsets, totalSize: off };
}
