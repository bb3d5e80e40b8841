import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  checkManifest,
  parseChallenge,
  RegistryError,
} from "../../../src/observe/registry/client.js";
import { authKeyHost, parseDockerConfig } from "../../../src/observe/registry/docker-config.js";

const sha = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const d = (c: string) => `sha256:${c.repeat(64)}`;

describe("parseChallenge", () => {
  it("reads Docker Hub's Bearer challenge", () => {
    const c = parseChallenge(
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"',
    );
    expect(c).toEqual({
      scheme: "bearer",
      params: {
        realm: "https://auth.docker.io/token",
        service: "registry.docker.io",
        scope: "repository:library/nginx:pull",
      },
    });
  });
  it("reads Basic, unquoted values and escapes", () => {
    expect(parseChallenge('Basic realm="basic-realm"')).toEqual({
      scheme: "basic",
      params: { realm: "basic-realm" },
    });
    expect(parseChallenge('Bearer realm=https://a/t, service="s\\"x"')?.params).toEqual({
      realm: "https://a/t",
      service: 's"x',
    });
    expect(parseChallenge("")).toBeNull();
  });
});

describe("checkManifest", () => {
  const v2 = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
      config: { digest: d("a"), size: 1, mediaType: "x" },
      layers: [{ digest: d("b"), size: 2, mediaType: "y" }],
    }),
  );
  it("accepts a Docker v2 manifest, a manifest list, and OCI manifests and indexes by content type", () => {
    expect(checkManifest(v2, undefined, sha(v2))).toEqual({
      digest: sha(v2),
      mediaType: "application/vnd.docker.distribution.manifest.v2+json",
    });
    const list = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.docker.distribution.manifest.list.v2+json",
        manifests: [{ digest: d("c") }],
      }),
    );
    expect(checkManifest(list, undefined, null).mediaType).toMatch(/list/);
    const ociIndex = Buffer.from(
      JSON.stringify({ schemaVersion: 2, manifests: [{ digest: d("c") }] }),
    );
    expect(checkManifest(ociIndex, "application/vnd.oci.image.index.v1+json", null).mediaType).toBe(
      "application/vnd.oci.image.index.v1+json",
    );
    const oci = Buffer.from(
      JSON.stringify({ schemaVersion: 2, config: { digest: d("a") }, layers: [] }),
    );
    expect(
      checkManifest(oci, "application/vnd.oci.image.manifest.v1+json; charset=utf-8", null)
        .mediaType,
    ).toBe("application/vnd.oci.image.manifest.v1+json");
  });
  it("refuses bytes that do not hash to the claimed digest, non-JSON, and the wrong shape", () => {
    const kind = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return e instanceof RegistryError ? e.kind : "other";
      }
      return "none";
    };
    expect(kind(() => checkManifest(v2, undefined, d("f")))).toBe("malformed");
    expect(kind(() => checkManifest(Buffer.from("<html>"), undefined, null))).toBe("malformed");
    expect(kind(() => checkManifest(Buffer.from('{"schemaVersion":1}'), undefined, null))).toBe(
      "malformed",
    );
    expect(
      kind(() => checkManifest(Buffer.from('{"schemaVersion":2,"layers":"x"}'), undefined, null)),
    ).toBe("malformed");
    expect(
      kind(() =>
        checkManifest(
          Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [{ digest: "../x" }] })),
          undefined,
          null,
        ),
      ),
    ).toBe("malformed");
  });
});

describe("Docker config credentials", () => {
  it("decodes auths (base64 user:password), names Docker Hub's keys, notes helpers", () => {
    const auth = Buffer.from("alice:s3cr:et").toString("base64");
    const a = parseDockerConfig(
      JSON.stringify({
        auths: {
          "https://index.docker.io/v1/": { auth },
          "reg.example:5000": { auth },
          "empty.example": {},
        },
        credHelpers: { "gcr.io": "gcloud" },
      }),
      "/x/config.json",
    );
    expect(a.byHost.get("docker.io")).toEqual({
      username: "alice",
      password: "s3cr:et",
      identityToken: null,
    });
    expect(a.byHost.get("reg.example:5000")?.username).toBe("alice");
    expect(a.byHost.has("empty.example")).toBe(false);
    expect(a.helperHosts.has("gcr.io")).toBe(true);
    expect(authKeyHost("https://Reg.Example:5000/v2/")).toBe("reg.example:5000");
  });
  it("a broken file is a problem, never a crash", () => {
    expect(parseDockerConfig("{", "/x").problem).toMatch(/not JSON/);
    expect(parseDockerConfig('{"auths": 3}', "/x").problem).toMatch(/unexpected shape/);
  });
});
