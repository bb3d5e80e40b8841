import { afterEach, describe, expect, it } from "vitest";
import { parseSnapshot, SnapshotSchema } from "../../../src/model/snapshot.js";
import { takeSnapshot } from "../../../src/observe/snapshot.js";
import { makeTree, type Tree } from "../../helpers/accounts-fixtures.js";

// `--root DIR` reads a dead server's disk: nothing live (no /proc, no engine) may leak in,
// so these run without Docker. The engine variable points at a socket that cannot exist, and
// the offline path must not even try it.
const ENV = { DOCKER_HOST: "unix:///nonexistent/docker.sock" };
const NOW = new Date("2026-03-01T12:00:00.000Z");

let tree: Tree | null = null;
afterEach(async () => {
  await tree?.cleanup();
  tree = null;
});

describe("takeSnapshot with a root directory (offline)", () => {
  it("reads the accounts of the tree, marks the host not live and says what is missing", async () => {
    tree = await makeTree({
      "etc/hostname": "web-01\n",
      "etc/passwd":
        "root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33::/var/www:/usr/sbin/nologin\n",
      "etc/shadow": "root:$6$abc$def:19700:0:99999:7:::\nwww-data:*:19700:0:99999:7:::\n",
      "etc/group": "root:x:0:\nwww-data:x:33:\n",
    });
    const { snapshot, inspects } = await takeSnapshot({
      env: ENV,
      root: tree.root,
      now: () => NOW,
    });
    expect(() => SnapshotSchema.parse(snapshot)).not.toThrow();
    expect(snapshot.takenAt).toBe(NOW.toISOString());
    expect(snapshot.host).toMatchObject({ hostname: "web-01", root: tree.root, live: false });
    expect(snapshot.engine.available).toBe(false);
    expect(snapshot.engine.endpoint).toBe("offline");
    expect(snapshot.intervalSeconds).toBeNull();
    expect([snapshot.processes, snapshot.containers, snapshot.sockets, snapshot.netns]).toEqual([
      [],
      [],
      [],
      [],
    ]);
    expect(inspects.size).toBe(0);
    expect(snapshot.accounts).toHaveLength(1);
    expect(snapshot.accounts[0]).toMatchObject({
      scope: "host",
      containerId: null,
      root: tree.root,
    });
    expect(snapshot.accounts[0]?.users.map((u) => [u.name, u.password])).toEqual([
      ["root", "set"],
      ["www-data", "locked"],
    ]);
    expect(JSON.stringify(snapshot)).not.toContain("$6$abc$def");
    expect(snapshot.gaps.some((g) => g.source === "snapshot" && /not live/.test(g.message))).toBe(
      true,
    );
    // What was written is what a later command reads.
    expect(parseSnapshot(JSON.stringify(snapshot))).toEqual(snapshot);
  });

  it("completes on a tree without hostname or shadow, reporting the gaps", async () => {
    tree = await makeTree({ "etc/passwd": "root:x:0:0:root:/root:/bin/sh\n" });
    const { snapshot } = await takeSnapshot({ env: ENV, root: tree.root, now: () => NOW });
    expect(snapshot.host.hostname).toBe("unknown");
    expect(snapshot.accounts[0]?.users.map((u) => [u.name, u.password])).toEqual([
      ["root", "unknown"],
    ]);
    expect(snapshot.gaps.some((g) => g.message.includes("/etc/shadow"))).toBe(true);
  });

  it("resolves the hostname inside the tree and reads it bounded", async () => {
    // An absolute symlink on a mounted disk points into that disk, not into the live host.
    tree = await makeTree({
      "etc/hostname": { symlink: "/srv/conf/hostname" },
      "srv/conf/hostname": "inside-the-image\n",
      "etc/passwd": "",
    });
    const linked = await takeSnapshot({ env: ENV, root: tree.root, now: () => NOW });
    expect(linked.snapshot.host.hostname).toBe("inside-the-image");
    await tree.cleanup();
    tree = await makeTree({ "etc/hostname": "x".repeat(1024 * 1024), "etc/passwd": "" });
    const huge = await takeSnapshot({ env: ENV, root: tree.root, now: () => NOW });
    expect(huge.snapshot.host.hostname.length).toBeLessThanOrEqual(4096);
    expect(huge.snapshot.host.hostname).toMatch(/^x+$/);
  });

  it("keeps a hostile hostname as data", async () => {
    const hostile = "\u001b[31mweb<b>01</b>";
    tree = await makeTree({ "etc/hostname": `${hostile}\n`, "etc/passwd": "" });
    const { snapshot } = await takeSnapshot({ env: ENV, root: tree.root, now: () => NOW });
    expect(snapshot.host.hostname).toBe(hostile);
    expect(parseSnapshot(JSON.stringify(snapshot)).host.hostname).toBe(hostile);
  });
});
