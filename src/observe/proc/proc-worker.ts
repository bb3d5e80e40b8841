/**
 * The worker thread of a process reading: built as its own file, dist/cli/proc-worker.cjs
 * (scripts/build.mjs), and started by processes.ts, so that the executables' SHA-256 and
 * part of /proc are computed and read on another core while the main thread reads the rest
 * (bench/snapshot-vs-ps.ts measured what it saves).
 *
 * A hash job takes precedence: between two slices of the reading, the jobs waiting on the
 * port are hashed first. Slices of the pid list are taken from a counter shared with the
 * main thread, so whichever thread is free reads the next one. Each hash job has a claim:
 * the main thread takes the jobs this thread has not started once the reading is done, so a
 * job is hashed by exactly one of them.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { type MessagePort, receiveMessageOnPort, workerData } from "node:worker_threads";
import {
  type HashJob,
  type HashResult,
  hashExecutable,
  type RawReadResult,
  readRawProcesses,
} from "./raw-read.js";

/** What the worker is started with. */
export interface ProcWorkerData {
  port: MessagePort;
  /** One Int32 per hash job slot: 0 while nobody hashes it. */
  claims: SharedArrayBuffer;
  /** One Int32: the next slice of `pids` to read, shared with the main thread. */
  next: SharedArrayBuffer;
  root: string;
  pids: readonly number[];
  sliceSize: number;
}

/** What the worker sends back: one hash, or the processes of one slice. */
export type ProcWorkerMessage =
  | { kind: "hash"; result: HashResult }
  | { kind: "slice"; index: number; result: RawReadResult };

const data = workerData as ProcWorkerData;
const port = data.port;
const claims = new Int32Array(data.claims);
const next = new Int32Array(data.next);
const slices = Math.ceil(data.pids.length / data.sliceSize);
const buffer = Buffer.allocUnsafe(1024 * 1024);

const send = (m: ProcWorkerMessage) => port.postMessage(m);
const work = (job: HashJob) => {
  if (Atomics.compareExchange(claims, job.slot, 0, 1) !== 0) return;
  send({ kind: "hash", result: hashExecutable(fs, createHash, job, buffer) });
};
for (;;) {
  const waiting = receiveMessageOnPort(port);
  if (waiting !== undefined) {
    work(waiting.message as HashJob);
    continue;
  }
  const index = Atomics.add(next, 0, 1);
  if (index >= slices) break;
  const at = index * data.sliceSize;
  const pids = data.pids.slice(at, at + data.sliceSize);
  send({ kind: "slice", index, result: readRawProcesses(fs, data.root, pids) });
}
port.on("message", work);
