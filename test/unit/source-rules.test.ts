/**
 * Rules of the source tree that nothing else would notice broken: the bundle build
 * (scripts/build.mjs bundles src/ into one file), and the layers of docs/architecture.md:
 * which layer may import which, `process` in the entry only, and the host changed from act
 * only. Each file is parsed with TypeScript's own parser, so comments and strings (a finding
 * rule named "process.deleted-exe") never count.
 */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";
import { z } from "../../src/util/zod.js";

const SRC = fileURLToPath(new URL("../../src/", import.meta.url));

function sources(dir = SRC): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return sources(path);
    return /\.c?ts$/.test(e.name) ? [path] : [];
  });
}

const withLine = (pattern: RegExp) =>
  sources()
    .filter((f) => pattern.test(readFileSync(f, "utf8")))
    .map((f) => relative(SRC, f))
    .sort();

// --- the layers (docs/architecture.md, "Layers and imports") ----------------------------------

const LAYERS = ["util", "model", "observe", "judge", "evidence", "act", "tell", "cli"] as const;
type Layer = (typeof LAYERS)[number];

/**
 * What each layer may import: `value` for any import, `types` for `import type` only (erased at
 * build: it names a shape, it runs no code of that layer). A layer imports itself freely.
 */
const MAY_IMPORT: Record<Layer, Partial<Record<Layer, "value" | "types">>> = {
  util: {},
  model: { util: "value" },
  observe: { util: "value", model: "value" },
  judge: { util: "value", model: "value", observe: "types" },
  evidence: { util: "value", model: "value", observe: "value" },
  act: { util: "value", model: "value", observe: "value", judge: "value", evidence: "value" },
  tell: {
    util: "value",
    model: "value",
    judge: "types",
    observe: "types",
    evidence: "types",
    act: "types",
  },
  cli: {
    util: "value",
    model: "value",
    observe: "value",
    judge: "value",
    evidence: "value",
    act: "value",
    tell: "value",
  },
};

/** The layer of a file under src/: its top folder; src/version.ts is a util (it reads package.json). */
function layerOf(file: string): Layer {
  const rel = relative(SRC, file).split("/");
  const top = rel.length === 1 ? (rel[0] === "version.ts" ? "util" : "") : rel[0]!;
  if (!(LAYERS as readonly string[]).includes(top)) {
    throw new Error(`${relative(SRC, file)} is in no layer: add its folder to LAYERS`);
  }
  return top as Layer;
}

interface ImportRef {
  specifier: string;
  typeOnly: boolean;
  line: number;
}

const parsed = new Map<string, ts.SourceFile>();
function parse(file: string): ts.SourceFile {
  let sf = parsed.get(file);
  if (!sf) {
    sf = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
    parsed.set(file, sf);
  }
  return sf;
}

function walk(node: ts.Node, visit: (n: ts.Node) => void): void {
  visit(node);
  node.forEachChild((c) => walk(c, visit));
}

const lineOf = (sf: ts.SourceFile, n: ts.Node) =>
  sf.getLineAndCharacterOfPosition(n.getStart(sf)).line + 1;

/** Every module a file names: import and export-from declarations, and import(). */
function importsOf(file: string): ImportRef[] {
  const sf = parse(file);
  const out: ImportRef[] = [];
  walk(sf, (n) => {
    if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
      // Under verbatimModuleSyntax only `import type` is erased; `import { type X }` still
      // loads the module.
      const typeOnly = n.importClause?.isTypeOnly === true;
      out.push({ specifier: n.moduleSpecifier.text, typeOnly, line: lineOf(sf, n) });
    } else if (
      ts.isExportDeclaration(n) &&
      n.moduleSpecifier &&
      ts.isStringLiteral(n.moduleSpecifier)
    ) {
      out.push({ specifier: n.moduleSpecifier.text, typeOnly: n.isTypeOnly, line: lineOf(sf, n) });
    } else if (
      ts.isCallExpression(n) &&
      n.expression.kind === ts.SyntaxKind.ImportKeyword &&
      n.arguments[0] &&
      ts.isStringLiteral(n.arguments[0])
    ) {
      out.push({ specifier: n.arguments[0].text, typeOnly: false, line: lineOf(sf, n) });
    }
  });
  return out;
}

/** Every violation of the import table, as "file:line imports SPEC (from -> to ...)". */
function importViolations(files: readonly string[], table = MAY_IMPORT): string[] {
  const problems: string[] = [];
  for (const file of files) {
    const from = layerOf(file);
    for (const ref of importsOf(file)) {
      if (!ref.specifier.startsWith(".")) continue;
      const target = resolve(dirname(file), ref.specifier);
      const to = layerOf(target.replace(/\.js$/, ".ts"));
      if (to === from) continue;
      const allowed = table[from][to];
      const where = `${relative(SRC, file)}:${ref.line} imports ${ref.specifier}`;
      if (allowed === undefined) problems.push(`${where} (${from} may not import ${to})`);
      else if (allowed === "types" && !ref.typeOnly) {
        problems.push(`${where} (${from} may import ${to} with \`import type\` only)`);
      }
    }
  }
  return problems;
}

/** Packages that belong to one place: the CLI's parser, the terminal's colours. */
const PACKAGE_HOMES: Record<string, (rel: string) => boolean> = {
  commander: (rel) => rel.startsWith("cli/"),
  picocolors: (rel) => rel === "util/colors.ts",
};

// --- `process` and host changes ---------------------------------------------------------------

/** The one module that builds the CLI's io from `process` (argv, streams, env, exit code). */
const ENTRY = "cli/bin.ts";

/** Files that use `process` beside the entry, each with why it cannot take it as an argument. */
const PROCESS_EXCEPTIONS: Record<string, string> = {
  "act/actions.ts":
    "kill mode sends SIGKILL to a host pid verified just before (identity, start time, exe hash): a signal has no other API",
  "observe/scanners/run-tool.ts":
    "ends the process group of a scanner breachkit started (timeout or interrupt), by its pid: a signal has no other API",
  "act/memory-dump.ts":
    "SIGSTOP and SIGCONT around the read of a host process's memory (collect --memory), to the pid whose start time was checked just before: a signal has no other API",
  "observe/proc/host-facts.ts":
    "process.arch is a constant of the running Node build (the word size of utmp records), not state to pass in",
  "observe/proc/processes.ts":
    "a live reading of /proc marks breachkit's own process (process.pid) as self unless the caller names another pid: the only pid that is never a suspect",
  "act/schedule/jobs.ts":
    "process.execPath: the Node binary running breachkit, to run breachkit's own CLI as a scheduled job (and to write it into the timer's ExecStart)",
  "cli/boot.ts":
    "the built command's entry (dist/cli/bin.cjs), a second entry beside bin.ts: it sets the trace's exit line before it loads the bundle",
};

/** The files that touch `process`, with the line of the first use. */
function processUsers(files: readonly string[]): Map<string, number> {
  const users = new Map<string, number>();
  for (const file of files) {
    const sf = parse(file);
    let first = 0;
    walk(sf, (n) => {
      if (first) return;
      const parent = n.parent;
      const isProcess = ts.isIdentifier(n) && n.text === "process";
      const used =
        isProcess &&
        parent !== undefined &&
        ((ts.isPropertyAccessExpression(parent) && parent.expression === n) ||
          (ts.isElementAccessExpression(parent) && parent.expression === n) ||
          ts.isCallExpression(parent) ||
          ts.isShorthandPropertyAssignment(parent) ||
          (ts.isVariableDeclaration(parent) && parent.initializer === n));
      const imported =
        ts.isImportDeclaration(n) &&
        ts.isStringLiteral(n.moduleSpecifier) &&
        /^(node:)?process$/.test(n.moduleSpecifier.text);
      if (used || imported) first = lineOf(sf, n);
    });
    if (first) users.set(relative(SRC, file), first);
  }
  return users;
}

/** The layer that changes the host: act. Everything else is an exception with its reason. */
const MAY_CHANGE_HOST = (rel: string) => rel.startsWith("act/");

const FS_WRITES = new Set([
  "writeFile",
  "writeFileSync",
  "appendFile",
  "appendFileSync",
  "createWriteStream",
  "write",
  "writeSync",
  "writev",
  "mkdir",
  "mkdirSync",
  "mkdtemp",
  "mkdtempSync",
  "rm",
  "rmSync",
  "rmdir",
  "rmdirSync",
  "unlink",
  "unlinkSync",
  "rename",
  "renameSync",
  "cp",
  "cpSync",
  "copyFile",
  "copyFileSync",
  "chmod",
  "chmodSync",
  "chown",
  "chownSync",
  "lchown",
  "symlink",
  "symlinkSync",
  "link",
  "linkSync",
  "truncate",
  "truncateSync",
  "utimes",
  "utimesSync",
]);

/** Writes outside act, each to a path breachkit owns and names in its help. */
const WRITE_EXCEPTIONS: Record<string, string> = {
  "evidence/bundle.ts":
    "the bundle: a new directory (mode 0700) under the --out the user named, refused inside Docker's own data; nothing outside it",
  "evidence/archive.ts":
    "the bundle's .tar.gz beside the bundle directory (collect --archive), removed again if packing fails",
  "observe/scanners/clamav.ts":
    "a temporary directory for clamscan's file list (mkdtemp under $TMPDIR), removed when the scan ends",
  "observe/scanners/clamd-daemon.ts":
    "a temporary directory for its own clamd's config, socket and log, removed when that clamd stops",
  "observe/scanners/lynis.ts":
    "a temporary directory for Lynis's profile, log and report (so Lynis writes nothing to /var/log), removed after",
  "observe/scanners/rkhunter.ts":
    "a temporary copy of rkhunter's database per rkhunter process (--check rewrites it otherwise), removed after",
  "observe/packages/rpm.ts":
    "a temporary copy of a root's rpm database (rpm writes a lock and SQLite's -wal/-shm beside the database it opens; the root must stay as it is), removed after",
  "observe/scanners/scan-cache.ts":
    "the ClamAV scan cache, in the cache directory scan's help names",
  "cli/commands/audit.ts":
    "the SARIF file that audit --sarif FILE names (mode 0600), a report the user asked for; nothing else",
  "cli/commands/report.ts":
    "the report files (report.html, timeline.jsonl ...) in the --out directory report's help names, never over an existing file, refused inside a bundle",
  "evidence/watch-record.ts":
    "watch --record FILE: the file the user named and its one rotated predecessor FILE.1 (mode 0600, bounded by --record-max), named in watch's help",
  "observe/scanners/yara.ts":
    "a temporary directory for yara's scan list (mkdtemp under $TMPDIR, mode 0600 file), removed when the scan ends",
};

/** Signals sent outside act: each only to a process breachkit started itself. */
const SIGNAL_EXCEPTIONS: Record<string, string> = {
  "observe/scanners/run-tool.ts":
    "the process group of a program it started (a scanner, restic, a backup hook), on timeout or interrupt",
  "observe/scanners/clamd-daemon.ts": "the clamd it started, when the scan is over",
  "evidence/collect-host.ts": "the journalctl it started, when its read is cut short",
  "evidence/archive.ts": "the tar it started, when packing the bundle fails",
};

/** Programs started outside act: each named with what it is for (argv only, never a shell). */
const SPAWN_EXCEPTIONS: Record<string, string> = {
  "observe/scanners/run-tool.ts":
    "the scanners (rkhunter, chkrootkit, Lynis, clamscan, the host's rpm listing a copied database), read-only runs; and, for act/backup only, restic's writing runs and the backup hooks (the caller in act/ decides the change)",
  "observe/scanners/clamd-daemon.ts": "breachkit's own clamd, on a temporary socket",
  "evidence/collect-host.ts": "journalctl, to copy the journal into the bundle",
  "evidence/archive.ts": "tar, to pack the bundle",
};

interface HostChange {
  file: string;
  line: number;
  what: string;
}

function hostChanges(files: readonly string[]): HostChange[] {
  const out: HostChange[] = [];
  for (const file of files) {
    const sf = parse(file);
    const rel = relative(SRC, file);
    const add = (n: ts.Node, what: string) => out.push({ file: rel, line: lineOf(sf, n), what });
    const fsNamespaces = new Set<string>();
    walk(sf, (n) => {
      if (ts.isImportDeclaration(n) && ts.isStringLiteral(n.moduleSpecifier)) {
        const mod = n.moduleSpecifier.text;
        const bindings = n.importClause?.namedBindings;
        if (/^(node:)?fs(\/promises)?$/.test(mod) && !n.importClause?.isTypeOnly) {
          if (bindings && ts.isNamespaceImport(bindings)) fsNamespaces.add(bindings.name.text);
          if (bindings && ts.isNamedImports(bindings)) {
            for (const e of bindings.elements) {
              const name = (e.propertyName ?? e.name).text;
              if (!e.isTypeOnly && FS_WRITES.has(name)) add(e, `write: ${name} from ${mod}`);
            }
          }
        }
        if (/^(node:)?child_process$|^execa$/.test(mod) && !n.importClause?.isTypeOnly) {
          add(n, `spawn: imports ${mod}`);
        }
      }
      if (
        ts.isPropertyAccessExpression(n) &&
        ts.isIdentifier(n.expression) &&
        fsNamespaces.has(n.expression.text) &&
        FS_WRITES.has(n.name.text)
      ) {
        add(n, `write: ${n.expression.text}.${n.name.text}`);
      }
      // open()/openSync() with flags that write: "w", "a", "r+", or O_WRONLY/O_RDWR/O_CREAT...
      if (ts.isCallExpression(n)) {
        const callee = n.expression;
        const name = ts.isIdentifier(callee)
          ? callee.text
          : ts.isPropertyAccessExpression(callee)
            ? callee.name.text
            : "";
        const flags = n.arguments[1];
        if ((name === "open" || name === "openSync") && flags) {
          const text = flags.getText(sf);
          if (
            (ts.isStringLiteral(flags) && /[wa+]/.test(flags.text)) ||
            /O_(WRONLY|RDWR|CREAT|APPEND|TRUNC)/.test(text)
          ) {
            add(n, `write: ${name} with ${text.replace(/\s+/g, " ")}`);
          }
        }
        if (ts.isPropertyAccessExpression(callee) && callee.name.text === "kill") {
          add(n, `signal: ${callee.getText(sf)}`);
        }
      }
      // An Engine API request that changes state: { method: "POST" } (or DELETE, PUT, PATCH).
      if (
        ts.isPropertyAssignment(n) &&
        ts.isIdentifier(n.name) &&
        n.name.text === "method" &&
        ts.isStringLiteral(n.initializer) &&
        /^(POST|DELETE|PUT|PATCH)$/.test(n.initializer.text)
      ) {
        add(n, `engine: ${n.initializer.text} request`);
      }
    });
  }
  return out;
}

const kindOf = (c: HostChange) => c.what.split(":")[0]!;
const EXCEPTIONS_BY_KIND: Record<string, Record<string, string>> = {
  write: WRITE_EXCEPTIONS,
  signal: SIGNAL_EXCEPTIONS,
  spawn: SPAWN_EXCEPTIONS,
  engine: {},
};

const stale = (exceptions: Record<string, string>, used: ReadonlySet<string>) =>
  // A listed file that another change deleted is not stale; one that stopped needing it is.
  Object.keys(exceptions).filter((f) => existsSync(join(SRC, f)) && !used.has(f));

describe("the source tree", () => {
  it("resolves package files in one place: in the bundle every module has the bundle's URL", () => {
    expect(withLine(/import\.meta\.url/)).toEqual(["util/package-root.ts"]);
  });

  it("takes zod's z from util/zod.ts only, so that every schema is built jitless", () => {
    // Type-only imports build nothing.
    expect(withLine(/^import \{[^}]*\bz\b[^}]*\} from "zod";/m)).toEqual(["util/zod.ts"]);
    expect(z.config().jitless).toBe(true);
  });
});

describe("the layers (docs/architecture.md)", () => {
  it("every file imports only what its layer may import", () => {
    expect(importViolations(sources())).toEqual([]);
  });

  it("the check catches an import against the table, naming file, line and import", () => {
    // A real file checked against the table with one permission taken away: the rule bites.
    const judgeFile = join(SRC, "judge/scanners/index.ts");
    expect(importViolations([judgeFile])).toEqual([]);
    const stricter = { ...MAY_IMPORT, judge: { util: "value", model: "value" } } as const;
    const problems = importViolations([judgeFile], stricter);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems[0]).toMatch(
      /^judge\/scanners\/index\.ts:\d+ imports \.\.\/\.\.\/observe\/scanners\/types\.js \(judge may not import observe\)$/,
    );
    const valueImport = { ...MAY_IMPORT, cli: { ...MAY_IMPORT.cli, tell: "types" } } as const;
    expect(importViolations([join(SRC, "cli/commands/scan.ts")], valueImport)[0]).toMatch(
      /^cli\/commands\/scan\.ts:\d+ imports \.\.\/\.\.\/tell\/format-scan\.js \(cli may import tell with `import type` only\)$/,
    );
  });

  it("observe and judge never import tell, act or cli; tell never imports cli", () => {
    for (const layer of ["observe", "judge"] as const) {
      for (const other of ["tell", "act", "cli"] as const) {
        expect(MAY_IMPORT[layer][other], `${layer} -> ${other}`).toBeUndefined();
      }
    }
    expect(MAY_IMPORT.tell.cli).toBeUndefined();
  });

  it("puts commander in cli and picocolors in util/colors.ts only", () => {
    const misplaced: string[] = [];
    for (const file of sources()) {
      const rel = relative(SRC, file);
      for (const ref of importsOf(file)) {
        const home = PACKAGE_HOMES[ref.specifier];
        if (home && !ref.typeOnly && !home(rel)) misplaced.push(`${rel} imports ${ref.specifier}`);
      }
    }
    expect(misplaced).toEqual([]);
  });
});

describe("process and the host", () => {
  const users = processUsers(sources());

  it(`touches process only in ${ENTRY}, and in the exceptions listed with their reason`, () => {
    const unexpected = [...users]
      .filter(([f]) => f !== ENTRY && PROCESS_EXCEPTIONS[f] === undefined)
      .map(([f, line]) => `${f}:${line}`);
    expect(unexpected).toEqual([]);
    expect(users.has(ENTRY)).toBe(true);
    expect(stale(PROCESS_EXCEPTIONS, new Set(users.keys()))).toEqual([]);
  });

  it("changes the host (writes, signals, programs, Engine changes) from act only, and the exceptions listed", () => {
    const changes = hostChanges(sources());
    const unexpected = changes
      .filter(
        (c) => !MAY_CHANGE_HOST(c.file) && EXCEPTIONS_BY_KIND[kindOf(c)]![c.file] === undefined,
      )
      .map((c) => `${c.file}:${c.line} ${c.what}`);
    expect(unexpected).toEqual([]);
    for (const [kind, exceptions] of Object.entries(EXCEPTIONS_BY_KIND)) {
      const used = new Set(changes.filter((c) => kindOf(c) === kind).map((c) => c.file));
      expect(stale(exceptions, used), kind).toEqual([]);
    }
  });

  it("builds Engine requests that change state in act only (the read client sends GET)", () => {
    const engine = hostChanges(sources()).filter((c) => kindOf(c) === "engine");
    expect(engine.length).toBeGreaterThan(0);
    expect(engine.filter((c) => !c.file.startsWith("act/"))).toEqual([]);
  });

  it("every exception has a reason", () => {
    for (const list of [PROCESS_EXCEPTIONS, ...Object.values(EXCEPTIONS_BY_KIND)]) {
      for (const [file, reason] of Object.entries(list)) {
        expect(reason.length, file).toBeGreaterThan(20);
      }
    }
  });
});
