/**
 * JSON outputs and their schemas: the schemas shipped under schemas/ are what the models
 * generate, `breachkit schema` prints them, and real command outputs (snapshot of the live host,
 * verify of a bundle, scan with no usable tool, triage of a saved bundle) pass their models and
 * carry schemaVersion.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../../src/cli/main.js";
import {
  jsonSchemaOf,
  jsonSchemaText,
  OUTPUT_MODELS,
  OUTPUT_NAMES,
} from "../../src/model/output-schemas.js";
import { packagePath } from "../../src/util/package-root.js";
import { memoryIo } from "../helpers/memory-io.js";

const dir = mkdtempSync(join(tmpdir(), "bk-cli-schema-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Run the CLI, parse its stdout as JSON and check it against the output's model. */
async function jsonOf(
  name: (typeof OUTPUT_NAMES)[number],
  args: string[],
  codes: readonly number[],
) {
  const m = memoryIo({ cwd: dir, env: process.env });
  expect(codes, `${args.join(" ")}: ${m.stderr()}`).toContain(await runCli(args, m.io));
  const doc = JSON.parse(m.stdout()) as { schemaVersion: unknown };
  expect(doc.schemaVersion).toBe(OUTPUT_MODELS[name].version);
  const parsed = OUTPUT_MODELS[name].schema.safeParse(doc);
  expect(parsed.success, JSON.stringify(parsed.error?.issues.slice(0, 3))).toBe(true);
  return doc as Record<string, unknown>;
}

describe("shipped schemas", () => {
  it("schemas/ holds exactly one file per output, each what its model generates", () => {
    const files = readdirSync(packagePath("schemas")).sort();
    expect(files).toEqual(OUTPUT_NAMES.map((n) => `${n}.schema.json`).sort());
    for (const name of OUTPUT_NAMES) {
      const shipped = readFileSync(packagePath("schemas", `${name}.schema.json`), "utf8");
      expect(shipped, `${name}: run npm run schemas`).toBe(jsonSchemaText(name));
    }
  });

  it("each schema requires schemaVersion with its version", () => {
    for (const name of OUTPUT_NAMES) {
      const s = jsonSchemaOf(name);
      expect(s.$id).toBe(`urn:breachkit:schema:${name}:${OUTPUT_MODELS[name].version}`);
      const branches = (s.anyOf as Record<string, unknown>[] | undefined) ?? [s];
      for (const b of branches) {
        expect(b.required as string[], name).toContain("schemaVersion");
        const props = b.properties as Record<string, { const?: unknown }>;
        expect(props.schemaVersion?.const, name).toBe(OUTPUT_MODELS[name].version);
      }
    }
  });

  it("the package ships schemas/", () => {
    const pkg = JSON.parse(readFileSync(packagePath("package.json"), "utf8"));
    expect(pkg.files).toContain("schemas");
  });
});

describe("breachkit schema", () => {
  it("prints a schema, the same text as the shipped file", async () => {
    const m = memoryIo();
    expect(await runCli(["schema", "triage"], m.io)).toBe(0);
    expect(m.stdout()).toBe(readFileSync(packagePath("schemas", "triage.schema.json"), "utf8"));
  });

  it("--list names every output with its version", async () => {
    const m = memoryIo();
    expect(await runCli(["schema", "--list"], m.io)).toBe(0);
    for (const n of OUTPUT_NAMES)
      expect(m.stdout()).toMatch(new RegExp(`^${n} +schemaVersion 1`, "m"));
  });

  it("an unknown name or none is a usage error (exit 2)", async () => {
    const bad = memoryIo();
    expect(await runCli(["schema", "findings"], bad.io)).toBe(2);
    expect(bad.stderr()).toMatch(/Allowed choices are snapshot, triage/);
    const none = memoryIo();
    expect(await runCli(["schema"], none.io)).toBe(2);
    expect(none.stderr()).toMatch(/--list/);
  });
});

describe("real outputs against their models", () => {
  let bundle = "";

  it("snapshot --json of this host", async () => {
    await jsonOf("snapshot", ["snapshot", "--json", "--out", dir], [0]);
    bundle = join(dir, readdirSync(dir).find((n) => n.startsWith("breachkit-"))!);
  });

  it("verify --json of a bundle, intact and then tampered", async () => {
    const ok = await jsonOf("verify", ["verify", "--json", bundle], [0]);
    expect(ok.intact).toBe(true);
    writeFileSync(join(bundle, "added.txt"), "x");
    const bad = await jsonOf("verify", ["verify", "--json", bundle], [1]);
    expect(bad.added).toEqual(["added.txt"]);
    rmSync(join(bundle, "added.txt"));
  });

  it("triage --json of the saved snapshot bundle", async () => {
    const doc = await jsonOf("triage", ["triage", "--json", "--bundle", bundle], [0, 1]);
    expect((doc.bundle as { offline: boolean }).offline).toBe(true);
  });

  it("scan --json when no tool can run to the end: exit 2, said on stderr and in the JSON", async () => {
    const empty = mkdtempSync(join(dir, "db-"));
    const m = memoryIo({ cwd: dir, env: process.env });
    const args = ["scan", "--clamav", "--clamav-db", empty, "--host-paths", empty, "--json"];
    expect(await runCli(args, m.io)).toBe(2);
    expect(m.stderr()).toMatch(/no requested tool ran to the end \(clamav error\)/);
    const doc = JSON.parse(m.stdout());
    expect(OUTPUT_MODELS.scan.schema.safeParse(doc).success).toBe(true);
    expect(doc.ranToEnd).toBe(false);
    expect(doc.tools[0].status).toBe("error");
  });
});
