/**
 * A Unix-socket proxy in front of the real Docker engine, for fault tests: it forwards each
 * request as it is, or holds it, or closes itself (the engine "stops") when a request matches.
 * The real dockerd is never touched. One request per connection (the client uses agent: false).
 */
import { EventEmitter } from "node:events";
import { mkdtemp, rm } from "node:fs/promises";
import { createConnection, createServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface ProxiedRequest {
  method: string;
  path: string;
}

/** forward: pass it on; hold: keep it waiting until `release()`; close: stop the proxy now. */
export type ProxyDecision = "forward" | "hold" | "close";

export interface DockerProxy {
  socketPath: string;
  /** DOCKER_HOST value for this proxy. */
  dockerHost: string;
  requests: ProxiedRequest[];
  /** Resolves with the first request (already seen or coming) that matches. */
  waitFor(match: (r: ProxiedRequest) => boolean): Promise<ProxiedRequest>;
  /** Forward the held requests and stop holding. */
  release(): void;
  close(): Promise<void>;
}

export async function startDockerProxy(
  decide: (r: ProxiedRequest) => ProxyDecision | Promise<ProxyDecision> = () => "forward",
  upstream = "/var/run/docker.sock",
): Promise<DockerProxy> {
  const dir = await mkdtemp(join(tmpdir(), "bk-proxy-"));
  const socketPath = join(dir, "docker.sock");
  const sockets = new Set<Socket>();
  const held: (() => void)[] = [];
  let holding = true;
  const events = new EventEmitter();
  const requests: ProxiedRequest[] = [];
  let closed: Promise<void> | null = null;

  const forward = (client: Socket, first: Buffer) => {
    const up = createConnection(upstream);
    sockets.add(up);
    up.on("close", () => sockets.delete(up));
    up.on("error", () => client.destroy());
    client.on("error", () => up.destroy());
    up.write(first);
    client.pipe(up);
    up.pipe(client);
  };

  const server = createServer((client) => {
    sockets.add(client);
    client.on("close", () => sockets.delete(client));
    client.on("error", () => undefined);
    client.once("data", (first: Buffer) => {
      client.pause();
      const line = first.toString("latin1").split("\r\n", 1)[0] ?? "";
      const [method = "", path = ""] = line.split(" ");
      const req = { method, path };
      requests.push(req);
      events.emit("request", req);
      void Promise.resolve(decide(req)).then((d) => {
        if (d === "close") {
          client.destroy();
          void proxy.close();
        } else if (d === "hold" && holding) {
          held.push(() => forward(client, first));
        } else {
          forward(client, first);
        }
      });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, resolve);
  });

  const proxy: DockerProxy = {
    socketPath,
    dockerHost: `unix://${socketPath}`,
    requests,
    waitFor(match) {
      const seen = requests.find(match);
      if (seen) return Promise.resolve(seen);
      return new Promise((resolve) => {
        const on = (r: ProxiedRequest) => {
          if (!match(r)) return;
          events.off("request", on);
          resolve(r);
        };
        events.on("request", on);
      });
    },
    release() {
      holding = false;
      for (const go of held.splice(0)) go();
    },
    close() {
      closed ??= (async () => {
        holding = false;
        held.length = 0;
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          for (const s of sockets) s.destroy();
        });
        await rm(dir, { recursive: true, force: true });
      })();
      return closed;
    },
  };
  return proxy;
}
