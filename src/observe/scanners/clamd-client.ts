/**
 * A small clamd protocol client over a Unix socket. Only the `z` (NUL-terminated) forms are used:
 * a newline is a legal byte in a file name, a NUL is not. Paths travel as raw bytes so that names
 * that are not valid UTF-8 still reach clamd unchanged.
 */
import { createReadStream } from "node:fs";
import { createConnection, type Socket } from "node:net";

export type ClamdVerdict =
  | { kind: "ok" }
  | { kind: "found"; signature: string }
  | { kind: "error"; message: string };

export interface ClamdRecord {
  path: string;
  verdict: ClamdVerdict;
}

const NUL = 0;

/** Split a byte stream into NUL-terminated records; the unterminated tail is returned apart. */
export function splitRecords(buf: Buffer): { records: Buffer[]; rest: Buffer } {
  const records: Buffer[] = [];
  let start = 0;
  for (;;) {
    const i = buf.indexOf(NUL, start);
    if (i < 0) break;
    records.push(buf.subarray(start, i));
    start = i + 1;
  }
  return { records, rest: buf.subarray(start) };
}

/** The status part of a reply (what follows "PATH: "). */
export function parseVerdict(status: string): ClamdVerdict {
  const s = status.replace(/\n+$/, "");
  if (s === "OK") return { kind: "ok" };
  const found = /^(\S+) FOUND$/.exec(s);
  if (found) return { kind: "found", signature: found[1]! };
  if (s.endsWith(" ERROR")) return { kind: "error", message: s.slice(0, -" ERROR".length) };
  return { kind: "error", message: s };
}

/**
 * Parse one reply record whose path is not known in advance (MULTISCAN/CONTSCAN over a
 * directory, INSTREAM's "stream: ..."). The path part is greedy: a file may be named
 * "a: b FOUND" and the signature name never holds a space, so the last ": NAME FOUND" wins.
 * For an error the message may hold ": " too; then the split is ambiguous and the first
 * ": " after a leading "/" path cannot be trusted: callers that know the path use
 * parseKnownPathRecord.
 */
export function parseRecord(record: string): ClamdRecord | null {
  const r = record.replace(/\n+$/, "");
  const found = /^([\s\S]*): (\S+) FOUND$/.exec(r);
  if (found) return { path: found[1]!, verdict: { kind: "found", signature: found[2]! } };
  const okm = /^([\s\S]*): OK$/.exec(r);
  if (okm) return { path: okm[1]!, verdict: { kind: "ok" } };
  const errm = /^([\s\S]*?): ([\s\S]*) ERROR$/.exec(r);
  if (errm) return { path: errm[1]!, verdict: { kind: "error", message: errm[2]! } };
  return null;
}

/** Parse a reply to a command on a known path: strip exactly "PATH: " and read the status. */
export function parseKnownPathRecord(record: Buffer, path: Buffer): ClamdVerdict {
  const prefix = Buffer.concat([path, Buffer.from(": ")]);
  if (record.length >= prefix.length && record.subarray(0, prefix.length).equals(prefix)) {
    return parseVerdict(record.subarray(prefix.length).toString("utf8"));
  }
  // clamd answers some failures without the path ("... ERROR" alone, e.g. a full queue).
  const text = record.toString("utf8");
  const parsed = parseRecord(text);
  return parsed ? parsed.verdict : parseVerdict(text);
}

/** Split "<id>: <rest>" as sent inside an IDSESSION. */
export function parseSessionRecord(record: Buffer): { id: number; body: Buffer } | null {
  const m = /^(\d{1,10}): /.exec(record.subarray(0, 16).toString("latin1"));
  if (!m) return null;
  return { id: Number(m[1]), body: record.subarray(m[0].length) };
}

function connect(socketPath: string, timeoutMs: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = createConnection({ path: socketPath });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error(`clamd at ${socketPath} did not accept a connection in ${timeoutMs} ms`));
    }, timeoutMs);
    sock.once("connect", () => {
      clearTimeout(timer);
      resolve(sock);
    });
    sock.once("error", (e) => {
      clearTimeout(timer);
      reject(e);
    });
  });
}

/** Send one command, read until the first NUL or the close; bounded in time and size. */
export async function clamdCommand(
  socketPath: string,
  command: string,
  timeoutMs: number,
): Promise<string> {
  const sock = await connect(socketPath, timeoutMs);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const finish = (e?: Error) => {
      clearTimeout(timer);
      sock.destroy();
      if (e) reject(e);
      else
        resolve(
          splitRecords(Buffer.concat([...chunks, Buffer.from([NUL])])).records[0]!.toString(),
        );
    };
    const timer = setTimeout(
      () => finish(new Error(`clamd did not answer ${command} in ${timeoutMs} ms`)),
      timeoutMs,
    );
    sock.on("data", (b: Buffer) => {
      chunks.push(b);
      size += b.length;
      if (b.includes(NUL) || size > 1 << 20) finish();
    });
    sock.on("end", () => finish());
    sock.on("error", (e) => finish(e));
    sock.write(`z${command}\0`);
  });
}

export async function clamdPing(socketPath: string, timeoutMs = 2000): Promise<boolean> {
  try {
    return (await clamdCommand(socketPath, "PING", timeoutMs)).trim() === "PONG";
  } catch {
    return false;
  }
}

/**
 * Stream a file's bytes with INSTREAM: for paths clamd cannot open itself (another mount
 * namespace, /proc/<pid>/exe, a clamd running as an unprivileged user). The caller must have
 * checked the size against StreamMaxLength: past it clamd replies "INSTREAM size limit
 * exceeded. ERROR" and closes, and a writer still sending loses that reply to EPIPE.
 */
export async function clamdInstream(
  socketPath: string,
  file: string | Buffer,
  timeoutMs: number,
): Promise<ClamdVerdict> {
  const sock = await connect(socketPath, timeoutMs);
  return new Promise<ClamdVerdict>((resolve) => {
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (v: ClamdVerdict) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const fromReply = (): ClamdVerdict | null => {
      const text = splitRecords(Buffer.concat([...chunks, Buffer.from([NUL])])).records[0];
      if (!text || text.length === 0) return null;
      const r = parseRecord(text.toString("utf8"));
      return r ? r.verdict : parseVerdict(text.toString("utf8"));
    };
    const timer = setTimeout(
      () => finish({ kind: "error", message: `no reply within ${timeoutMs} ms` }),
      timeoutMs,
    );
    sock.on("data", (b: Buffer) => {
      chunks.push(b);
      if (b.includes(NUL)) finish(fromReply() ?? { kind: "error", message: "empty reply" });
    });
    // A reply may arrive before the socket breaks (size limit): prefer it over the error.
    sock.on("error", (e) => finish(fromReply() ?? { kind: "error", message: e.message }));
    sock.on("end", () => finish(fromReply() ?? { kind: "error", message: "closed without reply" }));
    sock.write("zINSTREAM\0");
    const input = createReadStream(file, { highWaterMark: 256 * 1024 });
    input.on("error", (e) => finish({ kind: "error", message: `read: ${e.message}` }));
    input.on("data", (chunk) => {
      const b = chunk as Buffer;
      const len = Buffer.alloc(4);
      len.writeUInt32BE(b.length);
      if (!sock.write(Buffer.concat([len, b]))) {
        input.pause();
        sock.once("drain", () => input.resume());
      }
    });
    input.on("end", () => sock.write(Buffer.alloc(4)));
  });
}

interface Pending {
  path: Buffer;
  resolve: (v: ClamdVerdict) => void;
}

/**
 * One IDSESSION connection: many SCAN commands in flight, dispatched by clamd to its thread pool,
 * replies tagged with the command's number (clamd counts commands from 1 in the order received).
 * The caller bounds the number in flight below clamd's MaxQueue.
 */
export class ClamdSession {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private rest: Buffer = Buffer.alloc(0);
  private failure: Error | null = null;

  private constructor(private readonly sock: Socket) {
    sock.on("data", (b: Buffer) => this.onData(b));
    const fail = (e: Error) => this.failAll(e);
    sock.on("error", fail);
    sock.on("close", () => fail(new Error("clamd closed the session")));
  }

  static async open(socketPath: string, timeoutMs = 5000): Promise<ClamdSession> {
    const sock = await connect(socketPath, timeoutMs);
    sock.write("zIDSESSION\0");
    return new ClamdSession(sock);
  }

  get inFlight(): number {
    return this.pending.size;
  }

  /** The session ended (clamd closed it, e.g. a command-read or idle time-out): open another. */
  get broken(): boolean {
    return this.failure !== null;
  }

  /** Scan one absolute path (as raw bytes) with clamd's own open(). */
  scan(path: Buffer): Promise<ClamdVerdict> {
    if (this.failure) return Promise.resolve({ kind: "error", message: this.failure.message });
    const id = this.nextId++;
    return new Promise((resolve) => {
      this.pending.set(id, { path, resolve });
      this.sock.write(Buffer.concat([Buffer.from("zSCAN "), path, Buffer.from([NUL])]));
    });
  }

  end(): void {
    if (!this.failure) this.sock.end("zEND\0");
    this.failure ??= new Error("session ended");
  }

  destroy(): void {
    this.sock.destroy();
  }

  private onData(b: Buffer): void {
    const { records, rest } = splitRecords(this.rest.length ? Buffer.concat([this.rest, b]) : b);
    this.rest = Buffer.from(rest);
    for (const rec of records) {
      const s = parseSessionRecord(rec);
      if (!s) {
        // An untagged error ends the session on clamd's side (e.g. "COMMAND READ TIMED OUT").
        this.failAll(new Error(`clamd: ${rec.toString("utf8").slice(0, 200)}`));
        continue;
      }
      const p = this.pending.get(s.id);
      if (!p) continue;
      this.pending.delete(s.id);
      p.resolve(parseKnownPathRecord(s.body, p.path));
    }
  }

  private failAll(e: Error): void {
    this.failure ??= e;
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.resolve({ kind: "error", message: e.message });
    }
  }
}
