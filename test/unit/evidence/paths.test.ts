import { describe, expect, it } from "vitest";
import { checkRelPath, safePathComponent } from "../../../src/evidence/paths.js";

describe("safePathComponent", () => {
  it("keeps ordinary container and host names unchanged", () => {
    expect(safePathComponent("bk-lab-gitlab")).toBe("bk-lab-gitlab");
    expect(safePathComponent("web01.example.com")).toBe("web01.example.com");
    expect(safePathComponent("getty@tty1.service")).toBe("getty@tty1.service");
  });

  it("turns hostile names into one harmless component", () => {
    for (const hostile of [
      "../../etc/passwd",
      "a/b",
      "name\nwith newline",
      "\u001b[31mred\u001b[0m",
      "..",
      ".",
      "",
      ".hidden",
      "-rf",
      "nul\u0000byte",
      "<script>alert(1)</script>",
      "x".repeat(500),
    ]) {
      const s = safePathComponent(hostile);
      expect(s, JSON.stringify(hostile)).toMatch(/^[A-Za-z0-9_@+=,%][A-Za-z0-9._@+=,%-]*$/);
      expect(s).not.toContain("..");
      expect(s.length).toBeLessThanOrEqual(130);
      expect(checkRelPath(s).ok).toBe(true);
    }
  });

  it("keeps names that sanitise alike apart", () => {
    expect(safePathComponent("a/b")).not.toBe(safePathComponent("a_b"));
    expect(safePathComponent("a/b")).not.toBe(safePathComponent("a\nb"));
    expect(safePathComponent("a/b")).toBe(safePathComponent("a/b"));
  });
});

describe("checkRelPath", () => {
  it("accepts normal bundle paths", () => {
    expect(checkRelPath("containers/bk-lab-gitlab/abc-json.log.1")).toEqual({
      ok: true,
      path: "containers/bk-lab-gitlab/abc-json.log.1",
    });
  });

  it.each([
    ["", "empty path"],
    ["/etc/passwd", "absolute path"],
    ["../x", '".." in path'],
    ["a/../../x", '".." in path'],
    ["a/./b", '"." in path'],
    ["a//b", "empty path component"],
    ["a/", "empty path component"],
    ["a\u0000b", "control character (NUL, newline, escape) in path"],
    ["a\nb", "control character (NUL, newline, escape) in path"],
    ["a\\..\\b", "backslash in path"],
    [`${"x".repeat(256)}/y`, "path component too long"],
  ])("refuses %j", (p, reason) => {
    expect(checkRelPath(p)).toEqual({ ok: false, reason });
  });
});
