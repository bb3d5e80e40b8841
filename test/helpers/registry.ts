/**
 * Real parts for `update`'s tests and bench: Debian's `docker-registry` (distribution 2.8) on
 * 127.0.0.1:<free port> with a temporary storage directory, its log in a file, stopped by pid;
 * images built from local parts (`docker import` of a tar holding busybox, with CMD and
 * HEALTHCHECK set by --change); and two bad registries on the loopback: one that accepts and
 * never answers, one that answers with a malformed manifest. Only what these helpers made is
 * removed, by id.
 */
import { spawn } from "node:child_process";
import { createPrivateKey, sign, X509Certificate } from "node:crypto";
import { closeSync, openSync, readFileSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { type TarEntry, tarArchive } from "../../lab/tar.js";

export interface LocalRegistry {
  /** 127.0.0.1:PORT */
  host: string;
  pid: number;
  dir: string;
  logPath: string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const a = s.address();
      const port = typeof a === "object" && a ? a.port : 0;
      s.close(() => resolve(port));
    });
  });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function answers(host: string, status = 200): Promise<boolean> {
  return new Promise((resolve) => {
    const req = http.get(`http://${host}/v2/`, { timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode === status);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
  });
}

/** Start docker-registry on the loopback; throws with the log's tail when it does not answer in 20 s. */
export async function startRegistry(
  opts: { dataDir?: string; authYaml?: string[] } = {},
): Promise<LocalRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "bk-registry-"));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = join(dir, "config.yml");
  await writeFile(
    config,
    [
      "version: 0.1",
      "log:",
      "  level: warn",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${opts.dataDir ?? join(dir, "data")}`,
      "  delete:",
      "    enabled: true",
      "http:",
      `  addr: ${host}`,
      ...(opts.authYaml ?? []),
      "",
    ].join("\n"),
  );
  const logPath = join(dir, "registry.log");
  const fd = openSync(logPath, "a");
  const child = spawn("/usr/bin/docker-registry", ["serve", config], {
    detached: true,
    stdio: ["ignore", fd, fd],
  });
  closeSync(fd);
  child.unref();
  const pid = child.pid ?? -1;
  const stop = async () => {
    if (pid > 0 && alive(pid)) {
      process.kill(pid, "SIGTERM");
      const deadline = Date.now() + 10_000;
      while (alive(pid) && Date.now() < deadline) await sleep(100);
      if (alive(pid)) process.kill(pid, "SIGKILL");
    }
    await rm(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (await answers(host, opts.authYaml ? 401 : 200)) return { host, pid, dir, logPath, stop };
    if (pid <= 0 || !alive(pid)) break;
    await sleep(100);
  }
  let tail = "";
  try {
    tail = readFileSync(logPath, "utf8").split("\n").slice(-20).join("\n");
  } catch {}
  await stop();
  throw new Error(`docker-registry did not answer on ${host}:\n${tail}`);
}

export interface TestImageOptions {
  /** Written to /version: makes each image's content (and id) distinct. */
  version: string;
  /** With /healthy: the image's HEALTHCHECK passes. */
  healthy: boolean;
}

let busybox: Buffer | null = null;

/**
 * An image from local parts, tagged `ref`: busybox, /version, /healthy when healthy; CMD a shell
 * loop that exits at SIGTERM; HEALTHCHECK `test -f /healthy` every second.
 */
export async function buildImage(ref: string, opts: TestImageOptions): Promise<string> {
  busybox ??= await readFile("/bin/busybox");
  const enc = (s: string) => Buffer.from(s, "utf8");
  const entries: TarEntry[] = [
    { type: "dir", path: "bin", mode: 0o755 },
    { type: "dir", path: "tmp", mode: 0o1777 },
    { type: "dir", path: "data", mode: 0o777 },
    { type: "dir", path: "etc", mode: 0o755 },
    { type: "file", path: "bin/busybox", mode: 0o755, data: busybox },
    { type: "symlink", path: "bin/sh", target: "/bin/busybox" },
    { type: "symlink", path: "bin/sleep", target: "/bin/busybox" },
    { type: "symlink", path: "bin/test", target: "/bin/busybox" },
    { type: "symlink", path: "bin/cat", target: "/bin/busybox" },
    {
      type: "file",
      path: "etc/passwd",
      mode: 0o644,
      data: enc("root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\n"),
    },
    { type: "file", path: "version", mode: 0o644, data: enc(`${opts.version}\n`) },
  ];
  if (opts.healthy) entries.push({ type: "file", path: "healthy", mode: 0o644, data: enc("ok\n") });
  const tar = tarArchive(entries, 1_700_000_000);
  const r = await execa(
    "docker",
    [
      "import",
      "--change",
      `CMD ["/bin/sh","-c","trap 'exit 0' TERM; while :; do sleep 1; done"]`,
      "--change",
      `HEALTHCHECK --interval=1s --timeout=2s --retries=2 CMD ["/bin/test","-f","/healthy"]`,
      "--change",
      `ENV APP_VERSION=${opts.version}`,
      "--change",
      `LABEL org.example.version=${opts.version}`,
      "-",
      ref,
    ],
    { input: tar },
  );
  return r.stdout.trim();
}

export async function docker(args: string[]): Promise<string> {
  return (await execa("docker", args, { stdin: "ignore" })).stdout.trim();
}

/** A TCP server on the loopback that accepts connections and never answers. */
export async function hangingServer(): Promise<{ host: string; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
    s.on("error", () => {});
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address() as net.AddressInfo;
  return {
    host: `127.0.0.1:${a.port}`,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/**
 * A registry on the loopback that lies: every manifest comes back 200 with a digest header
 * and bytes that are not a manifest (and do not hash to that digest).
 */
export async function lyingRegistry(): Promise<{ host: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    const digest = `sha256:${"ab".repeat(32)}`;
    if (req.url?.includes("/manifests/")) {
      res.writeHead(200, {
        "Content-Type": "application/vnd.docker.distribution.manifest.v2+json",
        "Docker-Content-Digest": digest,
      });
      res.end(req.method === "HEAD" ? undefined : '{"schemaVersion": 2, "layers": "not a list"');
      return;
    }
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end("{}");
  });
  server.keepAliveTimeout = 100;
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const a = server.address() as net.AddressInfo;
  return {
    host: `127.0.0.1:${a.port}`,
    close: () =>
      new Promise((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

/**
 * A second docker-registry over the same storage with `auth: token`, and its token service on
 * the loopback (in this process): a JWT signed ES256 with a key whose self-signed certificate
 * (made by openssl) is the registry's rootcertbundle, given only to a user whose Basic
 * credentials match. The registry itself checks every token it is shown.
 */
export async function startTokenRegistry(
  storage: LocalRegistry,
  users: Record<string, string>,
): Promise<{
  registry: LocalRegistry;
  tokenHost: string;
  requests: string[];
  close(): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), "bk-token-"));
  const keyPath = join(dir, "token.key");
  const certPath = join(dir, "token.crt");
  await execa("openssl", [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-keyout",
    keyPath,
    "-out",
    certPath,
    "-days",
    "2",
    "-subj",
    "/CN=bk-test-token",
  ]);
  const key = createPrivateKey(await readFile(keyPath));
  const der = new X509Certificate(await readFile(certPath)).raw.toString("base64");
  const requests: string[] = [];
  const b64 = (x: unknown) => Buffer.from(JSON.stringify(x)).toString("base64url");
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    requests.push(`${req.method} ${url.pathname}?${url.searchParams.toString()}`);
    const auth = req.headers.authorization ?? "";
    const basic = Buffer.from(auth.replace(/^Basic /, ""), "base64").toString();
    const user = basic.slice(0, Math.max(0, basic.indexOf(":")));
    const pass = basic.slice(basic.indexOf(":") + 1);
    if (!auth.startsWith("Basic ") || !user || users[user] !== pass) {
      res.writeHead(401, { "Content-Type": "application/json" });
      res.end('{"details":"bad credentials"}');
      return;
    }
    const scope = url.searchParams.get("scope") ?? "";
    const [type, name, actions] = scope.split(":");
    const now = Math.floor(Date.now() / 1000);
    const header = b64({ typ: "JWT", alg: "ES256", x5c: [der] });
    const claims = b64({
      iss: "bk-test-issuer",
      sub: user,
      aud: url.searchParams.get("service"),
      exp: now + 300,
      nbf: now - 10,
      iat: now,
      jti: String(Math.random()),
      access: type && name ? [{ type, name, actions: (actions ?? "").split(",") }] : [],
    });
    const sig = sign("sha256", Buffer.from(`${header}.${claims}`), {
      key,
      dsaEncoding: "ieee-p1363",
    });
    res.writeHead(200, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ token: `${header}.${claims}.${sig.toString("base64url")}` }));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const tokenHost = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  const registry = await startRegistry({
    dataDir: join(storage.dir, "data"),
    authYaml: [
      "auth:",
      "  token:",
      `    realm: http://${tokenHost}/token`,
      "    service: bk-test-registry",
      "    issuer: bk-test-issuer",
      `    rootcertbundle: ${certPath}`,
    ],
  });
  return {
    registry,
    tokenHost,
    requests,
    close: async () => {
      await registry.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
