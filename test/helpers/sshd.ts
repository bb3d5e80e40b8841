/**
 * Real OpenSSH servers for the fleet tests (Debian's openssh-server): each on 127.0.0.1 with
 * its own port, host key, config and log file, accepting one test user key for root. Started
 * by the test, logging to a file (never stdout), stopped by pid.
 */
import { spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";

export interface Sshd {
  name: string;
  port: number;
  dir: string;
  pid: number;
  log: string;
  /** The sessions' TMPDIR (where fleet makes its temporary directory on this "host"). */
  tmp: string;
  /** "[127.0.0.1]:PORT ssh-ed25519 AAAA..." for a known_hosts file. */
  knownHostsLine: string;
  stop(): Promise<void>;
}

/** A port free on 127.0.0.1 now (the kernel's pick). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

export async function keygen(path: string, comment: string): Promise<string> {
  await execa("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path]);
  return readFileSync(`${path}.pub`, "utf8").trim();
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = new Socket();
    s.setTimeout(500);
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
    s.once("timeout", () => {
      s.destroy();
      resolve(false);
    });
    s.connect(port, "127.0.0.1");
  });
}

/**
 * Start one sshd. `userKeyPub` is authorised for root; `setEnv` goes into its sessions'
 * environment (sshd_config SetEnv), which is how a test gives one host a PATH whose `cat`
 * alters what it copies. Every session gets its own empty HOME (this machine's root has a
 * ~/.bashrc that takes ~3 s, and bash reads it for every ssh command) and its own TMPDIR,
 * so a test sees exactly what was left on its "host".
 */
export async function startSshd(opts: {
  name: string;
  root: string;
  userKeyPub: string;
  setEnv?: Record<string, string>;
  /** More sshd_config lines (e.g. a ForceCommand). */
  extra?: string[];
  /**
   * Its own PID namespace with its own /proc (unshare, root only): what runs through it sees
   * only its own processes, as on a host of its own (bench/fleet.ts: the "hosts" would
   * otherwise see, and hash, each other's runs).
   */
  pidNamespace?: boolean;
}): Promise<Sshd> {
  const dir = join(opts.root, opts.name);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 }); // privilege separation directory
  const port = await freePort();
  const hostKey = join(dir, "host_ed25519");
  const hostPub = await keygen(hostKey, opts.name);
  writeFileSync(join(dir, "authorized_keys"), `${opts.userKeyPub}\n`, { mode: 0o600 });
  const log = join(dir, "sshd.log");
  const home = join(dir, "home");
  const tmp = join(dir, "tmp");
  mkdirSync(home, { recursive: true, mode: 0o700 });
  mkdirSync(tmp, { recursive: true, mode: 0o700 });
  const setEnv = Object.entries({ HOME: home, TMPDIR: tmp, ...opts.setEnv })
    .map(([k, v]) => `${k}=${v}`)
    .join(" ");
  const config = join(dir, "sshd_config");
  writeFileSync(
    config,
    [
      `Port ${port}`,
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKey}`,
      `PidFile ${join(dir, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
      "PermitRootLogin prohibit-password",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "UsePAM no",
      "StrictModes no",
      "MaxStartups 100:30:200",
      "MaxSessions 20",
      "Subsystem sftp internal-sftp",
      "LogLevel VERBOSE",
      ...(setEnv ? [`SetEnv ${setEnv}`] : []),
      ...(opts.extra ?? []),
      "",
    ].join("\n"),
  );
  const fd = openSync(log, "a");
  const sshd = ["/usr/sbin/sshd", "-D", "-f", config, "-E", log];
  // --kill-child: when unshare is stopped (by pid, below), so is sshd, and with it (the
  // namespace's first process) everything in the namespace.
  const [cmd, ...args] = opts.pidNamespace
    ? ["unshare", "--pid", "--fork", "--mount-proc", "--kill-child", ...sshd]
    : sshd;
  const child = spawn(cmd as string, args, {
    stdio: ["ignore", fd, fd],
    detached: true,
  });
  child.unref();
  const pid = child.pid ?? -1;
  const deadline = Date.now() + 15_000;
  while (!(await listening(port))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      throw new Error(`sshd ${opts.name} did not start: ${readFileSync(log, "utf8").slice(-2000)}`);
    }
    await sleep(50);
  }
  const [type, key] = hostPub.split(" ");
  return {
    name: opts.name,
    port,
    dir,
    pid,
    log,
    tmp,
    knownHostsLine: `[127.0.0.1]:${port} ${type} ${key}`,
    async stop() {
      try {
        process.kill(pid, "SIGTERM");
      } catch {
        return;
      }
      const until = Date.now() + 5000;
      while (Date.now() < until) {
        try {
          process.kill(pid, 0);
        } catch {
          return;
        }
        await sleep(50);
      }
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        /* gone */
      }
    },
  };
}
