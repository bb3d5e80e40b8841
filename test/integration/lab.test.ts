import { readFile, readlink } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  EICAR,
  LAB_LABEL,
  LAB_SIGNATURE_TEXT,
  type LabInfo,
  labDown,
  labStatus,
  labUp,
  procLoopbackPackets,
  sha256File,
} from "../helpers/lab.js";

async function docker(args: string[]): Promise<string> {
  return (await execa("docker", args, { stdin: "ignore" })).stdout;
}

async function exists(path: string): Promise<boolean> {
  return readFile(path).then(
    () => true,
    () => false,
  );
}

describe("the breach lab (escaped scenario)", () => {
  let info: LabInfo;

  beforeAll(async () => {
    info = await labUp({ scenario: "escaped" });
  });
  afterAll(async () => {
    await labDown();
  });

  const containerTrojan = () => info.trojans.find((t) => t.where === "container")!;
  const hostTrojan = () => info.trojans.find((t) => t.where === "host")!;

  it("runs wate in bk-lab-gitlab from a file it deleted", async () => {
    const t = containerTrojan();
    expect(t.container).toBe("bk-lab-gitlab");
    expect(await readlink(`/proc/${t.hostPid}/exe`)).toBe("/tmp/wate (deleted)");
    const cgroup = await readFile(`/proc/${t.hostPid}/cgroup`, "utf8");
    expect(cgroup).toContain(info.containers.gitlab.id);
    expect(await sha256File(`/proc/${t.hostPid}/exe`)).toBe(t.sha256);
  });

  it("floods the container's own loopback at more than 1,000 packets/s", async () => {
    const pid = containerTrojan().hostPid;
    const before = await procLoopbackPackets(pid);
    await sleep(1000);
    const after = await procLoopbackPackets(pid);
    expect(before).not.toBeNull();
    expect(after).not.toBeNull();
    expect(after!.txPackets - before!.txPackets).toBeGreaterThan(1000);
  });

  it("runs a copy on the host, outside any container, with the same hash", async () => {
    const t = hostTrojan();
    expect(t.container).toBeNull();
    expect(t.sha256).toBe(containerTrojan().sha256);
    expect(t.hostPid).not.toBe(containerTrojan().hostPid);
    expect(await readlink(`/proc/${t.hostPid}/exe`)).toBe(`${t.path} (deleted)`);
    expect(t.path).toMatch(/\/kdevtmpfsd$/);
    const cgroup = await readFile(`/proc/${t.hostPid}/cgroup`, "utf8");
    for (const c of Object.values(info.containers)) expect(cgroup).not.toContain(c.id);
    expect(cgroup).not.toMatch(/docker|containerd|libpod/);
    expect(await sha256File(`/proc/${t.hostPid}/exe`)).toBe(t.sha256);
  });

  it("keeps the exploit in gitlab's log and only normal traffic in wordpress's", async () => {
    const gitlab = await docker(["logs", info.containers.gitlab.id]);
    expect(gitlab).toContain('"POST /uploads/user HTTP/1.1" 422');
    expect(gitlab).toMatch(/DjVu/);
    expect(gitlab).toMatch(/curl [^|]+\| sh/);
    const wordpress = await docker(["logs", info.containers.wordpress.id]);
    expect(wordpress).toContain('"GET / HTTP/1.1" 200');
    expect(wordpress).not.toMatch(/uploads|curl|exiftool/i);
  });

  it("fills the mail spool with EICAR and the lab signature, and mounts the Docker socket", async () => {
    const pid = Number(
      await docker(["inspect", "--format", "{{.State.Pid}}", info.containers.mail.id]),
    );
    expect(pid).toBeGreaterThan(1);
    const root = `/proc/${pid}/root`;
    const mbox = await readFile(`${root}${info.signatures.eicarPath}`, "utf8");
    expect(mbox.match(/^From /gm)).toHaveLength(3);
    const b64 = /filename="invoice\.com"\n\n([A-Za-z0-9+/=\n]+)\n\n/.exec(mbox)?.[1] ?? "";
    expect(Buffer.from(b64, "base64").toString("latin1")).toBe(EICAR);
    const maildir = info.signatures.eicarPaths.filter((p) => p !== info.signatures.eicarPath);
    expect(maildir).toHaveLength(1);
    for (const path of maildir) {
      expect(await readFile(`${root}${path}`, "latin1")).toContain(EICAR);
    }
    expect(await readFile(`${root}${info.signatures.labSignaturePath}`, "utf8")).toContain(
      LAB_SIGNATURE_TEXT,
    );
    const mounts = JSON.parse(
      await docker(["inspect", "--format", "{{json .Mounts}}", info.containers.mail.id]),
    ) as { Destination: string; RW: boolean }[];
    expect(mounts).toContainEqual(
      expect.objectContaining({ Destination: "/var/run/docker.sock", RW: false }),
    );
  });

  it("keeps the trojan out of the image and its file out of the writable layer", async () => {
    // Had the image held /tmp/wate, its deletion would show as "D /tmp/wate"; copied into the
    // writable layer and deleted there, it leaves no trace in the changes at all.
    const changes = (await docker(["diff", info.containers.gitlab.id])).split("\n");
    expect(changes).toContain("A /lab/run.sh");
    expect(changes.filter((line) => line.includes("wate"))).toEqual([]);
    const containers = await docker([
      "ps",
      "--filter",
      `label=${LAB_LABEL}=1`,
      "--format",
      "{{.Names}} {{.Networks}}",
    ]);
    expect(containers.split("\n").sort()).toEqual([
      "bk-lab-gitlab none",
      "bk-lab-mail none",
      "bk-lab-wordpress none",
    ]);
  });

  it("down removes every lab container and stops the host copy", async () => {
    const hostPid = hostTrojan().hostPid;
    const result = await labDown();
    expect(result.killedPids).toEqual([hostPid]);
    expect(result.removedContainers.sort()).toEqual(
      Object.values(info.containers)
        .map((c) => c.id)
        .sort(),
    );
    expect(await docker(["ps", "-aq", "--filter", `label=${LAB_LABEL}=1`])).toBe("");
    expect(await exists(`/proc/${hostPid}/stat`)).toBe(false);
    expect(await exists(hostTrojan().path.replace(/\/kdevtmpfsd$/, ""))).toBe(false);
    expect((await labStatus()).containers).toEqual([]);
    expect(await labDown()).toEqual({ removedContainers: [], killedPids: [] });
  });
});
