/**
 * The text of what `schedule install` writes: a systemd service and timer, or a cron entry.
 * Pure: the command line is given, the host is not read. Every word of the command line is
 * quoted for its reader (systemd's or cron's), though breachkit builds it from its own paths
 * and validated options only.
 */
import type { ScheduleEvery } from "../../model/schedule-output.js";

export const UNIT_NAME = "breachkit-schedule";
export const CRON_FILE_NAME = "breachkit-schedule";

/** systemd's OnCalendar for each choice. */
export const ON_CALENDAR: Record<ScheduleEvery, string> = {
  "1h": "hourly",
  "6h": "*-*-* 00/6:00:00",
  daily: "daily",
};

/** A word for systemd's ExecStart (double quotes, backslash escapes; % doubled). */
export function systemdWord(s: string): string {
  if (/^[A-Za-z0-9_@+=:,./-]+$/.test(s)) return s;
  return `"${s.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/%/g, "%%").replace(/\$/g, "$$$$")}"`;
}

/** A word for /bin/sh (cron runs the command through it); % is special to cron. */
export function shellWord(s: string): string {
  if (/^[A-Za-z0-9_@+=:,./-]+$/.test(s)) return s;
  return `'${s.replace(/'/g, `'\\''`).replace(/%/g, "\\%")}'`;
}

export interface UnitText {
  service: string;
  timer: string;
}

/**
 * The service runs breachkit as root (it reads /proc of every process, the Docker socket and
 * each container's filesystem), so the hardening is what costs nothing to those reads:
 * /usr, /boot and /etc read-only (ProtectSystem=full; /var/lib/breachkit and /var/cache stay
 * writable), a private /tmp, no new privileges, no SUID files made, kernel tunables and
 * control groups read-only, a low CPU and I/O priority. Not used, on purpose: ProtectProc and
 * PrivateNetwork (triage reads every process and its sockets), PrivateDevices and ProtectHome
 * (the scanners and the authorized_keys reader look there), ProtectKernelModules (it hides
 * /usr/lib/modules from the rootkit scanners).
 */
export function systemdUnits(command: readonly string[], every: ScheduleEvery): UnitText {
  const exec = command.map(systemdWord).join(" ");
  const service = `# Written by breachkit schedule install; removed by breachkit schedule remove.
[Unit]
Description=breachkit scheduled run (triage, audit, scan, update check; drift since the baseline)
Documentation=https://github.com/breachkit/breachkit#breachkit-schedule
After=docker.service network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart=${exec}
# 1: findings at or above the threshold (reported and notified), not a failure of the run.
SuccessExitStatus=1
TimeoutStartSec=3h
UMask=0077
Nice=10
IOSchedulingClass=idle
ProtectSystem=full
PrivateTmp=yes
NoNewPrivileges=yes
RestrictSUIDSGID=yes
ProtectKernelTunables=yes
ProtectControlGroups=yes
LockPersonality=yes
RestrictRealtime=yes
`;
  const timer = `# Written by breachkit schedule install; removed by breachkit schedule remove.
[Unit]
Description=breachkit scheduled run (${every})

[Timer]
OnCalendar=${ON_CALENDAR[every]}
RandomizedDelaySec=10min
Persistent=true
Unit=${UNIT_NAME}.service

[Install]
WantedBy=timers.target
`;
  return { service, timer };
}

/** Minute (and hour) spread by the host name, so a fleet does not run at the same second. */
export function cronSchedule(every: ScheduleEvery, host: string): string {
  let h = 0;
  for (const ch of host) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  const minute = h % 60;
  switch (every) {
    case "1h":
      return `${minute} * * * *`;
    case "6h":
      return `${minute} */6 * * *`;
    case "daily":
      return `${minute} ${3 + (h % 3)} * * *`;
  }
}

/** An /etc/cron.d file: one entry, run as root, output kept out of cron's mail. */
export function cronText(command: readonly string[], every: ScheduleEvery, host: string): string {
  return `# Written by breachkit schedule install; removed by breachkit schedule remove.
SHELL=/bin/sh
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
${cronSchedule(every, host)} root ${command.map(shellWord).join(" ")} >/dev/null 2>&1
`;
}

const FIELD_RANGES: [number, number][] = [
  [0, 59],
  [0, 23],
  [1, 31],
  [1, 12],
  [0, 7],
];

/** Check a cron.d entry line (5 time fields, a user, a command) as cron reads it; null when fine. */
export function cronLineProblem(line: string): string | null {
  const fields = line.trim().split(/\s+/);
  if (fields.length < 7)
    return `expected 5 time fields, a user and a command, got ${fields.length} fields`;
  for (let i = 0; i < 5; i++) {
    const [lo, hi] = FIELD_RANGES[i] as [number, number];
    for (const part of (fields[i] as string).split(",")) {
      const m = /^(\*|(\d+)(?:-(\d+))?)(?:\/(\d+))?$/.exec(part);
      if (!m) return `field ${i + 1} "${part}" is not a cron value`;
      const nums = [m[2], m[3], m[4]].filter((x) => x !== undefined).map(Number);
      if (
        m[2] !== undefined &&
        nums.slice(0, m[3] !== undefined ? 2 : 1).some((n) => n < lo || n > hi)
      )
        return `field ${i + 1} "${part}" is out of ${lo}-${hi}`;
      if (m[4] !== undefined && Number(m[4]) === 0) return `field ${i + 1} has step 0`;
    }
  }
  if (!/^[a-z_][a-z0-9_-]*$/.test(fields[5] as string)) return `"${fields[5]}" is not a user name`;
  return null;
}
