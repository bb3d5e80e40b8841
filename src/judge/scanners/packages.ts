/**
 * Package integrity judged. A package's executable or library that differs from what the
 * package recorded is how a trojaned ls, ps, netstat or sshd shows: high, high confidence
 * (the hash is the package's own). Other changed files (data, docs, scripts that an
 * administrator edits or a language's package manager rewrites) are grouped per package,
 * low. Missing files are grouped per package. An executable in a system bin directory that
 * no package owns is medium (low under /usr/local, the administrator's own place); in a
 * container's writable layer, i.e. put there after the image was built, high.
 */
import type { Finding, Severity } from "../../model/finding.js";
import type { ChangedFile, RootIntegrity } from "../../observe/packages/verify.js";

/** Where a changed file is code the system runs: binaries, libraries, the loader, sshd's helpers. */
export function isSystemCode(path: string): boolean {
  return (
    /^\/(usr\/)?(local\/)?s?bin\//.test(path) ||
    /^\/(usr\/)?lib(32|64|x32)?\/(.*\/)?[^/]+\.so(\.[0-9.]+)?$/.test(path) ||
    /^\/(usr\/)?lib\/(openssh|systemd|sudo|dpkg\/methods)\//.test(path) ||
    /^\/usr\/libexec\//.test(path) ||
    /^\/(usr\/)?lib(64)?\/ld-linux/.test(path) ||
    /^\/boot\//.test(path)
  );
}

function place(r: { where: string }, path: string): string {
  return r.where === "host" ? path : `${r.where}:${path}`;
}

function changedEvidence(c: ChangedFile) {
  return {
    path: c.path,
    sha256: c.sha256,
    facts: {
      package: c.package,
      manager: c.manager,
      algorithm: c.algo,
      expected: c.expected,
      found: c.found,
      size: String(c.size),
      writableLayer: c.inWritableLayer ? "yes" : "no",
    },
  };
}

export function packagesFindings(roots: readonly RootIntegrity[]): Finding[] {
  const out: Finding[] = [];
  for (const r of roots) {
    const grouped = new Map<string, ChangedFile[]>();
    for (const c of r.changed) {
      if (!isSystemCode(c.path)) {
        const g = grouped.get(c.package) ?? [];
        g.push(c);
        grouped.set(c.package, g);
        continue;
      }
      out.push({
        rule: "packages.changed-binary",
        severity: "high",
        confidence: "high",
        title: `${place(r, c.path)} differs from package ${c.package} (${c.algo} expected ${c.expected}, found ${c.found})${c.inWritableLayer ? ", changed in the container's writable layer" : ""}`,
        where: r.where,
        containerId: r.containerId,
        evidence: [changedEvidence(c)],
        next: `Preserve the file (breachkit collect) before anything else, then compare it with a clean copy of ${c.package} (apt-get download ${c.package.replace(/:.*/, "")}, or apk fetch) on a trusted machine; a replaced system binary means the ${r.where === "host" ? "host" : "container"} cannot be trusted: rebuild it.`,
        source: "packages",
        falsePositive: null,
      });
    }
    for (const [pkg, files] of grouped) {
      out.push({
        rule: "packages.changed-file",
        severity: "low",
        confidence: "medium",
        title: `${files.length} file(s) of package ${pkg} differ from the package${r.where === "host" ? "" : ` (${r.where})`}: ${files
          .slice(0, 3)
          .map((f) => f.path)
          .join(", ")}${files.length > 3 ? ", ..." : ""}`,
        where: r.where,
        containerId: r.containerId,
        evidence: files.slice(0, 50).map(changedEvidence),
        next: "Data and scripts that an administrator or a language's own package manager (npm, pip) rewrote look like this; if you did not change them, reinstall the package and compare.",
        source: "packages",
        falsePositive: null,
      });
    }
    const missing = new Map<string, string[]>();
    for (const m of r.missing) {
      const g = missing.get(m.package) ?? [];
      g.push(m.path);
      missing.set(m.package, g);
    }
    for (const [pkg, paths] of missing) {
      const code = paths.some(isSystemCode);
      out.push({
        rule: "packages.missing",
        severity: code ? "medium" : "low",
        confidence: "medium",
        title: `${paths.length} file(s) of package ${pkg} are missing${r.where === "host" ? "" : ` (${r.where})`}: ${paths.slice(0, 3).join(", ")}${paths.length > 3 ? ", ..." : ""}`,
        where: r.where,
        containerId: r.containerId,
        evidence: paths.slice(0, 50).map((p) => ({ path: p, facts: { package: pkg } })),
        next: "Files removed by hand, by a cleanup in an image build, or by an intruder covering tracks: reinstall the package if you did not remove them.",
        source: "packages",
        falsePositive: null,
      });
    }
    for (const u of r.unowned) {
      const local = /^\/usr\/local\//.test(u.path);
      const severity: Severity = u.inWritableLayer ? "high" : local ? "low" : "medium";
      out.push({
        rule: "packages.unowned-executable",
        severity,
        confidence: u.inWritableLayer ? "medium" : "low",
        title: `Executable ${place(r, u.path)} belongs to no package${u.inWritableLayer ? ", added in the container's writable layer" : ""}`,
        where: r.where,
        containerId: r.containerId,
        evidence: [
          {
            path: u.path,
            ...(u.sha256 ? { sha256: u.sha256 } : {}),
            facts: {
              size: String(u.size),
              mode: u.mode.toString(8),
              writableLayer: u.inWritableLayer ? "yes" : "no",
            },
          },
        ],
        next: local
          ? "Software installed by hand lives in /usr/local: confirm you know where this came from (its hash can be looked up)."
          : "No package installed this: find who put it there (its mtime and ctime, logs around them) and preserve it before removing anything.",
        source: "packages",
        falsePositive: null,
      });
    }
  }
  return out;
}
