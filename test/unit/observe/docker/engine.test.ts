/**
 * The client's transport (shared by the read client and act's DockerActions), against a stand-in engine on a Unix socket in a temp dir that replays
 * answers recorded from the real engine (test/fixtures/docker). The real engine is exercised in
 * test/integration/docker-engine.test.ts; here the failure paths that a real engine cannot be
 * made to produce on demand: stalls, oversize and broken answers, a stream cut mid-frame.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import http from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { DockerActions } from "../../../../src/act/docker-actions.js";
import { DockerEngine } from "../../../../src/observe/docker/engine.js";
import { EngineError, toBreachkitError } from "../../../../src/observe/docker/engine-error.js";
import { probeEngine } from "../../../../src/observe/docker/engine-model.js";

const fixture = (name: string) =>
  readFileSync(new URL(`../../../fixtures/docker/${name}`, import.meta.url));

type Handler = (req: http.IncomingMessage, body: string, res: http.ServerResponse) => void;
interface Seen {
  method: string;
  url: string;
  body: string;
}

let dir: string;
let socketPath: string;
let server: http.Server;
let handler: Handler;
let seen: Seen[] = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "bk-engine-"));
  socketPath = join(dir, "docker.sock");
  server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ method: req.method ?? "", url: req.url ?? "", body });
      handler(req, body, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(socketPath, resolve));
});

afterEach(() => {
  seen = [];
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

const json =
  (status: number, body: Buffer | string) =>
  (_req: unknown, _b: string, res: http.ServerResponse) => {
    res.writeHead(status, { "Content-Type": "application/json" });
    res.end(body);
  };

async function failure(promise: Promise<unknown>): Promise<EngineError> {
  try {
    await promise;
  } catch (e) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error("expected a failure");
}

async function readAll(stream: NodeJS.ReadableStream): Promise<{ out: Buffer; error: unknown }> {
  const parts: Buffer[] = [];
  try {
    for await (const chunk of stream) parts.push(chunk as Buffer);
  } catch (e) {
    return { out: Buffer.concat(parts), error: e };
  }
  return { out: Buffer.concat(parts), error: null };
}

describe("DockerEngine.fromEnv", () => {
  it("uses /var/run/docker.sock without DOCKER_HOST, the unix:// path with it", () => {
    expect(DockerEngine.fromEnv({}).socketPath).toBe("/var/run/docker.sock");
    expect(DockerEngine.fromEnv({ DOCKER_HOST: "" }).socketPath).toBe("/var/run/docker.sock");
    const e = DockerEngine.fromEnv({ DOCKER_HOST: "unix:///run/user/1000/docker.sock" });
    expect(e.socketPath).toBe("/run/user/1000/docker.sock");
    expect(e.endpoint).toBe("unix:///run/user/1000/docker.sock");
  });

  it("refuses remote and malformed DOCKER_HOST values with a clear error", () => {
    for (const host of [
      "tcp://127.0.0.1:2375",
      "ssh://root@host",
      "npipe:////./pipe/x",
      "unix://rel.sock",
      "/var/run/docker.sock",
    ]) {
      let error: unknown;
      try {
        DockerEngine.fromEnv({ DOCKER_HOST: host });
      } catch (e) {
        error = e;
      }
      expect(error, host).toBeInstanceOf(EngineError);
      expect((error as EngineError).code).toBe("UNSUPPORTED");
      expect((error as EngineError).message).toContain(host);
      expect((error as EngineError).hint).toMatch(/DOCKER_HOST=unix:\/\//);
    }
  });
});

describe("an engine that is not there", () => {
  it("gives DOWN, saying to start the engine or set DOCKER_HOST", async () => {
    const engine = new DockerEngine({ socketPath: join(dir, "missing.sock") });
    const error = await failure(engine.ping());
    expect(error.code).toBe("DOWN");
    expect(error.message).toMatch(/start the Docker engine, or set DOCKER_HOST/);
    expect(error.message).toContain("ENOENT");
    expect(toBreachkitError(error).code).toBe("ENGINE_DOWN");
  });

  it("gives DOWN for a path that is a plain file, not a socket", async () => {
    const file = join(dir, "not-a-socket");
    writeFileSync(file, "");
    const error = await failure(new DockerEngine({ socketPath: file }).version());
    expect(error.code).toBe("DOWN");
  });

  it("is a snapshot fact, not an exception, for probeEngine", async () => {
    const engine = new DockerEngine({ socketPath: join(dir, "missing.sock") });
    const status = await probeEngine(engine);
    expect(status.available).toBe(false);
    expect(status.error).toMatch(/no Docker engine answers/);
  });
});

describe("JSON calls against recorded answers", () => {
  it("asks unversioned paths and parses version and info", async () => {
    handler = (req, _b, res) =>
      json(200, fixture(req.url === "/version" ? "version.json" : "info.json"))(req, _b, res);
    const engine = new DockerEngine({ socketPath });
    const status = await probeEngine(engine);
    expect(status).toEqual({
      available: true,
      endpoint: `unix://${socketPath}`,
      version: "20.10.24+dfsg1",
      apiVersion: "1.41",
      storageDriver: "overlay2",
      dockerRootDir: "/var/lib/docker",
      error: null,
    });
    // This stand-in names no API version in its headers: /version is asked as well.
    expect(seen.map((s) => s.url).sort()).toEqual(["/info", "/version"]);
  });

  it("asks /info alone when its answer names the engine's and the API's versions", async () => {
    // As the real engine answers: every reply carries Api-Version (recorded from 20.10).
    handler = (_req, _b, res) => {
      res.writeHead(200, { "Content-Type": "application/json", "Api-Version": "1.41" });
      res.end(fixture("info.json"));
    };
    const status = await probeEngine(new DockerEngine({ socketPath }));
    expect(status).toMatchObject({
      available: true,
      version: "20.10.24+dfsg1",
      apiVersion: "1.41",
    });
    expect(seen.map((s) => s.url)).toEqual(["/info"]);
  });

  it("lists containers with all=1 and maps changes and top", async () => {
    const engine = new DockerEngine({ socketPath });
    handler = json(200, fixture("list.json"));
    const list = await engine.listContainers({ all: true });
    expect(seen[0]?.url).toBe("/containers/json?all=1");
    expect(list.some((c) => c.Names?.includes("/bk-fx-running"))).toBe(true);

    handler = json(200, fixture("changes.json"));
    const changes = await engine.containerChanges("bk-fx-running");
    expect(changes).toContainEqual({ path: "/etc/doomed", kind: "deleted" });
    expect(changes).toContainEqual({ path: "/tmp/dropped", kind: "added" });
    expect(changes).toContainEqual({ path: "/etc/motd", kind: "modified" });

    handler = json(200, "null");
    expect(await engine.containerChanges("x")).toEqual([]);

    handler = json(200, fixture("top.json"));
    const top = await engine.containerTop("bk-fx-running");
    expect(top.titles).toContain("PID");
    expect(top.processes[0]?.at(-1)).toBe("sleep 3600");
  });

  it("maps the engine's 404 and 409 with its message", async () => {
    const engine = new DockerEngine({ socketPath });
    handler = json(404, fixture("error-not-found.json"));
    const missing = await failure(engine.inspectContainer("nonexistent-bk-fx"));
    expect(missing).toMatchObject({ code: "NOT_FOUND", status: 404 });
    expect(missing.message).toBe(
      "GET /containers/nonexistent-bk-fx/json: No such container: nonexistent-bk-fx",
    );

    handler = json(409, '{"message":"Container abc is already paused"}');
    const conflict = await failure(new DockerActions({ socketPath }).pause("abc"));
    expect(conflict).toMatchObject({ code: "CONFLICT", status: 409 });
    expect(conflict.message).toMatch(/already paused/);

    handler = json(500, "<html>proxy error</html>");
    const other = await failure(engine.info());
    expect(other).toMatchObject({ code: "HTTP", status: 500 });
    expect(other.message).toContain("<html>proxy error</html>");
  });

  it("refuses an answer larger than the bound", async () => {
    handler = json(200, `[${"0,".repeat(5000)}0]`);
    const engine = new DockerEngine({ socketPath, maxJsonBytes: 1000 });
    const error = await failure(engine.listContainers());
    expect(error.code).toBe("TOO_LARGE");
  });

  it("refuses an answer that is not JSON or not the expected shape", async () => {
    const engine = new DockerEngine({ socketPath });
    handler = json(200, '{"Version": "20.10", "ApiVers');
    expect((await failure(engine.version())).code).toBe("PROTOCOL");
    handler = json(200, '{"NotAnId": 1}');
    expect((await failure(engine.inspectContainer("abc"))).code).toBe("PROTOCOL");
  });

  it("gives TIMEOUT when the engine never answers", async () => {
    handler = () => {};
    const engine = new DockerEngine({ socketPath, timeoutMs: 100 });
    const error = await failure(engine.ping());
    expect(error.code).toBe("TIMEOUT");
    expect(error.message).toMatch(/did not answer GET \/_ping/);
  });

  it("never sends a reference outside Docker's name alphabet", async () => {
    handler = json(200, "{}");
    const engine = new DockerEngine({ socketPath });
    for (const bad of ["../../info", "a/b", "x?all=1", "", "/", "a b", "name\n", "-rf"]) {
      const error = await failure(engine.inspectContainer(bad));
      expect(error.code, JSON.stringify(bad)).toBe("NOT_FOUND");
    }
    expect(seen).toEqual([]);
  });
});

describe("the read client", () => {
  it("sends GET only and has no method that changes the host", async () => {
    handler = json(404, '{"message":"No such container: x"}');
    const engine = new DockerEngine({ socketPath });
    const calls = [
      engine.ping(),
      engine.version(),
      engine.info(),
      engine.infoAndApiVersion(),
      engine.listContainers({ all: true }),
      engine.inspectContainer("x"),
      engine.containerChanges("x"),
      engine.containerTop("x"),
      engine.containerLogs("x", { tty: false }),
      engine.exportContainer("x"),
      engine.getArchive("x", "/etc"),
      engine.listNetworks(),
    ];
    const settled = await Promise.allSettled(calls);
    expect(settled.every((r) => r.status === "rejected")).toBe(true);
    expect(seen).toHaveLength(calls.length);
    expect(new Set(seen.map((s) => s.method))).toEqual(new Set(["GET"]));
    const methods = Object.getOwnPropertyNames(DockerEngine.prototype);
    for (const change of ["pause", "unpause", "stop", "start", "kill", "updateRestartPolicy"]) {
      expect(methods).not.toContain(change);
    }
    expect(methods.filter((m) => /network/i.test(m))).toEqual(["listNetworks"]);
  });
});

describe("state changes (act/docker-actions.ts, over the same transport)", () => {
  it("sends the documented paths, queries and bodies", async () => {
    handler = (req, _b, res) => {
      if (req.url?.includes("/update")) json(200, '{"Warnings":null}')(req, _b, res);
      else {
        res.writeHead(204);
        res.end();
      }
    };
    const docker = new DockerActions({ socketPath });
    await docker.pause("/bk-x");
    await docker.unpause("bk-x");
    expect(await docker.stop("bk-x", { timeoutSec: 3 })).toBe(true);
    await docker.kill("bk-x", "SIGTERM");
    expect(await docker.updateRestartPolicy("bk-x", "no")).toEqual([]);
    await docker.disconnectNetwork("bk-x", "bridge", { force: true });
    await docker.connectNetwork("bk-x", "bridge");
    expect(seen).toEqual([
      { method: "POST", url: "/containers/bk-x/pause", body: "" },
      { method: "POST", url: "/containers/bk-x/unpause", body: "" },
      { method: "POST", url: "/containers/bk-x/stop?t=3", body: "" },
      { method: "POST", url: "/containers/bk-x/kill?signal=SIGTERM", body: "" },
      {
        method: "POST",
        url: "/containers/bk-x/update",
        body: '{"RestartPolicy":{"Name":"no","MaximumRetryCount":0}}',
      },
      {
        method: "POST",
        url: "/networks/bridge/disconnect",
        body: '{"Container":"bk-x","Force":true}',
      },
      { method: "POST", url: "/networks/bridge/connect", body: '{"Container":"bk-x"}' },
    ]);
  });

  it("reports 'already so' (304) as no change", async () => {
    handler = (_req, _b, res) => {
      res.writeHead(304);
      res.end();
    };
    const docker = new DockerActions({ socketPath });
    expect(await docker.start("bk-x")).toBe(false);
    expect(await docker.stop("bk-x")).toBe(false);
  });
});

describe("the transport", () => {
  it("keeps at most maxConcurrent calls in flight", async () => {
    let inFlight = 0;
    let most = 0;
    handler = (_req, _b, res) => {
      inFlight++;
      most = Math.max(most, inFlight);
      setTimeout(() => {
        inFlight--;
        res.writeHead(200);
        res.end("OK");
      }, 5);
    };
    const engine = new DockerEngine({ socketPath, maxConcurrent: 2 });
    const answers = await Promise.all(Array.from({ length: 7 }, () => engine.ping()));
    expect(answers).toEqual(Array(7).fill("OK"));
    expect(most).toBe(2);
  });
});

describe("streamed answers", () => {
  const plain = fixture("logs-multiplexed-plain.bin");

  function serveInPieces(bytes: Buffer, size: number, cutAt = bytes.length) {
    handler = (_req, _b, res) => {
      res.writeHead(200, { "Content-Type": "application/vnd.docker.raw-stream" });
      for (let i = 0; i < cutAt; i += size) res.write(bytes.subarray(i, Math.min(i + size, cutAt)));
      // Cut once the bytes before it are on their way, as an engine that dies mid-stream.
      if (cutAt < bytes.length) res.write("", () => res.destroy());
      else res.end();
    };
  }

  it("demultiplexes logs and asks for timestamps by default", async () => {
    serveInPieces(plain, 7);
    const engine = new DockerEngine({ socketPath });
    const { out, error } = await readAll(
      await engine.containerLogs("bk-fx-logs", { tty: false, since: new Date(1_700_000_000_250) }),
    );
    expect(error).toBeNull();
    expect(out.length).toBe(
      fixture("logs-expected-stdout.bin").length + fixture("logs-expected-stderr.bin").length,
    );
    expect(seen[0]?.url).toBe(
      "/containers/bk-fx-logs/logs?stdout=1&stderr=1&timestamps=1&since=1700000000.250000000",
    );
  });

  it("inspects first and passes a TTY container's bytes through untouched", async () => {
    const tty = fixture("logs-tty.bin");
    handler = (req, _b, res) => {
      if (req.url?.endsWith("/json")) json(200, fixture("inspect-tty.json"))(req, _b, res);
      else {
        res.writeHead(200);
        res.end(tty);
      }
    };
    const engine = new DockerEngine({ socketPath });
    const { out } = await readAll(await engine.containerLogs("bk-fx-tty", { timestamps: false }));
    expect(out.equals(tty)).toBe(true);
    expect(seen.map((s) => s.url)).toEqual([
      "/containers/bk-fx-tty/json",
      "/containers/bk-fx-tty/logs?stdout=1&stderr=1&timestamps=0",
    ]);
  });

  it("fails the stream with an EngineError when the engine goes away mid-frame", async () => {
    serveInPieces(plain, 5, 1000);
    const engine = new DockerEngine({ socketPath });
    const { out, error } = await readAll(await engine.containerLogs("x", { tty: false }));
    expect(error).toBeInstanceOf(EngineError);
    expect(["DOWN", "PROTOCOL"]).toContain((error as EngineError).code);
    expect(out.length).toBeLessThan(1000);
  });

  it("fails the stream with TIMEOUT when the engine stalls", async () => {
    handler = (_req, _b, res) => {
      res.writeHead(200);
      res.write("partial tar");
    };
    const engine = new DockerEngine({ socketPath, streamIdleTimeoutMs: 100 });
    const { out, error } = await readAll(await engine.exportContainer("x"));
    expect(out.toString()).toBe("partial tar");
    expect((error as EngineError).code).toBe("TIMEOUT");
  });

  it("reports a missing container before any byte of the stream", async () => {
    handler = json(404, '{"message":"No such container: x"}');
    const engine = new DockerEngine({ socketPath });
    expect((await failure(engine.getArchive("x", "/etc/passwd"))).code).toBe("NOT_FOUND");
    expect(seen[0]?.url).toBe("/containers/x/archive?path=%2Fetc%2Fpasswd");
  });
});
