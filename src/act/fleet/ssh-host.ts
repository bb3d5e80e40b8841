/**
 * One host of a fleet run, over the system's OpenSSH client: one TCP connection (a
 * ControlMaster this module starts and stops by pid), BatchMode (never a prompt), host keys
 * checked against known_hosts (StrictHostKeyChecking=yes: an unknown or changed key is
 * refused, never accepted). Through that connection: copy the single executable into a
 * private temporary directory (mktemp -d, umask 077; gzip-compressed when the run has it, see
 * transfer.ts), check the SHA-256 of the file there, run the command with --json --out, stream
 * the bundle back as tar, remove the directory (in the same round trip as the fetch when the
 * command ended by itself).
 *
 * With --keep-exe (opt-in), a verified copy kept on the host (~/.cache/breachkit/exe/<SHA-256>)
 * is copied into that private directory instead, hashed there in this run, and run when equal:
 * check, run, fetch and clean-up in one round trip (see checkPrefix). Not equal, refused or absent: the fresh
 * copy as above, which is then stored for later runs.
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
  compressed?: Pick<CompressedOnce, "stream"> | null;
  /** --keep-exe: reuse (after hashing, in this run) and store a copy kept on the host. */
  keep?: boolean;
  /** A UTC stamp made for this fleet run (digits, T, Z): names a kept file set aside. */
  keepStamp?: string;
}

export interface Step {
  step: "connect" | "check" | "copy" | "run" | "fetch" | "fetch+clean" | "clean";
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
  /** How the executable got to the run's directory (null: it did not). */
  copy: "gzip" | "plain" | "kept" | null;
  /** What --keep-exe found and did (null: not asked for, or not reached). */
  keep: KeepRecord | null;
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
    /** Reads stdout itself; `bound` sets a new deadline from now (a step within the session). */
    stdoutTo?: (c: ChildProcess, bound: (ms: number) => void) => Promise<void>;
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
    const expire = () => {
      timedOut = true;
      child.kill("SIGKILL");
    };
    let timer = setTimeout(expire, opts.timeoutMs);
    const bound = (ms: number) => {
      clearTimeout(timer);
      timer = setTimeout(expire, ms);
    };
    // Its failure is taken now: the local tar may fail (a stream cut by Ctrl-C or a timeout)
    // before ssh closes, and a rejection nobody awaits yet would end the whole process.
    const piped = opts.stdoutTo
      ? opts.stdoutTo(child, bound).then(
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
 * The SHA-256 of "$1" on the host, one line with the hex digest first: OpenSSL's when the host
 * has it (it uses the CPU's SHA instructions: 0.12 s for the 124 MiB executable here, against
 * 0.30 s for coreutils' sha256sum), else sha256sum's. Both are the host's own tools, trusted
 * alike (as `sh`, `cat` and `gzip` are).
 */
const SHA = `bk_sha() { openssl dgst -sha256 -r "$1" 2>/dev/null || sha256sum "$1"; }`;
/**
 * The copy: a private directory (its path printed first, so that a copy that fails half-way is
 * still removed), the executable from stdin, then the SHA-256 of what is there. The gzip copy
 * decompresses first (the hash is of the decompressed file); a host without gzip answers
 * NO_GZIP with exit 3 before it makes anything, and gets the plain copy. With --keep-exe the
 * directory is the one the kept-copy check made (`dir`), and a copy whose hash is the
 * executable's is then stored for later runs (KEEP's bk_store).
 */
const MKTEMP = `umask 077 && d=$(mktemp -d "\${TMPDIR:-/tmp}/breachkit.XXXXXXXX") && printf '%s\\n' "$d"`;
const NO_GZIP = "breachkit: no gzip";
function copyScript(gz: boolean, dir: string | null, keep: string | null): string {
  const head = dir === null ? MKTEMP : `umask 077 && d=${shellQuote(dir)} && printf '%s\\n' "$d"`;
  const write = gz ? `gzip -dc > "$d/breachkit"` : `cat > "$d/breachkit"`;
  const check = gz ? `command -v gzip >/dev/null 2>&1 || { echo '${NO_GZIP}'; exit 3; }; ` : "";
  const store = keep === null ? "" : ` && { [ "\${l%% *}" = "$E" ] && bk_store; true; }`;
  return `${SHA}; ${keep ?? ""}${check}${head} && ${write} && chmod 700 "$d/breachkit" && l=$(bk_sha "$d/breachkit") && printf '%s\\n' "$l"${store}`;
}

/**
 * --keep-exe: a verified copy kept on the host for later runs, at
 * ~/.cache/breachkit/exe/<SHA-256> (the ssh user's own: directories and file mode 0700, owned
 * by that user, no symbolic links; anything else is refused, and the file set aside). What is
 * run is never the kept file by its known path: the kept file is hard-linked into the run's
 * private temporary directory (copied with `cp` when the two are on different file systems),
 * and THAT name is hashed and run, as a freshly sent copy is. A link binds the file (its inode)
 * when it is made, so swapping the known path afterwards changes nothing; changing the file's
 * bytes needs the rights of the ssh user (or root), who could as well change a private copy
 * between its hash and its exec. So the kept copy changes how the bytes get to the run's
 * directory, not what is checked there. (The link saves the copy: 124 MiB, and two processes.)
 *
 * These are shell functions and constants: E is the executable's SHA-256 computed here in this
 * run, A a UTC time stamp made here (the name a refused or altered kept file is set aside
 * under); neither comes from the host.
 */
function keepFunctions(exeSha256: string, stamp: string): string {
  if (!/^[0-9a-f]{64}$/.test(exeSha256) || !/^[0-9TZ]+$/.test(stamp))
    throw new Error("bad keep parameters");
  return [
    `E=${exeSha256}; A=${stamp}`,
    `bk_k() { case "$HOME" in /*) K="$HOME/.cache/breachkit/exe"; f="$K/$E"; return 0;; esac; return 1; }`,
    `bk_dir() { [ "$(stat -c '%u:%a:%F' -- "$1" 2>/dev/null)" = "$u:700:directory" ]; }`,
    `bk_aside() { mv -fT -- "$f" "$K/$E.$1-$A" 2>/dev/null && echo "keep: aside $1"; }`,
    // Old versions (another SHA-256) go; set-aside files stay (evidence). bk_store also
    // removes what a store cut short left (.new.PID, an hour old).
    `bk_old() { for o in "$K"/*; do n=\${o##*/}; [ "$n" = "$E" ] && continue; case "$n" in *[!0-9a-f]*) continue;; esac; [ \${#n} -eq 64 ] && [ -f "$o" ] && [ ! -L "$o" ] && rm -f -- "$o"; done; }`,
    `bk_store() { bk_k || { echo 'keep: not-stored home'; return 0; }; u=$(id -u); mkdir -p -- "$HOME/.cache" 2>/dev/null; for p in "$HOME/.cache/breachkit" "$K"; do [ -e "$p" ] || [ -L "$p" ] || mkdir -m 700 -- "$p" 2>/dev/null; bk_dir "$p" || { echo 'keep: not-stored dir'; return 0; }; done; find "$K" -maxdepth 1 -type f -name '.new.*' -mmin +60 -exec rm -f -- {} + 2>/dev/null; t="$K/.new.$$"; if cp -- "$d/breachkit" "$t" && chmod 700 "$t" && mv -fT -- "$t" "$f"; then echo 'keep: stored'; bk_old; else rm -f -- "$t"; echo 'keep: not-stored copy'; fi; }`,
    "",
  ].join("; ");
}

/** Printed once the executable in the run's directory is verified, just before it runs. */
const RUNNING = "breachkit-fleet: verified, running";
/** Then, once the command ended: its exit status and the length of its stdout, which follows. */
const EXITED = /^breachkit-fleet: exit (\d{1,3}) \s*(\d{1,12})$/;

/**
 * The run, the fetch and the clean-up in ONE round trip (`prefix` sets d, prints it, and
 * RUNNING once the executable there is verified): the command with --json --out under the
 * host's `timeout`, its stdout into output.json; then "breachkit-fleet: exit S N", the N
 * bytes of output.json, the bundle as tar, and the directory removed (exit 70: it was not).
 *
 * The host's own `timeout` stops the command (which seals its bundle incomplete on SIGTERM);
 * the local bound is 8 s later. The shell stays (no exec) so that a command killed by a
 * signal comes back as its status 128+N. NODE_OPTIONS from the host's environment is not
 * given to breachkit. In the background with its pid in run.pid, so that a run stopped here
 * (Ctrl-C, the local bound) can be stopped on the host too before its directory is removed:
 * closing the ssh channel does not end a command that has no terminal.
 */
function runFetchScript(prefix: string, command: string, args: readonly string[], secs: number) {
  const cmd = `${shellQuote(command)} --json --out "$d/out"${args.map((a) => ` ${shellQuote(a)}`).join("")}`;
  return [
    prefix,
    `cd "$d" && mkdir out && unset NODE_OPTIONS && { if command -v timeout >/dev/null 2>&1; then timeout -k 5 ${secs} ./breachkit ${cmd} > output.json & else ./breachkit ${cmd} > output.json & fi; } && echo $! > run.pid && wait $!; s=$?`,
    `cd "$d" || exit 71`,
    `n=$(wc -c 2>/dev/null < output.json) || n=0`,
    `printf 'breachkit-fleet: exit %s %s\\n' "$s" "$n"; cat output.json 2>/dev/null`,
    `cd out && tar -cf - .; t=$?; cd / && rm -rf -- "$d" || exit 70; exit $t`,
  ].join("\n");
}

/**
 * --keep-exe's prefix: the kept-copy check, in the same round trip as the run. A private
 * directory; the kept file's owner, mode and type checked; linked (or copied) there, hashed
 * there and compared with E on the host; equal: RUNNING (and the run follows); not: exit 10
 * with what was found ("keep: none|refused …|sha256 H|altered|aside …"), the directory left
 * for the fresh copy. The hash is reported, and checked here again.
 */
function checkPrefix(keep: string): string {
  return [
    `${SHA}; ${keep}${MKTEMP} || exit 1`,
    `bk_k || { echo 'keep: none home'; exit 10; }`,
    // One stat for the usual case (the private directory, made just now, gives the ssh user's
    // uid); anything else takes the checks one by one, which say what was wrong.
    `s=$(stat -c '%u:%a:%F' -- "$d" "$HOME/.cache/breachkit" "$K" "$f" 2>/dev/null); u=\${s%%:*}`,
    `if [ "$s" != "$u:700:directory\n$u:700:directory\n$u:700:directory\n$u:700:regular file" ]; then u=$(id -u)`,
    `if [ ! -e "$f" ] && [ ! -L "$f" ]; then echo 'keep: none'; exit 10; fi`,
    `for p in "$HOME/.cache/breachkit" "$K"; do bk_dir "$p" || { echo 'keep: refused dir'; exit 10; }; done`,
    `[ "$(stat -c '%u:%a:%F' -- "$f" 2>/dev/null)" = "$u:700:regular file" ] || { echo 'keep: refused file'; bk_aside refused; exit 10; }`,
    `fi`,
    `ln -- "$f" "$d/breachkit" 2>/dev/null || { cp -- "$f" "$d/breachkit" && chmod 700 "$d/breachkit"; } || { rm -f -- "$d/breachkit"; echo 'keep: refused unreadable'; exit 10; }`,
    `l=$(bk_sha "$d/breachkit"); h=\${l%% *}`,
    `case "$h" in *[!0-9a-f]*|'') rm -f -- "$d/breachkit"; echo 'keep: refused nohash'; exit 10;; esac`,
    `printf 'keep: sha256 %s\\n' "$h"`,
    `if [ "$h" != "$E" ]; then rm -f -- "$d/breachkit"; echo 'keep: altered'; bk_aside altered; exit 10; fi`,
    `echo '${RUNNING}'`,
  ].join("\n");
}

/** The local side of a tar stream: GNU tar into `root`, no owners or modes from the archive. */
function untar(root: string): { stdin: NodeJS.WritableStream; done: Promise<void> } {
  // Nothing outside root: GNU tar strips leading / and refuses .. itself, and defers links
  // that point out.
  const x = spawn(
    "tar",
    ["-x", "-f", "-", "-C", root, "--no-same-owner", "--no-same-permissions", "--no-overwrite-dir"],
    { stdio: ["pipe", "ignore", "pipe"] },
  );
  let xerr = "";
  x.stderr?.setEncoding("utf8");
  x.stderr?.on("data", (d: string) => {
    xerr = (xerr + d).slice(-4096);
  });
  x.stdin?.on("error", () => {});
  const done = new Promise<void>((resolve, reject) => {
    x.on("error", (e) => reject(e));
    x.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`local tar: ${xerr.trim()}`)),
    );
  });
  return { stdin: x.stdin as NodeJS.WritableStream, done };
}

/** What the run-and-fetch round trip's stdout said, as it came. */
interface Framed {
  /** The text before RUNNING (the directory, keep's lines), or all of it without RUNNING. */
  head: string;
  /** When RUNNING came (ms after the start), and when the exit line did. */
  runningAt: number | null;
  exitedAt: number | null;
  /** The command's exit status, from the exit line. */
  status: number | null;
  output: string | null;
  /** The tar stream began (after the command's output). */
  tarStarted: boolean;
  protocolError: string | null;
}

const MAX_HEAD = 1 << 20;

/**
 * Splits the run-and-fetch stdout: head, RUNNING, the exit line, the output's N bytes, then
 * tar (into `root`). The bound is the run's once RUNNING came, TRANSFER_MS once the exit line did.
 */
function framedReader(
  f: Framed,
  root: string,
  runBoundMs: number,
): (c: ChildProcess, bound: (ms: number) => void) => Promise<void> {
  return (child, bound) =>
    new Promise<void>((resolve, reject) => {
      const t0 = performance.now();
      let phase: "head" | "exit" | "output" | "tar" = "head";
      let buf: Buffer = Buffer.alloc(0);
      let need = 0;
      const out: Buffer[] = [];
      let outLen = 0;
      let x: ReturnType<typeof untar> | null = null;
      const stdout = child.stdout;
      if (!stdout) return resolve();
      const toTar = (b: Buffer) => {
        if (b.length === 0 || !x) return;
        if (!x.stdin.write(b)) {
          stdout.pause();
          x.stdin.once("drain", () => stdout.resume());
        }
      };
      const broken = (why: string) => {
        f.protocolError = why;
        child.kill("SIGKILL");
      };
      stdout.on("data", (chunk: Buffer) => {
        if (phase === "tar") return toTar(chunk);
        buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk]);
        for (;;) {
          if (phase === "head") {
            const at = buf.indexOf(`\n${RUNNING}\n`);
            if (at < 0) {
              if (buf.length > MAX_HEAD) return broken("no RUNNING line");
              return;
            }
            f.head = buf.subarray(0, at).toString("utf8");
            buf = buf.subarray(at + RUNNING.length + 2);
            f.runningAt = performance.now() - t0;
            bound(runBoundMs);
            phase = "exit";
          } else if (phase === "exit") {
            const nl = buf.indexOf("\n");
            if (nl < 0) {
              if (buf.length > 4096) return broken("no exit line");
              return;
            }
            const m = EXITED.exec(buf.subarray(0, nl).toString("utf8"));
            if (!m) return broken("a bad exit line");
            f.status = Number(m[1]);
            need = Number(m[2]);
            f.exitedAt = performance.now() - t0;
            bound(TRANSFER_MS);
            buf = buf.subarray(nl + 1);
            phase = "output";
          } else if (phase === "output") {
            const take = Math.min(need, buf.length);
            if (outLen < MAX_OUTPUT) out.push(buf.subarray(0, Math.min(take, MAX_OUTPUT - outLen)));
            outLen += take;
            need -= take;
            buf = buf.subarray(take);
            if (need > 0) return;
            f.output = Buffer.concat(out).toString("utf8");
            phase = "tar";
            f.tarStarted = true;
            x = untar(root);
            const rest = buf;
            buf = Buffer.alloc(0);
            return toTar(rest);
          }
        }
      });
      stdout.on("end", () => {
        if (phase === "head") f.head = buf.toString("utf8");
        if (!x) return resolve();
        x.stdin.end();
        x.done.then(resolve, reject);
      });
      stdout.on("error", (e) => reject(e));
    });
}

/** What --keep-exe found and did on a host (the case manifest's `keep`). */
export interface KeepRecord {
  /**
   * none: no kept copy; ok: reused (hashed in this run, equal); refused: not a file of the ssh
   * user's, mode 0700, in directories of its, mode 0700, without symbolic links; altered: its
   * hash differs (not run; set aside on the host, a fresh copy sent).
   */
  found: "none" | "ok" | "refused" | "altered";
  /** Why refused, in words. */
  detail: string | null;
  /** The kept copy's SHA-256 as the host computed it in this run (ok, altered). */
  foundSha256: string | null;
  /** Where a refused or altered kept file was moved on the host (it is not deleted). */
  setAside: string | null;
  /** A fresh copy (verified) was stored for later runs. */
  stored: boolean;
}

const REFUSED: Record<string, string> = {
  dir: "~/.cache/breachkit or ~/.cache/breachkit/exe is not a directory of the ssh user's with mode 0700 (or is a symbolic link): nothing kept there is used or stored",
  file: "the kept file is not a regular file of the ssh user's with mode 0700 (or is a symbolic link)",
  unreadable: "the kept file could not be copied into the run's directory",
  nohash: "the host computed no SHA-256 of the kept file",
};

function parseKeep(lines: readonly string[], exeSha256: string, stamp: string): KeepRecord {
  const k: KeepRecord = {
    found: "none",
    detail: null,
    foundSha256: null,
    setAside: null,
    stored: false,
  };
  for (const l of lines) {
    const refused = /^keep: refused (\w+)$/.exec(l);
    const sha = /^keep: sha256 ([0-9a-f]{64})$/.exec(l);
    const aside = /^keep: aside (refused|altered)$/.exec(l);
    if (refused) {
      k.found = "refused";
      k.detail = REFUSED[refused[1] as string] ?? null;
    } else if (sha) {
      k.foundSha256 = sha[1] as string;
      k.found = k.foundSha256 === exeSha256 ? "ok" : "altered";
    } else if (l === "keep: altered") {
      k.found = "altered";
    } else if (aside) {
      k.setAside = `~/.cache/breachkit/exe/${exeSha256}.${aside[1]}-${stamp}`;
    } else if (l === "keep: stored") {
      k.stored = true;
    } else if (l === "keep: not-stored dir" && k.detail === null) {
      k.detail = REFUSED.dir as string;
    } else if (l === "keep: not-stored copy" && k.detail === null) {
      k.detail = "the verified copy could not be stored in ~/.cache/breachkit/exe (a full disk?)";
    } else if (l === "keep: not-stored home") {
      k.detail = "the ssh user's HOME is not an absolute path: nothing kept";
    }
  }
  return k;
}

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
    keep: null,
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
  /** The fetch removed the directory too. */
  let cleaned = false;
  /** The run did not end on the host by itself (interrupted, or the local bound). */
  let runLeftOver = false;
  const fail = (state: HostState, reason: string, d?: Done): HostOutcome => {
    out.state = state;
    out.reason = reason;
    if (d) out.stderrTail = tail(d.stderr);
    return out;
  };
  const secs = Math.max(1, Math.ceil(run.timeoutMs / 1000));
  const keep = run.keep && run.keepStamp ? keepFunctions(run.exeSha256, run.keepStamp) : null;
  const bundleRoot = join(run.hostDir, "bundle");
  /** One round trip: (the kept copy's check,) the run, the fetch, the clean-up. */
  const runFetch = async (prefix: string, kept: boolean) => {
    const f: Framed = {
      head: "",
      runningAt: null,
      exitedAt: null,
      status: null,
      output: null,
      tarStarted: false,
      protocolError: null,
    };
    await mkdir(bundleRoot, { recursive: true, mode: 0o700 });
    const t0 = performance.now();
    const d = await sshRun(run, control, runFetchScript(prefix, run.command, run.args, secs), {
      // Until RUNNING: the kept copy's check (a link on the host, and the hash of its 124 MiB).
      timeoutMs: TRANSFER_MS,
      abortable: true,
      stdoutTo: framedReader(f, bundleRoot, run.timeoutMs + 8000),
    });
    const total = performance.now() - t0;
    const ms = (a: number, b: number) => Math.max(0, Math.round(b - a));
    if (kept) steps.push({ step: "check", ms: ms(0, f.runningAt ?? total) });
    if (f.runningAt !== null) {
      const from = kept ? f.runningAt : 0;
      steps.push({ step: "run", ms: ms(from, f.exitedAt ?? total) });
      if (f.exitedAt !== null) steps.push({ step: "fetch+clean", ms: ms(f.exitedAt, total) });
    }
    return { f, d, runStarted: t0 + (f.runningAt ?? 0) };
  };
  try {
    let framed: Awaited<ReturnType<typeof runFetch>> | null = null;
    if (keep !== null) {
      framed = await runFetch(checkPrefix(keep), true);
      const { f, d: k } = framed;
      const head = f.head.split("\n");
      const reported = head[0] ?? "";
      if (REMOTE_DIR.test(reported) && !reported.includes("..")) dir = reported;
      // What was found, when the check ran to its end (RUNNING, or exit 10).
      const found = parseKeep(head.slice(1), run.exeSha256, run.keepStamp ?? "");
      if (f.runningAt !== null || k.code === 10) out.keep = found;
      if (f.runningAt !== null) {
        out.copy = "kept";
        out.remoteSha256 = found.foundSha256;
        // Compared there, and here again (what the host reported it hashed).
        if (out.remoteSha256 !== run.exeSha256 || dir === null) {
          runLeftOver = true;
          return fail("exe-altered", "the host ran a kept copy whose hash it reported wrong", k);
        }
      } else {
        framed = null;
        if (run.signal?.aborted)
          return fail("command-failed", "interrupted while checking the kept copy", k);
        if (k.timedOut) return fail("timed-out", "checking the kept copy took too long", k);
        if (k.code === 255)
          return fail(classifySshFailure(k.stderr), "ssh failed while checking the kept copy", k);
        if (k.code !== 10 || dir === null)
          return fail("command-failed", `checking the kept copy failed (exit ${k.code})`, k);
      }
    }
    if (framed === null) {
      const plain = () =>
        sshRun(run, control, copyScript(false, dir, keep), {
          stdin: () => createReadStream(run.exe, { highWaterMark: 1 << 20 }),
          timeoutMs: TRANSFER_MS,
          abortable: true,
        });
      const gz = run.compressed;
      const copy = await timed("copy", async () => {
        out.copy = gz ? "gzip" : "plain";
        if (!gz) return plain();
        const first = await sshRun(run, control, copyScript(true, dir, keep), {
          stdin: () => gz.stream(),
          timeoutMs: TRANSFER_MS,
          abortable: true,
        });
        if (first.code !== 3 || first.stdout.trim() !== NO_GZIP || run.signal?.aborted)
          return first;
        out.copy = "plain";
        return plain();
      });
      const lines = copy.stdout.split("\n");
      if (run.signal?.aborted) return fail("command-failed", "interrupted while copying", copy);
      if (copy.timedOut) return fail("timed-out", "copying the executable took too long", copy);
      if (copy.code === 255)
        return fail(classifySshFailure(copy.stderr), "ssh failed while copying", copy);
      const reported = lines[0] ?? "";
      if (dir === null && REMOTE_DIR.test(reported) && !reported.includes("..")) dir = reported;
      if (copy.code !== 0 || dir === null || reported !== dir) {
        return fail("command-failed", `copying the executable failed (exit ${copy.code})`, copy);
      }
      out.remoteSha256 = /^([0-9a-f]{64})\s/.exec(lines[1] ?? "")?.[1] ?? null;
      if (out.keep) {
        const stored = parseKeep(lines.slice(2), run.exeSha256, run.keepStamp ?? "");
        out.keep.stored = stored.stored;
        out.keep.detail ??= stored.detail;
      }
      if (out.remoteSha256 !== run.exeSha256) {
        return fail(
          "exe-altered",
          `the executable on the host has SHA-256 ${out.remoteSha256 ?? "(none reported)"}, not ${run.exeSha256}: not run`,
          copy,
        );
      }
      framed = await runFetch(
        `umask 077; d=${shellQuote(dir)}; printf '%s\\n' "$d"; echo '${RUNNING}'`,
        false,
      );
    }
    const { f, d: session, runStarted } = framed;
    // The command's own result: its status from the exit line (none: the session ended
    // before it, killed here at the bound or by Ctrl-C, or the connection failed).
    const exited = f.status !== null;
    const r: Done = {
      ...session,
      code: exited ? f.status : session.code,
      stdout: f.output ?? "",
      timedOut: session.timedOut && !exited,
    };
    runLeftOver = r.timedOut || r.code === null || run.signal?.aborted === true;
    out.exitCode = r.code;
    out.output = f.output;
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
    // The bundle came back in the same round trip (exit 70: the tar went, the removal did
    // not; the clean-up step tries again). A session that ended before the exit line: the
    // bundle (also an incomplete one) is fetched on its own, and the clean-up stops the
    // command on the host first.
    let fetched = exited && f.tarStarted && (session.code === 0 || session.code === 70);
    cleaned = exited && session.code === 0;
    if (!exited && f.runningAt !== null) {
      const fe = await timed("fetch", () =>
        sshRun(run, control, `cd ${shellQuote(`${dir}/out`)} && tar -cf - .`, {
          timeoutMs: TRANSFER_MS,
          abortable: true,
          stdoutTo: (child) => {
            const x = untar(bundleRoot);
            child.stdout?.pipe(x.stdin);
            return x.done;
          },
        }),
      );
      fetched = fe.code === 0;
    }
    if (fetched) {
      const names = (await readdir(bundleRoot).catch(() => [] as string[])).filter((n) =>
        n.startsWith("breachkit-"),
      );
      if (names.length === 1) out.bundleDir = join(bundleRoot, names[0] as string);
    }
    if (out.state === "ok" && out.bundleDir === null) {
      fail(
        "command-failed",
        f.protocolError
          ? `the host's answer was not understood (${f.protocolError})`
          : `${run.command} left no bundle to fetch`,
        r,
      );
    }
  } finally {
    if (dir !== null && !cleaned) {
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
