import { describe, expect, it } from "vitest";
import type { RuleContext } from "../../../src/judge/context.js";
import { shippedLists } from "../../../src/judge/rule-set.js";
import { accountsRule } from "../../../src/judge/rules/accounts.js";
import { failedLoginBurstRule, newLoginAddressRule } from "../../../src/judge/rules/logins.js";
import {
  debianUsers,
  makeAuthorizedKeys,
  makeLogin,
  makeSudoRule,
  makeUser,
  SnapshotBuilder,
} from "../../helpers/snapshot-builder.js";

const now = new Date("2026-03-01T12:00:00Z");
const ctx: RuleContext = { now, lists: shippedLists() };
const rules = (snap: ReturnType<SnapshotBuilder["build"]>, c: RuleContext = ctx) =>
  accountsRule(snap, c).map((f) => `${f.rule}:${f.severity}:${f.where}`);

describe("accounts", () => {
  it("is quiet for a stock system", () => {
    expect(rules(new SnapshotBuilder().accounts().build())).toEqual([]);
  });
  it("flags a second UID 0 account, critical when the baseline lacks it", () => {
    const users = [...debianUsers(), makeUser({ name: "toor", uid: 0, shell: "/bin/sh" })];
    const snap = new SnapshotBuilder().accounts({ users }).build();
    expect(rules(snap)).toEqual(["account.uid0:high:host"]);
    const baseline = new SnapshotBuilder().accounts().build();
    expect(rules(snap, { ...ctx, baseline })).toEqual(["account.uid0:critical:host"]);
  });
  it("flags accounts absent from the baseline", () => {
    const baseline = new SnapshotBuilder().accounts().build();
    const snap = new SnapshotBuilder()
      .accounts({
        users: [
          ...debianUsers(),
          makeUser({ name: "backup2", uid: 1001, shell: "/bin/bash", password: "set" }),
        ],
      })
      .build();
    expect(rules(snap, { ...ctx, baseline })).toEqual(["account.new:high:host"]);
  });
  it("flags a recent password change, but not the install day most accounts share", () => {
    const recent = makeUser({
      name: "alice",
      uid: 1000,
      shell: "/bin/bash",
      password: "set",
      lastChange: "2026-02-27",
    });
    const installDay = debianUsers().map((u) => ({ ...u, lastChange: "2026-02-28" }));
    const snap = new SnapshotBuilder().accounts({ users: [...installDay, recent] }).build();
    expect(rules(snap)).toEqual(["account.password-changed:medium:host"]);
  });
  it("in a container, compares with its creation, not the clock (a fresh image is not an event)", () => {
    const fresh = debianUsers().map((u) => ({ ...u, lastChange: "2026-02-28" }));
    const b = new SnapshotBuilder().container({ name: "wp", createdAt: "2026-02-28T09:00:00Z" });
    expect(rules(b.accounts({ users: fresh }, "wp").build())).toEqual([]);
    const added = makeUser({ name: "x", uid: 1000, shell: "/bin/sh", lastChange: "2026-03-01" });
    expect(rules(b.accounts({ users: [...fresh, added] }, "wp").build())).toContain(
      "account.password-changed:medium:wp",
    );
  });
  it("flags a service account that got a shell: by baseline, or by well-known name", () => {
    const users = debianUsers().map((u) =>
      u.name === "www-data" ? { ...u, shell: "/bin/bash", loginShell: true } : u,
    );
    expect(rules(new SnapshotBuilder().accounts({ users }).build())).toEqual([
      "account.service-shell:high:host",
    ]);
  });
  it("leaves GitLab's git user with /bin/sh alone without a baseline, but not when the baseline had nologin", () => {
    const git = (shell: string) => makeUser({ name: "git", uid: 998, shell });
    const snap = new SnapshotBuilder()
      .accounts({ users: [...debianUsers(), git("/bin/sh")] })
      .build();
    expect(rules(snap)).toEqual([]);
    const baseline = new SnapshotBuilder()
      .accounts({ users: [...debianUsers(), git("/usr/sbin/nologin")] })
      .build();
    expect(rules(snap, { ...ctx, baseline })).toEqual(["account.service-shell:high:host"]);
  });
  it("flags sudo rules in recently changed files, and rules unknown to the baseline", () => {
    const old = makeSudoRule({ text: "%sudo ALL=(ALL:ALL) ALL" });
    const added = makeSudoRule({
      file: "/etc/sudoers.d/x",
      line: 1,
      text: "git ALL=(ALL) NOPASSWD: ALL",
      fileMtime: "2026-02-28T23:00:00Z",
    });
    const snap = new SnapshotBuilder().accounts({ sudo: [old, added] }).build();
    expect(rules(snap)).toEqual(["account.sudo-recent:medium:host"]);
    const baseline = new SnapshotBuilder().accounts({ sudo: [old] }).build();
    const withBase = accountsRule(snap, { ...ctx, baseline });
    expect(withBase.map((f) => f.rule)).toEqual(["account.sudo-new"]);
    expect(withBase[0]!.evidence[0]).toMatchObject({ file: "/etc/sudoers.d/x", line: 1 });
  });
  it("flags authorized_keys changed recently (ctime too: mtime can be backdated) or holding unknown keys", () => {
    const key = {
      type: "ssh-ed25519",
      fingerprint: "SHA256:known",
      comment: "admin@laptop",
      options: "",
      line: 1,
    };
    const evil = { ...key, fingerprint: "SHA256:evil", comment: "x@y", line: 2 };
    const backdated = makeAuthorizedKeys({
      user: "root",
      keys: [key, evil],
      mtime: "2024-01-01T00:00:00Z",
      ctime: "2026-02-28T10:00:00Z",
    });
    const snap = new SnapshotBuilder().accounts({ authorizedKeys: [backdated] }).build();
    expect(rules(snap)).toEqual(["account.authorized-keys-recent:medium:host"]);
    const baseline = new SnapshotBuilder()
      .accounts({ authorizedKeys: [makeAuthorizedKeys({ user: "root", keys: [key] })] })
      .build();
    const f = accountsRule(snap, { ...ctx, baseline });
    expect(f.map((x) => x.rule)).toEqual(["account.authorized-keys-new"]);
    expect(f[0]!.evidence.map((e) => e.line)).toEqual([2]);
  });
});

describe("logins", () => {
  const login = (address: string, time: string, user = "root") =>
    makeLogin({ address, host: address, time, user });
  it("flags a login from an address the baseline never saw", () => {
    const baseline = new SnapshotBuilder()
      .accounts({ logins: [login("192.0.2.10", "2026-01-10T08:00:00Z")] })
      .build();
    const snap = new SnapshotBuilder()
      .accounts({
        logins: [
          login("192.0.2.10", "2026-02-27T08:00:00Z"),
          login("203.0.113.9", "2026-02-28T03:00:00Z"),
        ],
      })
      .build();
    const fs = newLoginAddressRule(snap, { ...ctx, baseline });
    expect(fs.map((f) => `${f.severity}:${f.title}`)).toEqual([
      "high:1 login as root from 203.0.113.9 (not in the baseline)",
    ]);
  });
  it("without a baseline, compares recent logins with older ones, and keeps quiet when there is no history", () => {
    const history = [
      login("192.0.2.10", "2026-01-10T08:00:00Z", "alice"),
      login("198.51.100.4", "2026-02-28T03:00:00Z", "alice"),
    ];
    expect(
      newLoginAddressRule(new SnapshotBuilder().accounts({ logins: history }).build(), ctx),
    ).toMatchObject([{ severity: "medium", confidence: "low" }]);
    const young = [login("198.51.100.4", "2026-02-28T03:00:00Z")];
    expect(
      newLoginAddressRule(new SnapshotBuilder().accounts({ logins: young }).build(), ctx),
    ).toEqual([]);
  });
  it("ignores console and X logins", () => {
    const local = [
      makeLogin({ host: ":0", time: "2026-02-28T03:00:00Z" }),
      makeLogin({ host: "", time: "2026-01-01T00:00:00Z" }),
    ];
    expect(
      newLoginAddressRule(new SnapshotBuilder().accounts({ logins: local }).build(), ctx),
    ).toEqual([]);
  });
  const failures = (n: number, address: string, startMs: number, stepMs: number) =>
    Array.from({ length: n }, (_, i) =>
      makeLogin({
        source: "btmp",
        type: "LOGIN_PROCESS",
        user: `u${i}`,
        address,
        host: address,
        time: new Date(startMs + i * stepMs).toISOString(),
      }),
    );
  it("flags a burst of failed logins from one address", () => {
    const snap = new SnapshotBuilder()
      .accounts({ logins: failures(12, "203.0.113.9", Date.parse("2026-02-28T03:00:00Z"), 10_000) })
      .build();
    expect(failedLoginBurstRule(snap, ctx)).toMatchObject([
      { rule: "login.failed-burst", severity: "medium" },
    ]);
  });
  it("does not call slow failures a burst", () => {
    const snap = new SnapshotBuilder()
      .accounts({
        logins: failures(12, "203.0.113.9", Date.parse("2026-02-28T03:00:00Z"), 3_600_000),
      })
      .build();
    expect(failedLoginBurstRule(snap, ctx)).toEqual([]);
  });
  it("is critical when the guessing address then got in", () => {
    const start = Date.parse("2026-02-28T03:00:00Z");
    const snap = new SnapshotBuilder()
      .accounts({
        logins: [
          ...failures(15, "203.0.113.9", start, 5_000),
          login("203.0.113.9", "2026-02-28T03:05:00Z", "git"),
        ],
      })
      .build();
    const [f] = failedLoginBurstRule(snap, ctx);
    expect(f).toMatchObject({ rule: "login.brute-force-success", severity: "critical" });
    expect(f!.title).toContain("got in as git");
  });
});
