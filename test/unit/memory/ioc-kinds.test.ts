import { describe, expect, it } from "vitest";
import { compileIocRules } from "../../../src/judge/hunt/ioc-rules.js";
import { parseIocFile, parseIocLine } from "../../../src/judge/ioc/ioc-set.js";

describe("url: and domain: IOCs (what a memory dump's leads are written as)", () => {
  it("validates them", () => {
    expect(parseIocLine("url", "http://198.51.100.77:8443/wate/beacon", "t").ok).toBe(true);
    expect(parseIocLine("url", "not a url", "t").ok).toBe(false);
    expect(parseIocLine("domain", "C2.Example.NET", "t")).toMatchObject({
      ok: true,
      value: { kind: "domain", value: "c2.example.net" },
    });
    expect(parseIocLine("domain", "no_dots", "t").ok).toBe(false);
    expect(parseIocFile("url:http://x.example.com/a b\n", "f").ok).toBe(false);
  });

  it("become hunting rules: a domain matches as a whole name, a URL as written", () => {
    const set = parseIocFile("domain:evil.com\nurl:http://198.51.100.77:8443/wate/beacon\n", "f");
    if (!set.ok) throw new Error(set.error.message);
    const compiled = compileIocRules(set.value);
    const keys = (line: string) =>
      compiled.rules
        .filter((r) =>
          r.regexes.some((re) => new RegExp(re.source, re.flags.replace("g", "")).test(line)),
        )
        .map((r) => r.rule.key)
        .sort();
    expect(keys("GET http://evil.com/x")).toEqual(["ioc.log:domain:evil.com"]);
    expect(keys("resolved notevil.com")).toEqual([]);
    expect(keys("beacon http://198.51.100.77:8443/wate/beacon ok")).toEqual([
      "ioc.log:url:http://198.51.100.77:8443/wate/beacon",
    ]);
  });
});
