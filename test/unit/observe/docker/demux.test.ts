import { readFileSync } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { describe, expect, it } from "vitest";
import {
  type DemuxOptions,
  DockerFrameDecoder,
  demuxDockerStream,
  STREAM_STDERR,
  STREAM_STDOUT,
} from "../../../../src/observe/docker/demux.js";
import { EngineError } from "../../../../src/observe/docker/engine-error.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../../fixtures/docker/${name}`, import.meta.url));

// Recorded from Engine 20.10 (local log driver, which keeps the bytes the container wrote).
const plain = fixture("logs-multiplexed-plain.bin");
const stamped = fixture("logs-multiplexed.bin");
const expectedStdout = fixture("logs-expected-stdout.bin");
const expectedStderr = fixture("logs-expected-stderr.bin");

async function demux(
  chunks: Buffer[],
  options?: DemuxOptions,
): Promise<{ out: Buffer; error: unknown }> {
  const parts: Buffer[] = [];
  let error: unknown = null;
  try {
    await pipeline(Readable.from(chunks), demuxDockerStream(options), async (source) => {
      for await (const chunk of source) parts.push(chunk as Buffer);
    });
  } catch (e) {
    error = e;
  }
  return { out: Buffer.concat(parts), error };
}

function splitEvery(buf: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < buf.length; i += size) out.push(buf.subarray(i, i + size));
  return out;
}

describe("demuxDockerStream on a recorded log stream", () => {
  it("gives back each stream byte for byte, ANSI escapes and invalid UTF-8 included", async () => {
    const stdout = await demux([plain], { streams: [STREAM_STDOUT] });
    const stderr = await demux([plain], { streams: [STREAM_STDERR] });
    expect(stdout.error).toBeNull();
    expect(stdout.out.equals(expectedStdout)).toBe(true);
    expect(stderr.out.equals(expectedStderr)).toBe(true);
    expect(stdout.out.includes(Buffer.from([0x62, 0x61, 0x64, 0x20, 0xff, 0xfe]))).toBe(true);
    expect(stderr.out.toString("latin1")).toContain("\u001b[31mred\u001b[0m\n");
    expect(stderr.out.toString("latin1").endsWith("no newline")).toBe(true);
  });

  it("merges both streams in the order the engine sent them", async () => {
    const both = await demux([plain]);
    expect(both.out.length).toBe(expectedStdout.length + expectedStderr.length);
    expect(both.out.subarray(0, 9).toString()).toBe("line one\n");
    expect(both.out.subarray(9, 22).toString("latin1")).toBe("\u001b[31mred\u001b[0m\n");
  });

  it("gives the same bytes however the stream is split into chunks", async () => {
    const whole = (await demux([plain])).out;
    for (const size of [1, 2, 3, 7, 8, 9, 13, 4096]) {
      const { out, error } = await demux(splitEvery(plain, size));
      expect(error, `chunk size ${size}`).toBeNull();
      expect(out.equals(whole), `chunk size ${size}`).toBe(true);
    }
    // Irregular splits, deterministic: header and payload boundaries fall anywhere.
    let seed = 7;
    const chunks: Buffer[] = [];
    for (let i = 0; i < stamped.length; ) {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      const n = 1 + (seed % 23);
      chunks.push(stamped.subarray(i, i + n));
      i += n;
    }
    expect((await demux(chunks)).out.equals((await demux([stamped])).out)).toBe(true);
  });

  it("keeps the engine's timestamps at the start of every line", async () => {
    const { out } = await demux([stamped], { streams: [STREAM_STDOUT] });
    const first = out.toString("latin1").split("\n")[0] ?? "";
    expect(first).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z line one$/);
  });

  it("shows that the json-file driver already lost invalid UTF-8 (U+FFFD in its stream)", async () => {
    const { out } = await demux([fixture("logs-multiplexed-json-file.bin")], {
      streams: [STREAM_STDOUT],
    });
    expect(out.toString("utf8")).toContain("bad \ufffd\ufffd utf8\n");
    expect(out.includes(Buffer.from([0xff]))).toBe(false);
  });

  it("emits what arrived and then fails when the stream ends inside a frame", async () => {
    for (const cut of [3, 8, 12, 30, plain.length - 1]) {
      const { out, error } = await demux(splitEvery(plain.subarray(0, cut), 5));
      expect(error, `cut at ${cut}`).toBeInstanceOf(EngineError);
      expect((error as EngineError).code).toBe("PROTOCOL");
      expect((error as EngineError).message).toMatch(/ended inside a frame/);
      expect(out.length).toBeLessThan(cut);
    }
  });

  it("ends cleanly when the stream is cut exactly between frames", async () => {
    // First frame: 8-byte header + "line one\n".
    const { out, error } = await demux([plain.subarray(0, 17)]);
    expect(error).toBeNull();
    expect(out.toString()).toBe("line one\n");
  });

  it("refuses a TTY stream (raw bytes, no frames) instead of corrupting it", async () => {
    const { error, out } = await demux([fixture("logs-tty.bin")]);
    expect(error).toBeInstanceOf(EngineError);
    expect((error as EngineError).code).toBe("PROTOCOL");
    expect((error as EngineError).hint).toMatch(/TTY/);
    expect(out.length).toBe(0);
  });

  it("refuses a header whose reserved bytes are not zero", async () => {
    const bad = Buffer.from([1, 0, 1, 0, 0, 0, 0, 1, 0x41]);
    const { error } = await demux([bad]);
    expect((error as EngineError).message).toMatch(/bad frame header 0100010000000001 at byte 0/);
  });

  it("handles empty frames and the engine's own error stream", async () => {
    const frames = Buffer.concat([
      Buffer.from([1, 0, 0, 0, 0, 0, 0, 0]),
      Buffer.from([3, 0, 0, 0, 0, 0, 0, 4]),
      Buffer.from("oops"),
    ]);
    const decoder = new DockerFrameDecoder();
    const pieces = decoder.push(frames);
    // An empty frame yields nothing to pass on.
    expect(pieces.map((p) => [p.stream, p.data.toString()])).toEqual([[3, "oops"]]);
    expect(decoder.incomplete).toBe(false);
    expect((await demux([frames], { streams: [STREAM_STDOUT] })).out.length).toBe(0);
  });
});
