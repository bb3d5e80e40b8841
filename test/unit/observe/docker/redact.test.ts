import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { REDACTED, redactInspect } from "../../../../src/observe/docker/redact.js";

type Inspect = { Config: { Env: string[]; Labels: Record<string, unknown>; Cmd: string[] } };
const inspect = (name: string): Inspect =>
  JSON.parse(readFileSync(new URL(`../../../fixtures/docker/${name}`, import.meta.url), "utf8"));

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

  it("keeps the command line: it is evidence", () => {
    const raw = inspect("inspect-running.json");
    expect(redactInspect(raw).Config.Cmd).toEqual(raw.Config.Cmd);
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
