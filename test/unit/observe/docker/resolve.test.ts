import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { Container } from "../../../../src/model/snapshot.js";
import { toContainer } from "../../../../src/observe/docker/container-model.js";
import { resolveContainer } from "../../../../src/observe/docker/resolve.js";

const recorded = ["inspect-running.json", "inspect-exited.json", "inspect-paused.json"].map((f) =>
  toContainer(
    JSON.parse(readFileSync(new URL(`../../../fixtures/docker/${f}`, import.meta.url), "utf8")),
  ),
);
const [running, exited, paused] = recorded as [Container, Container, Container];
const like = (base: Container, id: string, name: string): Container => ({ ...base, id, name });

describe("resolveContainer", () => {
  it("finds a container by exact name, with or without the leading slash", () => {
    for (const query of ["bk-fx-running", "/bk-fx-running"]) {
      const r = resolveContainer(recorded, query);
      expect(r.ok && r.value.id).toBe(running.id);
    }
  });

  it("finds a container by full id and by a unique id prefix of 4 or more hex digits", () => {
    for (const query of [exited.id, exited.id.slice(0, 12), exited.id.slice(0, 4).toUpperCase()]) {
      const r = resolveContainer(recorded, query);
      expect(r.ok && r.value.name, query).toBe("bk-fx-exited");
    }
  });

  it("refuses an id prefix shorter than 4 digits, suggesting what it matches", () => {
    const r = resolveContainer(recorded, paused.id.slice(0, 3));
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.kind).toBe("unknown");
    expect(r.error.candidates.map((c) => c.id)).toContain(paused.id);
  });

  it("does not take a name or a prefix with a leading slash as an id", () => {
    const r = resolveContainer(recorded, `/${running.id.slice(0, 12)}`);
    expect(r.ok).toBe(false);
  });

  it("refuses a prefix several ids share, listing them", () => {
    const a = like(running, `abcd1${"0".repeat(59)}`, "a");
    const b = like(exited, `abcd2${"0".repeat(59)}`, "b");
    const r = resolveContainer([a, b, paused], "abcd");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.kind).toBe("ambiguous");
    expect(r.error.candidates.map((c) => c.name)).toEqual(["a", "b"]);
    const exact = resolveContainer([a, b], "abcd1");
    expect(exact.ok && exact.value.name).toBe("a");
  });

  it("refuses a name that is also another container's id prefix (a decoy named like an id)", () => {
    const victim = like(running, `3f2a${"9".repeat(60)}`, "gitlab");
    const decoy = like(exited, `77${"1".repeat(62)}`, "3f2a");
    const r = resolveContainer([victim, decoy], "3f2a");
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.error.kind).toBe("ambiguous");
    expect(r.error.candidates.map((c) => c.name).sort()).toEqual(["3f2a", "gitlab"]);
  });

  it("matches names exactly: case, substrings and whitespace do not select", () => {
    for (const query of ["BK-FX-RUNNING", "bk-fx", "bk-fx-running ", ""]) {
      const r = resolveContainer(recorded, query);
      expect(r.ok, JSON.stringify(query)).toBe(false);
      if (!r.ok) expect(r.error.kind).toBe("unknown");
    }
    const partial = resolveContainer(recorded, "bk-fx");
    if (!partial.ok) expect(partial.error.candidates).toHaveLength(3);
    const empty = resolveContainer(recorded, "");
    if (!empty.ok) expect(empty.error.candidates).toEqual([]);
  });

  it("treats hostile queries as plain text", () => {
    for (const query of ["^.*$", "bk-fx-running\n", "\u001b[31m", "<b>"]) {
      expect(resolveContainer(recorded, query).ok).toBe(false);
    }
  });
});
