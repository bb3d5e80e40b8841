/**
 * Indicators in a process's memory: the IPv4 and IPv6 addresses, URLs and domain names among
 * its printable strings, ASCII and UTF-16LE, as `strings` would show them. A trojan that
 * deletes its file keeps its command server and its targets in memory; these are the leads
 * a responder follows next (low confidence: memory holds every string a program ever saw).
 *
 * Pure: it is fed the dump's bytes chunk by chunk as they are written, and holds only the
 * distinct indicators found (bounded) and the last few KiB of the previous chunk, so a string
 * split across two chunks is still found.
 */
import { parseIp } from "../ioc/ip.js";
import type { AnchorFilter } from "./anchors.js";

export interface MemoryIndicators {
  ips: string[];
  urls: string[];
  domains: string[];
  /** More distinct indicators than kept (each list is cut at MAX_PER_KIND). */
  truncated: boolean;
}

export const MAX_PER_KIND = 5000;
/** A string longer than this is cut: an indicator is shorter, and regexes stay linear. */
const MAX_RUN = 2048;
const MIN_RUN = 6;

const URL_RE =
  /\b(?:https?|ftp|wss?|tcp|udp|stratum\+tcp):\/\/[A-Za-z0-9._~:/?#[\]@!$&'()*+,;=%-]{3,300}/gi;
const IPV4_RE =
  /(?<![\d.])(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?![\d.])/g;
const IPV6_CANDIDATE =
  /(?<![0-9A-Fa-f:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![0-9A-Fa-f:])/g;
/**
 * Top-level domains that attackers' infrastructure uses in practice (and the common
 * country codes). A fixed list keeps "libc.so.6", "main.go" and "index.html" out.
 */
const TLDS = [
  "com",
  "net",
  "org",
  "info",
  "biz",
  "io",
  "co",
  "me",
  "cc",
  "tk",
  "ml",
  "ga",
  "cf",
  "gq",
  "xyz",
  "top",
  "club",
  "online",
  "site",
  "live",
  "pw",
  "ws",
  "su",
  "ru",
  "cn",
  "ua",
  "de",
  "it",
  "fr",
  "uk",
  "nl",
  "eu",
  "us",
  "in",
  "br",
  "jp",
  "kr",
  "vn",
  "ir",
  "tr",
  "pl",
  "ro",
  "onion",
  "link",
  "icu",
  "shop",
  "vip",
  "work",
  "app",
  "dev",
  "cloud",
  "host",
  "space",
];
const DOMAIN_RE = new RegExp(
  `(?<![A-Za-z0-9.@-])(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+(?:${TLDS.join("|")})(?![A-Za-z0-9-])`,
  "gi",
);

/**
 * Top-level domains that are also common words at the end of code identifiers
 * ("logging.info", "os.link", "typing.io"): a name under one of them is a lead only when it
 * looks like a host (a hyphen or a digit in it, "www.", or seen in a URL).
 */
const AMBIGUOUS_TLDS = new Set([
  "info",
  "link",
  "top",
  "io",
  "co",
  "me",
  "app",
  "dev",
  "work",
  "live",
  "site",
  "shop",
  "space",
  "host",
  "cloud",
  "online",
  "club",
  "in",
  "it",
  "us",
  "cc",
  "ws",
  "pw",
  "su",
  "vip",
  "icu",
  "tk",
  "ml",
  "ga",
  "cf",
  "gq",
]);

/**
 * Strings every program's memory holds (library and standard names): not leads. Matched as
 * the domain or a parent domain.
 */
const IGNORED_DOMAINS = [
  "gnu.org",
  "fsf.org",
  "kernel.org",
  "w3.org",
  "xml.org",
  "xmlsoap.org",
  "openssl.org",
  "mozilla.org",
  "python.org",
  "nodejs.org",
  "npmjs.org",
  "golang.org",
  "gopkg.in",
  "apache.org",
  "debian.org",
  "ubuntu.com",
  "alpinelinux.org",
  "busybox.net",
  "musl-libc.org",
  "sourceware.org",
  "gnome.org",
  "freedesktop.org",
  "unicode.org",
  "iana.org",
  "ietf.org",
  "example.com",
  "example.org",
  "example.net",
  "json-schema.org",
  "purl.org",
  "adobe.com",
  "microsoft.com",
  "openssh.com",
  "libssh.org",
  "curl.se",
  "haxx.se",
  "zlib.net",
];

export interface IndicatorFilter {
  /** The host's (or the container's) own addresses: not leads. */
  ownAddresses?: readonly string[];
  /**
   * The SIMD filter of the memory the chunks are read into (anchors.ts): chunks in it are
   * searched there; any other bytes with Buffer.indexOf. Both give the same indicators.
   */
  filter?: AnchorFilter | null;
}

function ipv4Ignored(text: string): boolean {
  const o = text.split(".").map(Number);
  const a = o[0]!;
  return (
    // "this network", loopback, multicast and reserved, broadcast
    a === 0 ||
    a === 127 ||
    a >= 224 ||
    // a network or broadcast address (x.y.z.0, x.y.z.255): a library's table, not a peer
    o[3] === 0 ||
    o[3] === 255 ||
    // every part a single digit: a version number ("1.2.0.2") far more often than an address
    o.every((x) => x < 10) ||
    // TEST-NET-1, the address of every RFC's and library's examples
    (a === 192 && o[1] === 0 && o[2] === 2)
  );
}

function ipv6Ignored(bytes: Uint8Array): boolean {
  const zeros = bytes.every((b, i) => i === 15 || b === 0);
  if (zeros) return true; // :: and ::1
  if (bytes[0] === 0xff) return true; // multicast
  if (bytes[0] === 0xfe && (bytes[1]! & 0xc0) === 0x80) return true; // link-local
  // the documentation prefix 2001:db8::/32 (libraries' examples) and bare 2001::
  if (bytes[0] === 0x20 && bytes[1] === 0x01 && bytes[2] === 0x0d && bytes[3] === 0xb8) return true;
  if (bytes[0] === 0x20 && bytes[1] === 0x01 && bytes.slice(2).every((b) => b === 0)) return true;
  // IPv4-mapped: reported in its IPv4 form by the IPv4 pass when it is one.
  return bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff;
}

/**
 * Kept from the end of one chunk and scanned again with the start of the next (the seam): no
 * string is cut in two. A string read is at most MAX_RUN characters on each side of its dot
 * or colon, and a UTF-16 character is two bytes: 4 * MAX_RUN bytes, and some.
 */
const OVERLAP = 4 * MAX_RUN + 64;
const DOT = 0x2e;
const COLON = 0x3a;
const ANCHORS = [DOT, COLON] as const;
const TWO_NULS = new Uint8Array(2);

const isPrintable = (c: number) => c >= 0x20 && c <= 0x7e;
/** [0-9A-Za-z]: what stands on both sides of a dot in an address or a name. */
const isAlnum = (c: number) =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

export class IndicatorScanner {
  private readonly ips = new Set<string>();
  private readonly urls = new Set<string>();
  private readonly domains = new Set<string>();
  private readonly own: Set<string>;
  private truncated = false;
  /**
   * The seam: the end of the previous bytes (the first `tailLength` bytes), then, while a
   * chunk is scanned, the start of that chunk copied after it. One small buffer, reused.
   */
  private readonly seam = Buffer.allocUnsafe(2 * OVERLAP);
  private tailLength = 0;
  /** The tail's first byte is the first of its mapping (not the middle of a string). */
  private tailAtStart = true;

  private readonly filter: AnchorFilter | null;

  constructor(filter: IndicatorFilter = {}) {
    this.filter = filter.filter ?? null;
    this.own = new Set<string>();
    for (const a of filter.ownAddresses ?? []) {
      const b = parseIp(a);
      if (b) this.own.add(Buffer.from(b).toString("hex"));
    }
  }

  /**
   * Scan the next bytes of the dump, in file order. Every indicator holds a dot or a colon
   * (an address, a name, a URL's "://"): those are found with the SIMD filter (anchors.ts)
   * or the native search (Buffer.indexOf), and only where letters or digits stand on both
   * sides is the printable string around them taken out and read. The cost follows the dots
   * and colons, not the bytes: a zero page or a block of code costs almost nothing.
   *
   * The chunk is read where it is (never copied whole): the seam (the previous bytes' tail
   * and this chunk's first bytes) is scanned on its own, then the chunk. A scan leaves to the
   * other what it cannot see whole: a string that runs into its end (read with the next
   * seam), or one that may have begun before its start (read in the seam, or in the previous
   * chunk), so every string is read once whole and never in part. `chunk` is only read, and
   * not kept.
   */
  feed(chunk: Uint8Array): void {
    const b = Buffer.isBuffer(chunk)
      ? chunk
      : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (b.length === 0) return;
    const head = Math.min(b.length, OVERLAP);
    if (this.tailLength > 0) {
      b.copy(this.seam, this.tailLength, 0, head);
      const seam = this.seam.subarray(0, this.tailLength + head);
      for (const a of ANCHORS) this.scanAnchor(seam, a, !this.tailAtStart);
    }
    // A chunk shorter than the seam's share was read whole in the seam.
    if (this.tailLength === 0 || head < b.length) {
      const found = this.filter?.covers(b) === true ? this.filter.find(b) : null;
      for (const a of ANCHORS) {
        this.scanAnchor(b, a, this.tailLength > 0, a === DOT ? found?.dots : found?.colons);
      }
    }
    // The new tail: the last OVERLAP bytes of everything so far.
    if (b.length >= OVERLAP) {
      b.copy(this.seam, 0, b.length - OVERLAP);
      this.tailLength = OVERLAP;
      this.tailAtStart = false;
    } else {
      // The seam holds the old tail and the whole chunk: keep its end.
      if (this.tailLength === 0) b.copy(this.seam, 0);
      const size = this.tailLength + b.length;
      const keep = Math.min(OVERLAP, size);
      this.seam.copyWithin(0, size - keep, size);
      this.tailAtStart &&= keep === size;
      this.tailLength = keep;
    }
  }

  /** The next bytes do not follow the previous ones (another mapping): no string spans them. */
  boundary(): void {
    // Two NULs end any string still open at the end of the tail, which is then read.
    if (this.tailLength > 0) this.feed(TWO_NULS);
    this.tailLength = 0;
    this.tailAtStart = true;
  }

  /**
   * The strings around each `anchor` byte (a dot or a colon) with an alphanumeric on each
   * side: ASCII ones, and UTF-16LE ones where the anchor is followed by a NUL. One search per
   * anchor serves both encodings (the search is most of the cost: a dot or a colon is one
   * byte in 256 of binary data; the filter, where the chunk is in its memory, passes on only
   * the anchors that can pass the first test below). With `cut`, the bytes before `b` are not
   * known here: a string that reaches b's first byte is left to the scan that saw them.
   */
  private scanAnchor(b: Buffer, anchor: number, cut: boolean, filtered?: Uint32Array): void {
    const colon = anchor === COLON;
    let asciiTo = 0;
    let utf16To = 0;
    let ascii = true;
    let utf16 = true;
    const last = b.length - 1;
    // The filter's positions (every anchor it leaves out fails the tests below, anchors.wat),
    // or every anchor.
    let k = 0;
    const next = filtered
      ? () => (k < filtered.length ? filtered[k++]! : -1)
      : (from: number) => b.indexOf(anchor, from);
    for (let i = next(1); i !== -1 && i < last; i = next(i + 1)) {
      const after = b[i + 1]!;
      if (after === 0) {
        if (!utf16 || i < utf16To || i < 2 || i >= b.length - 3) continue;
        if (b[i - 1] !== 0 || b[i + 3] !== 0 || !isAlnum(b[i - 2]!)) continue;
        const next = b[i + 2]!;
        if (!(isAlnum(next) || (colon && (next === 0x2f || next === COLON)))) continue;
        let start = i;
        while (
          start >= 2 &&
          i - start < 2 * MAX_RUN &&
          b[start - 1] === 0 &&
          isPrintable(b[start - 2]!)
        ) {
          start -= 2;
        }
        let end = i + 2;
        while (
          end + 1 < b.length &&
          end - i < 2 * MAX_RUN &&
          b[end + 1] === 0 &&
          isPrintable(b[end]!)
        ) {
          end += 2;
        }
        utf16To = end;
        if (cut && start < 2) continue;
        // A string that runs into the chunk's end is read with the next chunk (the tail).
        if (end + 1 >= b.length) {
          utf16 = false;
          if (!ascii) return;
          continue;
        }
        if ((end - start) / 2 >= MIN_RUN) this.scanString(b.toString("utf16le", start, end));
        continue;
      }
      if (!ascii || i < asciiTo) continue;
      if (
        !isAlnum(b[i - 1]!) ||
        !(isAlnum(after) || (colon && (after === 0x2f || after === COLON)))
      )
        continue;
      let start = i;
      while (start > 0 && i - start < MAX_RUN && isPrintable(b[start - 1]!)) start--;
      let end = i + 1;
      while (end < b.length && end - i < MAX_RUN && isPrintable(b[end]!)) end++;
      asciiTo = end;
      if (cut && start === 0) continue;
      if (end === b.length) {
        ascii = false;
        if (!utf16) return;
        continue;
      }
      if (end - start >= MIN_RUN) this.scanString(b.toString("latin1", start, end));
    }
  }

  private add(set: Set<string>, value: string): void {
    if (set.has(value)) return;
    if (set.size >= MAX_PER_KIND) {
      this.truncated = true;
      return;
    }
    set.add(value);
  }

  /** Find the indicators in one printable string. */
  scanString(s: string): void {
    if (s.includes("://")) {
      for (const m of s.matchAll(URL_RE)) {
        const url = m[0].replace(/[.,;:)\]'"]+$/, "");
        this.add(this.urls, url);
        const host = /^[^:]+:\/\/(?:[^@/]*@)?([^:/?#]+)/.exec(url)?.[1];
        if (host && DOMAIN_RE.test(host)) this.addDomain(host, true);
        DOMAIN_RE.lastIndex = 0;
      }
    }
    if (s.includes(".")) {
      for (const m of s.matchAll(IPV4_RE)) this.addIp(m[0]);
      for (const m of s.matchAll(DOMAIN_RE)) this.addDomain(m[0], false);
    }
    if (s.includes(":")) {
      for (const m of s.matchAll(IPV6_CANDIDATE)) {
        const text = m[0];
        if (!/[0-9]/.test(text) || (!text.includes("::") && text.split(":").length < 8)) continue;
        this.addIp(text);
      }
    }
  }

  private addIp(text: string): void {
    const bytes = parseIp(text);
    if (!bytes) return;
    const v4 = text.includes(".") && !text.includes(":");
    if (v4 ? ipv4Ignored(text) : ipv6Ignored(bytes)) return;
    if (this.own.has(Buffer.from(bytes).toString("hex"))) return;
    this.add(this.ips, v4 ? text : text.toLowerCase());
  }

  private addDomain(text: string, inUrl: boolean): void {
    const d = text.toLowerCase();
    // An IPv4 address is not a domain; a name whose labels are all digits is not either.
    if (/^[\d.]+$/.test(d.replace(/\.[a-z]+$/, ""))) return;
    const tld = d.slice(d.lastIndexOf(".") + 1);
    if (!inUrl && AMBIGUOUS_TLDS.has(tld) && !/[-\d]/.test(d) && !d.startsWith("www.")) return;
    if (IGNORED_DOMAINS.some((i) => d === i || d.endsWith(`.${i}`))) return;
    this.add(this.domains, d);
  }

  result(): MemoryIndicators {
    this.boundary();
    const sort = (s: Set<string>) => [...s].sort();
    return {
      ips: sort(this.ips),
      urls: sort(this.urls),
      domains: sort(this.domains),
      truncated: this.truncated,
    };
  }
}

/**
 * The IOC file (rules/README.md, "IOC files") of what a dump holds: `ip:`, `url:` and
 * `domain:` lines under a header that says they are leads, so `--ioc memory/<pid>.iocs.txt`
 * hunts them in logs and sockets. Values are printable ASCII (the scanner's runs are), one per
 * line; nothing in them can start a new line.
 */
export function indicatorsIocFile(found: MemoryIndicators, header: readonly string[]): string {
  const lines = [
    ...header.map((h) => `# ${h.replace(/[\r\n]/g, " ")}`),
    "# Leads, not verdicts: strings found in the process's memory (low confidence).",
    ...found.ips.map((v) => `ip:${v}`),
    ...found.urls.map((v) => `url:${v}`),
    ...found.domains.map((v) => `domain:${v}`),
  ];
  if (found.truncated) lines.push(`# more than ${MAX_PER_KIND} of a kind: the rest left out`);
  return `${lines.join("\n")}\n`;
}
