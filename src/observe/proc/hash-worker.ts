/**
 * The hash worker: built as its own file, dist/cli/hash-worker.cjs (scripts/build.mjs), and
 * started by processes.ts, so that the executables' SHA-256 is computed on another core
 * while the main thread reads /proc (bench/snapshot-vs-ps.ts measured what it saves).
 *
 * Jobs arrive in the order the processes were read. Each job has a claim in `claims`: the
 * main thread takes the jobs this thread has not started once its reading is done, so a
 * job is hashed by exactly one of them.
 */
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { parentPort, workerData } from "node:worker_threads";
import { type HashJob, hashExecutable } from "./raw-read.js";

const claims = new Int32Array((workerData as { claims: SharedArrayBuffer }).claims);
const buffer = Buffer.allocUnsafe(1024 * 1024);
const port = parentPort;
port?.on("message", (job: HashJob) => {
  if (Atomics.compareExchange(claims, job.slot, 0, 1) !== 0) return;
  port.postMessage(hashExecutable(fs, createHash, job, buffer));
});
