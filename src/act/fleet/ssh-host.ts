/**
 * One host of a fleet run, over the system's OpenSSH client: one TCP connection (a
 * ControlMaster this module starts and stops by pid), BatchMode (never a prompt), host keys
 * checked against known_hosts (StrictHostKeyChecking=yes: an unknown or changed key is
 * refused, never accepted). Through that connection: copy the single executable into a
 * private temporary directory (mktemp -d, umask 077; gzip-compressed when the run has it, see
 * transfer.ts), check the SHA-256 of the file there, run the command with --json --out, stream
 * the bundle back as tar, remove the directory.
 *
 * Nothing from the host goes into a command string: the remote scripts are constants, the
 * temporary directory's path the host reports is checked against mktemp's pattern first, and
 * the admin's own arguments are single-quoted.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createReadStream, existsSync } from "node:fs";
import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";
import type { FLEET_HOST_STATES } from "../../model/fleet-output.js";
import type { InventoryHost } from "../../observe/inventory/inventory.js";
import type { CompressedOnce } from "./transfer.js";

/** Every host ends in one of these (the case manifest's list). */
export type HostState = (typeof FLEET_HOST_STATES)[number];

export interface SshSettings {
  /** known_hosts to check against (UserKnownHostsFile); null: ssh's default files. */
  knownHosts: string | null;
  /** A private key (IdentityFile); null: ssh's defaults and agent. */
  identity: string | null;
  /** ssh_config to use (-F); null: the user's and the system's. */
  config: string | null;
  connectTimeoutS: number;
}

export interface HostRun {
  host: InventoryHost;
  ssh: SshSettings;
  /** The single executable to copy, and its SHA-256 computed in this run. */
  exe: string;
  exeSha256: string;
  command: string;
  args: readonly string[];
  /** The command's run on the host (the copy and the fetch have their own bound, TRANSFER_MS). */
  timeoutMs: number;
  /** Where this host's bundle is unpacked (created). */
  hostDir: string;
  /** A private directory for the control socket. */
  controlDir: string;
  /** Interrupted (Ctrl-C, SIGTERM): the running step is stopped; the clean-up still runs. */
  signal?: AbortSignal;
  /**
   * The executable gzip-compressed once for the run: copied compressed and decompressed on the
   * host (which then hashes the decompressed file). Absent: the plain copy.
   */
  compressed?: CompressedOnce | null;
}

export interface Step {
  step: "connect" | "copy" | "run" | "fetch" | "clean";
  ms: number;
}

export interface HostOutcome {
  state: HostState;
  /** The remote command's exit code, when it ran. */
  exitCode: number | null;
  /** Why, in words, when not ok (the last stderr lines are host data: sanitise when shown). */
  reason: string | null;
  stderrTail: string[];
  remoteSha256: string | null;
  /** How the executable was copied (null: not copied). */
  copy: "gzip" | "plain" | null;
  /** The remote command's stdout (its --json), bounded. */
  output: string | null;
  /** The unpacked bundle directory, before verification. */
  bundleDir: string | null;
  steps: Step[];
}

const MAX_OUTPUT = 64 * 1024 * 1024;
/** The copy of the executable, and the fetch of a bundle: ten minutes each at most. */
const TRANSFER_MS = 600_000;
const MAX_STDERR = 64 * 1024;
const REMOTE_DIR = /^\/[A-Za-z0-9_./-]*\/breachkit\.[A-Za-z0-9]{8,}$/;

/** The admin's argument as one shell word. */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function target(h: InventoryHost): string {
  return h.user ? `${h.user}@${h.address}` : h.address;
}

function baseArgs(run: HostRun, control: string): string[] {
  const a: string[] = [];
  if (run.ssh.config) a.push("-F", run.ssh.config);
  a.push(
    "-o",
    "BatchMode=yes",
    "-o",
    "StrictHostKeyChecking=yes",
    "-o",
    `ConnectTimeout=${run.ssh.connectTimeoutS}`,
    "-o",
    `ControlPath=${control}`,
    "-o",
    "ServerAliveInterval=15",
    "-o",
    "LogLevel=ERROR",
  );
  if (run.ssh.knownHosts) a.push("-o", `UserKnownHostsFile=${run.ssh.knownHosts}`);
  if (run.ssh.identity) a.push("-o", "IdentitiesOnly=yes", "-i", run.ssh.identity);
  if (run.host.port !== null) a.push("-p", String(run.host.port));
  return a;
}

interface Done {
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Run one ssh through the shared connection; stdin from a file or nothing; killed at the deadline. */
function sshRun(
  run: HostRun,
  control: string,
  remote: string,
  opts: {
    /** What goes to the remote command's stdin (a new stream per call). */
    stdin?: () => Readable;
    stdoutTo?: (c: ChildProcess) => Promise<void>;
    timeoutMs: number;
    /** Stopped when the run is interrupted (every step but the clean-up). */
    abortable?: boolean;
  },
): Promise<Done> {
  return new Promise((resolve) => {
    const child = spawn(
      "ssh",
      [...baseArgs(run, control), "-o", "ControlMaster=no", "--", target(run.host), remote],
      // Its own process group: a Ctrl-C at the terminal reaches fleet, which stops this step
      // itself, and not the clean-up's ssh or the shared connection the clean-up needs.
      { stdio: [opts.stdin ? "pipe" : "ignore", "pipe", "pipe"], detached: true },
    );
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    // Its failure is taken now: the local tar may fail (a stream cut by Ctrl-C or a timeout)
    // before ssh closes, and a rejection nobody awaits yet would end the whole process.
    const piped = opts.stdoutTo
      ? opts.stdoutTo(child).then(
          () => null,
          (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
        )
      : null;
    if (!piped) {
      child.stdout?.setEncoding("utf8");
      child.stdout?.on("data", (d: string) => {
        if (stdout.length < MAX_OUTPUT) stdout += d;
      });
    }
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      stderr = (stderr + d).slice(-MAX_STDERR);
    });
    if (opts.stdin && child.stdin) {
      // The remote may end without reading it all (a host without gzip): EPIPE is expected.
      const src = opts.stdin();
      src.on("error", () => child.stdin?.destroy());
      child.stdin.on("error", () => src.destroy());
      src.pipe(child.stdin);
    }
    // KILL: an ssh that shares the connection (a mux client) ignores TERM and INT until the
    // remote command ends (measured: 28 s for a `sleep 30`). The shared connection stays up
    // for the clean-up; what ran on the host is stopped there (stopRun) before it is removed.
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, opts.timeoutMs);
    const stop = () => child.kill("SIGKILL");
    const signal = opts.abortable ? run.signal : undefined;
    if (signal?.aborted) stop();
    signal?.addEventListener("abort", stop, { once: true });
    child.on("error", (e) => {
      stderr += `\n${e.message}`;
    });
    child.on("close", async (code, exitSignal) => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", stop);
      const pipeError = piped ? await piped : null;
      if (pipeError) stderr += `\n${pipeError.message}`;
      resolve({ code, signal: exitSignal, stdout, stderr, timedOut });
    });
  });
}

/** What ssh's own failure (exit 255) says, as a state. */
export function classifySshFailure(stderr: string): HostState {
  if (
    /Host key verification failed|REMOTE HOST IDENTIFICATION HAS CHANGED|host key .*(not known|mismatch)|No [A-Z0-9-]+ host key is known/i.test(
      stderr,
    )
  )
    return "host-key-refused";
  if (
    /Permission denied|Too many authentication failures|no more authentication methods/i.test(
      stderr,
    )
  )
    return "auth-failed";
  if (/timed out/i.test(stderr)) return "timed-out";
  return "unreachable";
}

const tail = (s: string, n = 10) =>
  s
    .split("\n")
    .map((l) => l.trimEnd())
    .filter((l) => l !== "")
    .slice(-n);

/** Start the connection (ControlMaster, this process's child): resolves when it is up or gone. */
async function connect(
  run: HostRun,
  control: string,
): Promise<{ master: ChildProcess | null; state: HostState | null; stderr: string }> {
  const master = spawn(
    "ssh",
    [
      ...baseArgs(run, control),
      "-o",
      "ControlMaster=yes",
      "-o",
      "ControlPersist=no",
      "-N",
      "--",
      target(run.host),
    ],
    { stdio: ["ignore", "ignore", "pipe"], detached: true },
  );
  let stderr = "";
  let exited = false;
  master.stderr?.setEncoding("utf8");
  master.stderr?.on("data", (d: string) => {
    stderr = (stderr + d).slice(-MAX_STDERR);
  });
  master.on("error", (e) => {
    stderr += `\n${e.message}`;
    exited = true;
  });
  const closed = new Promise<void>((r) =>
    master.on("close", () => {
      exited = true;
      r();
    }),
  );
  const deadline = Date.now() + (run.ssh.connectTimeoutS + 5) * 1000;
  while (!exited && Date.now() < deadline) {
    if (existsSync(control)) return { master, state: null, stderr };
    await Promise.race([sleep(20), closed]);
  }
  if (!exited) {
    master.kill("SIGTERM");
    await closed;
    return { master: null, state: "timed-out", stderr: `${stderr}\nconnection not up in time` };
  }
  return { master: null, state: classifySshFailure(stderr), stderr };
}

async function stopMaster(master: ChildProcess): Promise<void> {
  if (master.exitCode !== null || master.signalCode !== null) return;
  const closed = new Promise<void>((r) => master.once("close", () => r()));
  master.kill("SIGTERM");
  // The 5 s bound is cancelled once the master has closed: a pending timer would keep fleet's
  // process alive for the rest of it (measured: every run ended 5 s after its last host).
  const bound = new AbortController();
  await Promise.race([
    closed,
    sleep(5000, undefined, { signal: bound.signal }).catch(() => undefined),
  ]);
  bound.abort();
}

/**
 * Before the clean-up of a run that did not end by itself: TERM the run (`timeout`, which
 * passes it on to breachkit, or breachkit itself), wait up to 10 s for it to end (breachkit
 * seals what it has), then KILL it. The pid is read on the host from run.pid, digits only.
 * `dir` has passed REMOTE_DIR.
 */
const stopRun = (dir: string) =>
  `p=$(cat ${shellQuote(`${dir}/run.pid`)} 2>/dev/null); case "$p" in ''|*[!0-9]*) p=;; esac; if [ -n "$p" ]; then kill -TERM "$p" 2>/dev/null; i=0; while kill -0 "$p" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.2; i=$((i+1)); done; kill -KILL "$p" 2>/dev/null; fi; `;

/**
 * The copy: a private directory (its path printed first, so that a copy that fails half-way is
 * still removed), the executable from stdin, then the SHA-256 of what is there. COPY_GZ
 * decompresses first (the hash is of the decompressed file); a host without gzip answers
 * NO_GZIP with exit 3 before it makes anything, and gets the plain copy.
 */
const MKDIR = `umask 077 && d=$(mktemp -d "\${TMPDIR:-/tmp}/breachkit.XXXXXXXX") && printf '%s\\n' "$d"`;
const HASH = `chmod 700 "$d/breachkit" && sha256sum "$d/breachkit"`;
const COPY = `${MKDIR} && cat > "$d/breachkit" && ${HASH}`;
const NO_GZIP = "breachkit: no gzip";
const COPY_GZ = `command -v gzip >/dev/null 2>&1 || { echo '${NO_GZIP}'; exit 3; }; ${MKDIR} && gzip -dc > "$d/breachkit" && ${HASH}`;

/** Run the whole sequence for one host; never throws. */
export async function runHost(run: HostRun): Promise<HostOutcome> {
  const steps: Step[] = [];
  const out: HostOutcome = {
    state: "ok",
    exitCode: null,
    reason: null,
    stderrTail: [],
    remoteSha256: null,
    copy: null,
    output: null,
    bundleDir: null,
    steps,
  };
  const control = join(run.controlDir, "c");
  const timed = async <T>(step: Step["step"], f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    try {
      return await f();
    } finally {
      steps.push({ step, ms: Math.round(performance.now() - t0) });
    }
  };
  const c = await timed("connect", () => connect(run, control));
  if (c.state !== null || c.master === null) {
    out.state = c.state ?? "unreachable";
    out.reason = `ssh could not connect (${out.state})`;
    out.stderrTail = tail(c.stderr);
    return out;
  }
  const master = c.master;
  let dir: string | null = null;
  /** The run did not end on the host by itself (interrupted, or the local bound). */
  let runLeftOver = false;
  const fail = (state: HostState, reason: string, d?: Done): HostOutcome => {
    out.state = state;
    out.reason = reason;
    if (d) out.stderrTail = tail(d.stderr);
    return out;
  };
  try {
    const plain = () =>
      sshRun(run, control, COPY, {
        stdin: () => createReadStream(run.exe, { highWaterMark: 1 << 20 }),
        timeoutMs: TRANSFER_MS,
        abortable: true,
      });
    const gz = run.compressed;
    const copy = await timed("copy", async () => {
      out.copy = gz ? "gzip" : "plain";
      if (!gz) return plain();
      const first = await sshRun(run, control, COPY_GZ, {
        stdin: () => gz.stream(),
        timeoutMs: TRANSFER_MS,
        abortable: true,
      });
      if (first.code !== 3 || first.stdout.trim() !== NO_GZIP || run.signal?.aborted) return first;
      out.copy = "plain";
      return plain();
    });
    const lines = copy.stdout.split("\n");
    if (run.signal?.aborted) return fail("command-failed", "interrupted while copying", copy);
    if (copy.timedOut) return fail("timed-out", "copying the executable took too long", copy);
    if (copy.code === 255)
      return fail(classifySshFailure(copy.stderr), "ssh failed while copying", copy);
    const reported = lines[0] ?? "";
    if (REMOTE_DIR.test(reported) && !reported.includes("..")) dir = reported;
    if (copy.code !== 0 || dir === null) {
      return fail("command-failed", `copying the executable failed (exit ${copy.code})`, copy);
    }
    out.remoteSha256 = /^([0-9a-f]{64})\s/.exec(lines[1] ?? "")?.[1] ?? null;
    if (out.remoteSha256 !== run.exeSha256) {
      return fail(
        "exe-altered",
        `the executable on the host has SHA-256 ${out.remoteSha256 ?? "(none reported)"}, not ${run.exeSha256}: not run`,
        copy,
      );
    }
    // The host's own `timeout` stops the command (which seals its bundle incomplete on
    // SIGTERM); ssh is killed here 8 s later if the host did not. The shell stays (no exec)
    // so that a command killed by a signal comes back as its status 128+N, not as ssh's 255.
    // NODE_OPTIONS from the host's environment is not given to breachkit.
    const secs = Math.max(1, Math.ceil(run.timeoutMs / 1000));
    const cmd = [run.command, "--json", "--out", `${dir}/out`, ...run.args]
      .map(shellQuote)
      .join(" ");
    // In the background with its pid in run.pid, so that a run stopped here (Ctrl-C, the local
    // bound) can be stopped on the host too before its directory is removed: closing the ssh
    // channel does not end a command that has no terminal.
    const remote = `cd ${shellQuote(dir)} && mkdir out && unset NODE_OPTIONS && { if command -v timeout >/dev/null 2>&1; then timeout -k 5 ${secs} ./breachkit ${cmd} & else ./breachkit ${cmd} & fi; } && echo $! > run.pid && wait $!`;
    const runStarted = performance.now();
    const r = await timed("run", () =>
      sshRun(run, control, remote, { timeoutMs: run.timeoutMs + 8000, abortable: true }),
    );
    runLeftOver = r.timedOut || r.code === null || run.signal?.aborted === true;
    out.exitCode = r.code;
    out.output = r.stdout;
    out.stderrTail = tail(r.stderr);
    const ranFor = performance.now() - runStarted;
    if (run.signal?.aborted) {
      fail("command-failed", `interrupted: ${run.command} was stopped`, r);
    } else if (
      r.timedOut ||
      r.code === 124 ||
      // timeout -k's KILL; a SIGKILL before the time (the OOM killer) is a failure below
      (r.code === 137 && ranFor >= run.timeoutMs)
    ) {
      fail(
        "timed-out",
        `${run.command} did not finish within ${Math.round(run.timeoutMs / 1000)} s`,
        r,
      );
    } else if (r.code === 255 || r.code === null) {
      const state = classifySshFailure(r.stderr);
      fail(
        state === "unreachable" ? "command-failed" : state,
        "the connection failed while the command ran",
        r,
      );
    } else if (r.code > 128 && r.code < 160) {
      fail(
        "command-failed",
        `${run.command} was killed by signal ${r.code - 128} (exit ${r.code})`,
        r,
      );
    } else if (r.code !== 0 && r.code !== 1) {
      fail("command-failed", `${run.command} exited ${r.code}`, r);
    }
    // The bundle (also an incomplete one, after a timeout) comes back over the connection.
    const bundleRoot = join(run.hostDir, "bundle");
    await mkdir(bundleRoot, { recursive: true, mode: 0o700 });
    const f = await timed("fetch", () =>
      sshRun(run, control, `cd ${shellQuote(`${dir}/out`)} && tar -cf - .`, {
        timeoutMs: TRANSFER_MS,
        abortable: true,
        stdoutTo: (child) =>
          new Promise<void>((resolve, reject) => {
            // GNU tar: no owners or modes from the archive, nothing outside bundleRoot
            // (it strips leading / and refuses .. itself, and defers links that point out).
            const x = spawn(
              "tar",
              [
                "-x",
                "-f",
                "-",
                "-C",
                bundleRoot,
                "--no-same-owner",
                "--no-same-permissions",
                "--no-overwrite-dir",
              ],
              { stdio: ["pipe", "ignore", "pipe"] },
            );
            let xerr = "";
            x.stderr?.setEncoding("utf8");
            x.stderr?.on("data", (d: string) => {
              xerr = (xerr + d).slice(-4096);
            });
            child.stdout?.pipe(x.stdin!);
            x.stdin?.on("error", () => {});
            x.on("close", (code) =>
              code === 0 ? resolve() : reject(new Error(`local tar: ${xerr.trim()}`)),
            );
          }),
      }),
    );
    if (f.code === 0) {
      const names = (await readdir(bundleRoot).catch(() => [] as string[])).filter((n) =>
        n.startsWith("breachkit-"),
      );
      if (names.length === 1) out.bundleDir = join(bundleRoot, names[0] as string);
    }
    if (out.state === "ok" && out.bundleDir === null) {
      fail("command-failed", `${run.command} left no bundle to fetch`, f);
    }
  } finally {
    if (dir !== null) {
      const d = dir;
      await timed("clean", () =>
        sshRun(run, control, `${runLeftOver ? stopRun(d) : ""}rm -rf -- ${shellQuote(d)}`, {
          timeoutMs: 30_000,
        }),
      );
    }
    await stopMaster(master);
  }
  return out;
}
