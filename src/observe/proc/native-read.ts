/**
 * The native reader (native/procread.c, built by `npm run build` when a C compiler is
 * there): the same raw reading as readRawProcesses, done in C on several threads, decoded
 * here into the same RawProcess records. The JS reader stays the reference and the
 * fallback: this module never decides anything the JS reader would decide differently
 * (a parity test reads the live host both ways).
 */
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { fileURLToPath } from "node:url";
import type { RawFailure, RawProcess, RawReadResult } from "./raw-read.js";

const MAGIC = "BKPR0001";
const NULL_LEN = 0xffffffff;
/** Output beyond this is refused (a runaway host would need 100,000 processes of 10 KB). */
const MAX_OUTPUT = 1024 * 1024 * 1024;

let cachedPath: string | null | undefined;

/**
 * Where the built reader is: dist/native/procread next to the compiled modules, or (when
 * running from src under tsx or vitest) the one the last build left in dist. Null when
 * there is none, or BREACHKIT_PROC_READER=js asks for the JS reader.
 */
export function nativeReaderPath(env: Readonly<Record<string, string | undefined>>): string | null {
  if (env.BREACHKIT_PROC_READER === "js") return null;
  if (cachedPath !== undefined) return cachedPath;
  cachedPath = null;
  for (const rel of ["../../native/procread", "../../../dist/native/procread"]) {
    const path = fileURLToPath(new URL(rel, import.meta.url));
    try {
      accessSync(path, constants.X_OK);
      cachedPath = path;
      break;
    } catch {
      /* not built here */
    }
  }
  return cachedPath;
}

/** Decode the reader's output; throws on anything malformed or truncated. */
export function decodeNativeOutput(buf: Buffer): RawReadResult {
  if (buf.length < MAGIC.length + 1 || buf.toString("latin1", 0, MAGIC.length) !== MAGIC) {
    throw new Error("native reader: output does not start with its header");
  }
  let at = MAGIC.length;
  const need = (n: number) => {
    if (at + n > buf.length) throw new Error("native reader: output truncated");
  };
  const u32 = () => {
    need(4);
    const v = buf.readUInt32LE(at);
    at += 4;
    return v;
  };
  const i32 = () => {
    need(4);
    const v = buf.readInt32LE(at);
    at += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = Number(buf.readBigUInt64LE(at));
    at += 8;
    return v;
  };
  const i64 = () => {
    need(8);
    const v = Number(buf.readBigInt64LE(at));
    at += 8;
    return v;
  };
  const bytes = (): Buffer | null => {
    const len = u32();
    if (len === NULL_LEN) return null;
    need(len);
    const b = buf.subarray(at, at + len);
    at += len;
    return b;
  };
  const text = (): string | null => bytes()?.toString("utf8") ?? null;
  const textOrEmpty = (): string => text() ?? "";

  const processes: RawProcess[] = [];
  const failures: RawFailure[] = [];
  for (;;) {
    need(1);
    const kind = buf[at++];
    if (kind === 0x45 /* E */) break;
    if (kind === 0x46 /* F */) {
      const pid = i32();
      failures.push([textOrEmpty(), textOrEmpty(), pid]);
      continue;
    }
    if (kind !== 0x50 /* P */) throw new Error(`native reader: unknown record ${kind}`);
    const pid = i32();
    const stat = textOrEmpty();
    const status = textOrEmpty();
    const cmd = bytes() ?? Buffer.alloc(0);
    const cgroup = textOrEmpty();
    const cwd = text();
    const exeLink = text();
    const exeError = text();
    const exeStatError = text();
    const ns: RawProcess["ns"] = [text(), text(), text()];
    need(1);
    let exeStat: RawProcess["exeStat"] = null;
    if (buf[at++] === 1) {
      const dev = u64();
      const ino = u64();
      const size = u64();
      const nlink = u64();
      const mtimeSec = i64();
      const mtimeNsec = i64();
      const ctimeSec = i64();
      const ctimeNsec = i64();
      // As Node computes Stats#mtimeMs, so that hash cache keys agree between readers.
      exeStat = [
        dev,
        ino,
        size,
        mtimeSec * 1e3 + mtimeNsec / 1e6,
        ctimeSec * 1e3 + ctimeNsec / 1e6,
        nlink,
      ];
    }
    const count = u32();
    const sockets: string[] = [];
    for (let i = 0; i < count; i++) sockets.push(textOrEmpty());
    processes.push({
      pid,
      stat,
      status,
      cmdline: new Uint8Array(cmd.buffer, cmd.byteOffset, cmd.byteLength),
      cgroup,
      cwd,
      exeLink,
      exeError,
      exeStat,
      exeStatError,
      ns,
      sockets,
    });
  }
  if (at !== buf.length) throw new Error("native reader: output goes on after its end");
  return { processes, failures };
}

/**
 * Run the reader over every process under `root` except `skipPid`. Rejects when it cannot
 * run or its output is not whole: the caller then reads with the JS reader.
 */
export function readNative(
  path: string,
  root: string,
  threads: number,
  skipPid: number | null,
): Promise<RawReadResult> {
  return new Promise((resolve, reject) => {
    const args = [root, String(Math.max(1, Math.min(64, threads)))];
    if (skipPid !== null) args.push(String(skipPid));
    let child: ReturnType<typeof spawn>;
    try {
      child = spawn(path, args, { stdio: ["ignore", "pipe", "pipe"] });
    } catch (e) {
      reject(e);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let stderr = "";
    let failed: Error | null = null;
    child.stdout?.on("data", (d: Buffer) => {
      size += d.length;
      if (size > MAX_OUTPUT) {
        failed ??= new Error("native reader: output over 1 GiB");
        child.kill("SIGKILL");
        return;
      }
      chunks.push(d);
    });
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      if (stderr.length < 2048) stderr += d;
    });
    child.once("error", (e) => {
      failed ??= e;
    });
    child.once("close", (code, signal) => {
      if (failed !== null) return reject(failed);
      if (code !== 0) {
        return reject(
          new Error(`native reader: ${signal ?? `exit ${code}`} ${stderr.trim()}`.trim()),
        );
      }
      try {
        resolve(decodeNativeOutput(Buffer.concat(chunks, size)));
      } catch (e) {
        reject(e);
      }
    });
  });
}
