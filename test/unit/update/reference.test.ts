import { describe, expect, it } from "vitest";
import {
  apiHost,
  digestsFor,
  familiarName,
  newerSemverTags,
  parseImageRef,
} from "../../../src/observe/registry/reference.js";

const D = `sha256:${"a".repeat(64)}`;

describe("parseImageRef", () => {
  it("normalises Docker Hub names as Docker does", () => {
    const r = parseImageRef("nginx");
    expect(r.ok && r.value).toMatchObject({
      registry: "docker.io",
      repository: "library/nginx",
      tag: "latest",
      digest: null,
    });
    const u = parseImageRef("someone/app:1.2");
    expect(u.ok && u.value).toMatchObject({
      registry: "docker.io",
      repository: "someone/app",
      tag: "1.2",
    });
    expect(apiHost("docker.io")).toBe("registry-1.docker.io");
  });

  it("reads a registry host with a port, localhost, and a digest", () => {
    const r = parseImageRef(`127.0.0.1:5000/team/app:1.0.0@${D}`);
    expect(r.ok && r.value).toMatchObject({
      registry: "127.0.0.1:5000",
      repository: "team/app",
      tag: "1.0.0",
      digest: D,
    });
    const l = parseImageRef("localhost/app");
    expect(l.ok && l.value).toMatchObject({
      registry: "localhost",
      repository: "app",
      tag: "latest",
    });
    // A port-looking tag on a one-part name is a tag, not a host.
    const t = parseImageRef("app:5000");
    expect(t.ok && t.value).toMatchObject({
      registry: "docker.io",
      repository: "library/app",
      tag: "5000",
    });
  });

  it("refuses ids and hostile text", () => {
    expect(parseImageRef("a".repeat(64)).ok).toBe(false);
    expect(parseImageRef(`sha256:${"b".repeat(64)}`).ok).toBe(false);
    expect(parseImageRef("app:1\nEVIL").ok).toBe(false);
    expect(parseImageRef("../../etc:1").ok).toBe(false);
    expect(parseImageRef("UPPER").ok).toBe(false);
    expect(parseImageRef("x@sha256:short").ok).toBe(false);
  });

  it("finds the digests of this repository in RepoDigests, whatever the spelling", () => {
    const r = parseImageRef("nginx:1");
    if (!r.ok) throw new Error(r.error);
    expect(
      digestsFor(r.value, [
        `nginx@${D}`,
        `other@sha256:${"c".repeat(64)}`,
        `docker.io/library/nginx@${D}`,
      ]),
    ).toEqual([D, D]);
    expect(familiarName(r.value)).toBe("nginx");
  });
});

describe("newerSemverTags", () => {
  it("lists newer tags of the same shape, newest first", () => {
    const tags = [
      "1.2.3",
      "1.2.4",
      "1.10.0",
      "1.3",
      "1.2.4-alpine",
      "latest",
      "2.0.0",
      "1.2.2",
      "v1.9.9",
    ];
    expect(newerSemverTags("1.2.3", tags)).toEqual(["2.0.0", "1.10.0", "1.2.4"]);
    expect(newerSemverTags("1.2.3-alpine", ["1.2.4-alpine", "1.2.4"])).toEqual(["1.2.4-alpine"]);
    expect(newerSemverTags("latest", tags)).toEqual([]);
    expect(newerSemverTags("2.0.0", tags)).toEqual([]);
  });
});
