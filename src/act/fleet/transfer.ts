/**
 * How a fleet run sends the executable with fewer bytes, without trusting anything more: it is
 * gzip-compressed once per run, in memory (it is not evidence, and it is gone at the end of
 * the run), and every host reads the same compressed bytes as they are produced. The host
 * decompresses with `gzip -dc` (in every Debian; a host without gzip gets the plain copy), and
 * the SHA-256 checked there is the DECOMPRESSED file's, against the one computed here from the
 * executable: what runs is proven identical.
 *
 * Measured on a loopback sshd (README, `breachkit fleet`): 124.4 MiB become 45.8 MiB at gzip
 * level 3, and sshd spends about 4 times more CPU receiving a byte than sending one, whatever
 * the cipher (AES-GCM brought nothing over chacha20-poly1305 on this CPU, so ssh keeps its
 * choice).
 */
import { createReadStream } from "node:fs";
import { Readable } from "node:stream";
import { createGzip } from "node:zlib";

/**
 * A file gzip-compressed once, in memory, that any number of readers stream as it is produced
 * (the first hosts need not wait for the whole of it).
 */
export class CompressedOnce {
  private readonly chunks: Buffer[] = [];
  private done = false;
  private error: Error | null = null;
  private waiters: (() => void)[] = [];
  /** Compressed bytes so far (all of them once `finished` resolves). */
  bytes = 0;
  readonly finished: Promise<void>;
  private readonly stop: () => void;

  constructor(file: string, level: number) {
    const gz = createGzip({ level, memLevel: 9 });
    const src = createReadStream(file, { highWaterMark: 1 << 20 });
    this.stop = () => {
      src.destroy();
      gz.destroy();
    };
    this.finished = new Promise((resolve) => {
      const end = (e: Error | null) => {
        if (!this.done) {
          this.error = e;
          this.done = true;
          this.wake();
        }
        resolve();
      };
      src.on("error", (e) => {
        gz.destroy();
        end(e);
      });
      gz.on("error", (e) => end(e));
      gz.on("data", (c: Buffer) => {
        this.chunks.push(c);
        this.bytes += c.length;
        this.wake();
      });
      gz.on("end", () => end(null));
      gz.on("close", () => end(new Error("the compression stopped")));
      src.pipe(gz);
    });
  }

  /** The end of the run: the compression stops (if it still runs), the memory is freed. */
  close(): void {
    if (!this.done) {
      this.error = new Error("the fleet run ended");
      this.done = true;
      this.wake();
    }
    this.stop();
    this.chunks.length = 0;
  }

  private wake() {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** A new stream of the whole compressed file (it fails if the compression fails). */
  stream(): Readable {
    const self = this;
    async function* read() {
      let i = 0;
      for (;;) {
        if (i < self.chunks.length) {
          yield self.chunks[i++] as Buffer;
        } else if (self.error) {
          throw self.error;
        } else if (self.done) {
          return;
        } else {
          await new Promise<void>((r) => self.waiters.push(r));
        }
      }
    }
    return Readable.from(read(), { objectMode: false });
  }
}
