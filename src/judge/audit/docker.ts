/**
 * The Docker daemon (CIS Docker Benchmark sections 2 and 3: what /info, daemon.json and
 * dockerd's command line decide) and every container (section 5, from inspect). Each finding
 * names its CIS id, its evidence (the daemon.json line, the dockerd flag, the inspect field and
 * value) and the exact fix (daemon.json keys; docker run flags and compose lines).
 */
import type { ContainerObservation, DaemonObservation } from "../../model/audit-output.js";
import type { Evidence, Finding, Severity } from "../../model/finding.js";
import { auditFinding } from "./common.js";

const DOCKERD_RESTART =
  "restart dockerd (systemctl restart docker): every container stops and starts again unless live-restore is on";
const RECREATE =
  "the container is recreated (docker compose up -d, or docker rm + docker run with the new options): its writable layer is lost";

type Json = Record<string, unknown>;
const obj = (v: unknown): Json =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {};
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const str = (v: unknown): string => (typeof v === "string" ? v : "");

/** A daemon setting: daemon.json key, else a dockerd flag, else null. */
function setting(
  d: DaemonObservation,
  key: string,
  flag: string,
): { value: unknown; ev: Evidence } | null {
  const j = d.daemonJson.parsed;
  if (j && key in j) {
    return {
      value: j[key],
      ev: {
        file: d.daemonJson.path,
        ...(d.daemonJson.lines[key] ? { line: d.daemonJson.lines[key] } : {}),
        facts: { key, value: JSON.stringify(j[key]).slice(0, 200) },
      },
    };
  }
  if (d.cmdline) {
    for (const a of d.cmdline.args) {
      if (a === flag || a.startsWith(`${flag}=`)) {
        const value = a === flag ? true : a.slice(flag.length + 1);
        return { value, ev: { pid: d.cmdline.pid, text: `dockerd ${a}`, facts: { flag: a } } };
      }
    }
  }
  return null;
}

function isTrue(v: unknown): boolean {
  return v === true || v === "true" || v === "1";
}

function daemonJsonFix(keys: Json): string {
  const body = JSON.stringify(keys, null, 2).split("\n").slice(1, -1).join("\n");
  return `in /etc/docker/daemon.json add (merged with what is there):\n${body}`;
}

export function daemonFindings(d: DaemonObservation): Finding[] {
  const out: Finding[] = [];
  const base = { area: "daemon" as const, where: "host", containerId: null };
  const add = (c: Omit<Parameters<typeof auditFinding>[0], "area" | "where" | "containerId">) =>
    out.push(auditFinding({ ...base, ...c }));
  const info = d.info ?? {};
  const noEvidence = (what: string): Evidence => ({
    ...(d.daemonJson.exists ? { file: d.daemonJson.path } : {}),
    facts: { setting: what, value: "not set (Docker's default)" },
  });

  if (d.daemonJson.error && d.daemonJson.exists) {
    add({
      rule: "audit.daemon.daemon-json-invalid",
      severity: "high",
      title: `${d.daemonJson.path} cannot be used: ${d.daemonJson.error}; dockerd refuses to start with it`,
      evidence: [{ file: d.daemonJson.path, facts: { error: d.daemonJson.error } }],
      fix: `repair ${d.daemonJson.path} (check it with: python3 -m json.tool ${d.daemonJson.path}); dockerd --validate --config-file ${d.daemonJson.path} says whether dockerd accepts it`,
      cost: "none now; the next restart of dockerd fails until it is repaired",
    });
  }
  if (!d.info && !d.daemonJson.parsed && !d.cmdline && !d.socket) return out;

  // 2.2 icc
  const icc = setting(d, "icc", "--icc");
  const bridgeIcc = d.bridgeOptions?.["com.docker.network.bridge.enable_icc"];
  const iccOn = icc ? !(icc.value === false || icc.value === "false") : bridgeIcc !== "false";
  if (iccOn) {
    add({
      rule: "audit.daemon.icc",
      cis: "2.2",
      severity: "low",
      title: "Containers on the default bridge can reach each other (icc on)",
      evidence: [
        icc?.ev ?? {
          facts: {
            field: "bridge network option com.docker.network.bridge.enable_icc",
            value: bridgeIcc ?? "true (default)",
          },
        },
      ],
      fix: `${daemonJsonFix({ icc: false })}\n(and put containers that must talk on their own user-defined network)`,
      cost: DOCKERD_RESTART,
    });
  }
  // 2.9 userns-remap
  const secOpts = arr(info.SecurityOptions).map(str);
  const userns = setting(d, "userns-remap", "--userns-remap");
  if (
    !userns &&
    !secOpts.some((s) => s.includes("name=userns")) &&
    !secOpts.some((s) => s.includes("rootless"))
  ) {
    add({
      rule: "audit.daemon.userns",
      cis: "2.9",
      severity: "low",
      title: "No user namespace remapping: root in a container is root on the host",
      evidence: [
        d.info
          ? { facts: { field: "/info SecurityOptions", value: secOpts.join(" ") || "(none)" } }
          : noEvidence("userns-remap"),
      ],
      fix: daemonJsonFix({ "userns-remap": "default" }),
      cost: `${DOCKERD_RESTART}; images are pulled again and volumes need their owners shifted`,
    });
  }
  // 2.15 live-restore
  const live = setting(d, "live-restore", "--live-restore");
  const liveOn = live ? isTrue(live.value) : info.LiveRestoreEnabled === true;
  if (!liveOn) {
    add({
      rule: "audit.daemon.live-restore",
      cis: "2.15",
      severity: "low",
      title:
        "live-restore is off: restarting dockerd (to fix anything else here) stops every container",
      evidence: [
        live?.ev ?? {
          facts: {
            field: "/info LiveRestoreEnabled",
            value: String(info.LiveRestoreEnabled ?? "false"),
          },
        },
      ],
      fix: daemonJsonFix({ "live-restore": true }),
      cost: "reload dockerd (systemctl reload docker: live-restore is applied without a restart)",
    });
  }
  // 2.14 no-new-privileges
  const nnp = setting(d, "no-new-privileges", "--no-new-privileges");
  if (!nnp || !isTrue(nnp.value)) {
    add({
      rule: "audit.daemon.no-new-privileges",
      cis: "2.14",
      severity: "low",
      title:
        "Containers may gain privileges through setuid binaries (no-new-privileges not set daemon-wide)",
      evidence: [nnp?.ev ?? noEvidence("no-new-privileges")],
      fix: daemonJsonFix({ "no-new-privileges": true }),
      cost: `${DOCKERD_RESTART}; applies to containers created afterwards`,
    });
  }
  // logging: json-file without max-size
  const driver = setting(d, "log-driver", "--log-driver");
  const logDriver = str(driver?.value) || str(info.LoggingDriver) || "json-file";
  if (logDriver === "json-file" || logDriver === "local") {
    const opts = obj(d.daemonJson.parsed?.["log-opts"]);
    const flagMax =
      d.cmdline?.args.some((a) => /^--log-opt(=|$)/.test(a) && /max-size/.test(a)) ?? false;
    const flagMax2 = d.cmdline
      ? d.cmdline.args.some(
          (a, i) => a === "--log-opt" && /^max-size=/.test(d.cmdline!.args[i + 1] ?? ""),
        )
      : false;
    if (logDriver === "json-file" && !opts["max-size"] && !flagMax && !flagMax2) {
      add({
        rule: "audit.daemon.log-max-size",
        severity: "medium",
        title:
          "Container logs (json-file) have no max-size: one noisy or attacked container fills the disk",
        evidence: [
          d.daemonJson.lines["log-opts"]
            ? {
                file: d.daemonJson.path,
                line: d.daemonJson.lines["log-opts"],
                facts: { key: "log-opts", value: JSON.stringify(opts).slice(0, 200) },
              }
            : {
                facts: {
                  field: "/info LoggingDriver",
                  value: logDriver,
                  "log-opts max-size": "not set",
                },
              },
        ],
        fix: `${daemonJsonFix({ "log-driver": "json-file", "log-opts": { "max-size": "50m", "max-file": "5" } })}\n(rotation drops the oldest lines: ship logs elsewhere, or run breachkit collect before they rotate away)`,
        cost: `${DOCKERD_RESTART}; applies to containers created afterwards (recreate the others)`,
      });
    }
  }
  // 2.16 userland-proxy
  const proxy = setting(d, "userland-proxy", "--userland-proxy");
  if (!proxy || isTrue(proxy.value)) {
    add({
      rule: "audit.daemon.userland-proxy",
      cis: "2.16",
      severity: "low",
      title: "The userland proxy is on (a docker-proxy process per published port)",
      evidence: [proxy?.ev ?? noEvidence("userland-proxy")],
      fix: daemonJsonFix({ "userland-proxy": false }),
      cost: DOCKERD_RESTART,
    });
  }
  // 2.5 insecure registries
  const reg = obj(info.RegistryConfig);
  const cidrs = arr(reg.InsecureRegistryCIDRs)
    .map(str)
    .filter((c) => c && c !== "127.0.0.0/8" && c !== "::1/128");
  const insecureIdx = Object.entries(obj(reg.IndexConfigs))
    .filter(([, v]) => obj(v).Secure === false)
    .map(([k]) => k);
  const insecureCfg = setting(d, "insecure-registries", "--insecure-registry");
  const insecure = [...new Set([...cidrs, ...insecureIdx])];
  if (insecure.length > 0) {
    add({
      rule: "audit.daemon.insecure-registries",
      cis: "2.5",
      severity: "medium",
      title: `Insecure registries (no TLS): ${insecure.slice(0, 5).join(", ")}`,
      evidence: [
        insecureCfg?.ev ?? {
          facts: { field: "/info RegistryConfig", value: insecure.join(",").slice(0, 200) },
        },
      ],
      fix: `remove them from "insecure-registries" in /etc/docker/daemon.json (and any --insecure-registry flag); give the registry a TLS certificate`,
      cost: DOCKERD_RESTART,
    });
  }
  // 2.18 experimental
  const exp = setting(d, "experimental", "--experimental");
  if ((exp && isTrue(exp.value)) || info.ExperimentalBuild === true) {
    add({
      rule: "audit.daemon.experimental",
      cis: "2.18",
      severity: "low",
      title: "Experimental features are on",
      evidence: [exp?.ev ?? { facts: { field: "/info ExperimentalBuild", value: "true" } }],
      fix: daemonJsonFix({ experimental: false }),
      cost: DOCKERD_RESTART,
    });
  }
  // 2.7 TCP without TLS
  const hosts = [
    ...arr(d.daemonJson.parsed?.hosts).map(str),
    ...(d.cmdline
      ? d.cmdline.args.flatMap((a, i, all) =>
          a === "-H" || a === "--host"
            ? [all[i + 1] ?? ""]
            : /^(-H|--host)=/.test(a)
              ? [a.replace(/^(-H|--host)=/, "")]
              : [],
        )
      : []),
  ];
  const tlsverify = setting(d, "tlsverify", "--tlsverify");
  for (const h of hosts.filter((x) => /^tcp:\/\//.test(x))) {
    if (tlsverify && isTrue(tlsverify.value)) continue;
    const local = /^tcp:\/\/(127\.|localhost|\[::1\])/.test(h);
    add({
      rule: "audit.daemon.tcp-no-tls",
      cis: "2.7",
      severity: local ? "high" : "critical",
      title: `The Docker API listens on ${h} without TLS client verification: whoever reaches it is root on this host`,
      evidence: [
        d.daemonJson.lines.hosts
          ? {
              file: d.daemonJson.path,
              line: d.daemonJson.lines.hosts,
              facts: { key: "hosts", value: h },
            }
          : { pid: d.cmdline?.pid ?? 0, facts: { flag: `-H ${h}` } },
      ],
      fix: `remove ${h} (keep unix:///var/run/docker.sock and use SSH: DOCKER_HOST=ssh://host), or:\n${daemonJsonFix({ tlsverify: true, tlscacert: "/etc/docker/ca.pem", tlscert: "/etc/docker/server-cert.pem", tlskey: "/etc/docker/server-key.pem" })}`,
      cost: DOCKERD_RESTART,
    });
  }
  // 3.15 / 3.16 docker.sock
  if (d.socket) {
    const s = d.socket;
    const mode = s.mode.toString(8).padStart(4, "0");
    if ((s.mode & 0o007) !== 0) {
      add({
        rule: "audit.daemon.socket-mode",
        cis: "3.16",
        severity: "critical",
        title: `${s.path} has mode ${mode}: every local user is root through Docker`,
        evidence: [{ path: s.path, facts: { mode, owner: `${s.uid}:${s.group ?? s.gid}` } }],
        fix: `chmod 660 ${s.path} (and remove whatever sets it: a SocketMode= in docker.socket, a chmod in a unit)`,
        cost: "none: takes effect at once",
      });
    }
    if (s.uid !== 0 || (s.group !== "docker" && s.gid !== 0)) {
      add({
        rule: "audit.daemon.socket-owner",
        cis: "3.15",
        severity: "high",
        title: `${s.path} is owned by ${s.uid}:${s.group ?? s.gid}, not root:docker`,
        evidence: [{ path: s.path, facts: { mode, owner: `${s.uid}:${s.group ?? s.gid}` } }],
        fix: `chown root:docker ${s.path}`,
        cost: "none: takes effect at once",
      });
    }
  }
  // 3.17 / 3.18 daemon.json owner and mode
  const dj = d.daemonJson;
  if (dj.exists && dj.mode !== null && ((dj.mode & 0o022) !== 0 || (dj.uid ?? 0) !== 0)) {
    add({
      rule: "audit.daemon.daemon-json-perms",
      cis: "3.17",
      severity: "medium",
      title: `${dj.path} can be changed by others (mode ${dj.mode.toString(8).padStart(4, "0")}, owner ${dj.uid}:${dj.gid})`,
      evidence: [
        { path: dj.path, facts: { mode: dj.mode.toString(8), owner: `${dj.uid}:${dj.gid}` } },
      ],
      fix: `chown root:root ${dj.path} && chmod 644 ${dj.path}`,
      cost: "none",
    });
  }
  return out;
}

// ------------------------------------------------------------ containers (CIS section 5)

const SENSITIVE = [
  "/",
  "/boot",
  "/dev",
  "/etc",
  "/lib",
  "/lib64",
  "/proc",
  "/sys",
  "/usr",
  "/bin",
  "/sbin",
  "/root",
  "/var/lib/docker",
  "/run/containerd",
  "/var/run/containerd",
];
const SOCKETS = /(^|\/)(docker\.sock|containerd\.sock|podman\.sock|crio\.sock)$/;
const DANGEROUS_CAPS = new Set([
  "ALL",
  "SYS_ADMIN",
  "SYS_MODULE",
  "SYS_PTRACE",
  "SYS_RAWIO",
  "DAC_READ_SEARCH",
  "NET_ADMIN",
  "SYS_BOOT",
  "BPF",
  "PERFMON",
]);

function composeName(c: ContainerObservation): string {
  const labels = obj(obj(c.inspect.Config).Labels);
  const svc = str(labels["com.docker.compose.service"]);
  return (svc || c.name).slice(0, 80);
}

function fixLines(c: ContainerObservation, run: string, compose: string): string {
  return `docker run: ${run}\ncompose (service ${composeName(c)}):\n  ${compose.split("\n").join("\n  ")}`;
}

export function containerFindings(
  c: ContainerObservation,
  daemonNoNewPrivileges: boolean,
): Finding[] {
  const out: Finding[] = [];
  const base = { area: "containers" as const, where: c.name, containerId: c.id };
  const add = (x: Omit<Parameters<typeof auditFinding>[0], "area" | "where" | "containerId">) =>
    out.push(auditFinding({ ...base, ...x }));
  const hc = obj(c.inspect.HostConfig);
  const cfg = obj(c.inspect.Config);
  const field = (name: string, value: unknown): Evidence => ({
    facts: {
      field: name,
      value: (typeof value === "string" ? value : (JSON.stringify(value) ?? "null")).slice(0, 300),
    },
  });
  const running = obj(c.inspect.State).Running === true;
  const sev = (s: Severity): Severity => s;

  if (hc.Privileged === true) {
    add({
      rule: "audit.container.privileged",
      cis: "5.5",
      severity: sev("critical"),
      title:
        "Privileged container: every device and capability, no confinement; root in it is root on the host",
      evidence: [field("HostConfig.Privileged", true)],
      fix: fixLines(
        c,
        "remove --privileged (add only what is needed: --cap-add NAME, --device /dev/X)",
        "privileged: false",
      ),
      cost: RECREATE,
    });
  }
  const capAdd = arr(hc.CapAdd)
    .map(str)
    .map((x) => x.replace(/^CAP_/, "").toUpperCase());
  if (capAdd.length > 0) {
    const bad = capAdd.filter((x) => DANGEROUS_CAPS.has(x));
    add({
      rule: "audit.container.cap-add",
      cis: "5.4",
      severity: bad.length ? "high" : "medium",
      title: `Added capabilities: ${capAdd.join(", ")}`,
      evidence: [field("HostConfig.CapAdd", capAdd)],
      fix: fixLines(
        c,
        `remove ${capAdd.map((x) => `--cap-add ${x}`).join(" ")}; start from --cap-drop ALL and add back only what the app needs`,
        "cap_drop: [ALL]\ncap_add: []   # only what the app needs",
      ),
      cost: RECREATE,
    });
  }
  for (const m of arr(c.inspect.Mounts).map(obj)) {
    const src = str(m.Source);
    const dst = str(m.Destination);
    const rw = m.RW !== false;
    if (SOCKETS.test(src) || SOCKETS.test(dst)) {
      add({
        rule: "audit.container.docker-socket",
        cis: "5.32",
        severity: "critical",
        title: `The container runtime's socket ${src} is mounted (at ${dst}${rw ? "" : ", read-only: still full API access"}): whoever controls this container controls every container and the host`,
        evidence: [
          {
            path: src,
            facts: {
              field: "Mounts",
              source: src.slice(0, 200),
              destination: dst.slice(0, 200),
              rw: String(rw),
            },
          },
        ],
        fix: fixLines(
          c,
          `remove -v ${src}:${dst}${rw ? "" : ":ro"}; if the app needs the API, give it a socket proxy that allows only the calls it needs`,
          `volumes: remove "${src}:${dst}${rw ? "" : ":ro"}"`,
        ),
        cost: RECREATE,
      });
      continue;
    }
    const norm = src.replace(/\/+$/, "") || "/";
    const hit = SENSITIVE.find(
      (s) =>
        norm === s ||
        (s !== "/" &&
          norm.startsWith(`${s}/`) &&
          ["/etc", "/root", "/boot", "/var/lib/docker"].includes(s)),
    );
    if (hit && str(m.Type) !== "volume") {
      add({
        rule: "audit.container.sensitive-mount",
        cis: "5.6",
        severity: rw ? "high" : "medium",
        title: `Host directory ${src} mounted ${rw ? "read-write" : "read-only"} at ${dst}`,
        evidence: [
          {
            path: src,
            facts: {
              field: "Mounts",
              source: src.slice(0, 200),
              destination: dst.slice(0, 200),
              rw: String(rw),
            },
          },
        ],
        fix: fixLines(
          c,
          `remove -v ${src}:${dst}; mount only the files the app needs, read-only (-v /host/file:/path:ro)`,
          `volumes: remove "${src}:${dst}"`,
        ),
        cost: RECREATE,
      });
    }
  }
  const ns: [string, string, string, string][] = [
    ["NetworkMode", "5.10", "--network host", "network_mode: host"],
    ["PidMode", "5.16", "--pid host", "pid: host"],
    ["IpcMode", "5.17", "--ipc host", "ipc: host"],
    ["UTSMode", "5.21", "--uts host", "uts: host"],
  ];
  for (const [key, cis, flag, compose] of ns) {
    if (str(hc[key]) !== "host") continue;
    add({
      rule: `audit.container.host-${key.replace("Mode", "").toLowerCase()}`,
      cis,
      severity: key === "UTSMode" ? "low" : "high",
      title: `Shares the host's ${key.replace("Mode", "").toUpperCase()} namespace (${flag})`,
      evidence: [field(`HostConfig.${key}`, "host")],
      fix: fixLines(
        c,
        `remove ${flag}${key === "NetworkMode" ? " and publish the ports it serves on one address (-p 127.0.0.1:PORT:PORT)" : ""}`,
        `remove "${compose}"`,
      ),
      cost: RECREATE,
    });
  }
  const secOpt = arr(hc.SecurityOpt).map(str);
  if (secOpt.some((s) => /^seccomp[=:]unconfined$/.test(s))) {
    add({
      rule: "audit.container.seccomp-unconfined",
      cis: "5.22",
      severity: "high",
      title: "seccomp is off (seccomp=unconfined)",
      evidence: [field("HostConfig.SecurityOpt", secOpt)],
      fix: fixLines(
        c,
        "remove --security-opt seccomp=unconfined",
        "security_opt: remove seccomp:unconfined",
      ),
      cost: RECREATE,
    });
  }
  if (
    secOpt.some((s) => /^apparmor[=:]unconfined$/.test(s)) ||
    str(c.inspect.AppArmorProfile) === "unconfined"
  ) {
    add({
      rule: "audit.container.apparmor-unconfined",
      cis: "5.2",
      severity: "medium",
      title: "AppArmor is off for this container (apparmor=unconfined)",
      evidence: [
        field(
          "HostConfig.SecurityOpt / AppArmorProfile",
          secOpt.join(",") || str(c.inspect.AppArmorProfile),
        ),
      ],
      fix: fixLines(
        c,
        "remove --security-opt apparmor=unconfined (docker-default applies)",
        "security_opt: remove apparmor:unconfined",
      ),
      cost: RECREATE,
    });
  }
  if (!daemonNoNewPrivileges && !secOpt.some((s) => /^no-new-privileges(:true|=true)?$/.test(s))) {
    add({
      rule: "audit.container.no-new-privileges",
      cis: "5.26",
      severity: "low",
      title: "Processes may gain privileges through setuid binaries (no-new-privileges not set)",
      evidence: [field("HostConfig.SecurityOpt", secOpt)],
      fix: fixLines(
        c,
        "--security-opt no-new-privileges",
        "security_opt:\n  - no-new-privileges:true",
      ),
      cost: RECREATE,
    });
  }
  if (!hc.Memory) {
    add({
      rule: "audit.container.memory",
      cis: "5.11",
      severity: "low",
      title: "No memory limit",
      evidence: [field("HostConfig.Memory", hc.Memory ?? 0)],
      fix: fixLines(c, "--memory 1g   # what the app needs, with room", "mem_limit: 1g"),
      cost: "docker update --memory 1g NAME (no restart)",
    });
  }
  if (!hc.NanoCpus && !hc.CpuQuota && !hc.CpuShares) {
    add({
      rule: "audit.container.cpu",
      cis: "5.12",
      severity: "low",
      title: "No CPU limit (a miner or a flood takes every core)",
      evidence: [field("HostConfig.NanoCpus", hc.NanoCpus ?? 0)],
      fix: fixLines(c, "--cpus 1.5", "cpus: 1.5"),
      cost: "docker update --cpus 1.5 NAME (no restart)",
    });
  }
  const pids = hc.PidsLimit;
  if (pids === null || pids === undefined || (typeof pids === "number" && pids <= 0)) {
    add({
      rule: "audit.container.pids-limit",
      cis: "5.29",
      severity: "low",
      title: "No PIDs limit (a fork bomb takes the host)",
      evidence: [field("HostConfig.PidsLimit", pids ?? null)],
      fix: fixLines(c, "--pids-limit 512", "pids_limit: 512"),
      cost: "docker update --pids-limit 512 NAME (no restart)",
    });
  }
  if (hc.ReadonlyRootfs !== true) {
    add({
      rule: "audit.container.read-only-root",
      cis: "5.13",
      severity: "info",
      title: "The root filesystem is writable (a dropped binary lands in the writable layer)",
      evidence: [field("HostConfig.ReadonlyRootfs", hc.ReadonlyRootfs ?? false)],
      fix: fixLines(
        c,
        "--read-only --tmpfs /tmp (plus volumes for the data the app writes)",
        "read_only: true\ntmpfs: [/tmp]",
      ),
      cost: RECREATE,
    });
  }
  const ports: { key: string; ip: string; port: string }[] = [];
  const addPorts = (m: unknown) => {
    for (const [key, binds] of Object.entries(obj(m)))
      for (const b of arr(binds).map(obj))
        ports.push({ key, ip: str(b.HostIp), port: str(b.HostPort) });
  };
  addPorts(obj(c.inspect.NetworkSettings).Ports);
  if (ports.length === 0) addPorts(hc.PortBindings);
  const open = ports.filter(
    (p) => p.ip === "" || p.ip === "0.0.0.0" || p.ip === "::" || p.ip === "[::]",
  );
  if (open.length > 0) {
    const fams = [
      ...new Set(
        open.map((p) =>
          p.ip.includes(":") ? "IPv6 (::)" : p.ip === "" ? "all addresses" : "IPv4 (0.0.0.0)",
        ),
      ),
    ];
    const shown = [...new Set(open.map((p) => `${p.ip || "*"}:${p.port}->${p.key}`))];
    add({
      rule: "audit.container.ports-all-addresses",
      cis: "5.14",
      severity: "medium",
      title: `Ports published on every address, ${fams.join(" and ")}: ${shown.slice(0, 6).join(", ")} (Docker's rules bypass ufw/firewalld INPUT rules)`,
      evidence: [field("NetworkSettings.Ports", shown)],
      fix: fixLines(
        c,
        `-p 127.0.0.1:${open[0]!.port}:${open[0]!.key.split("/")[0]} (behind a reverse proxy), or the one public address`,
        `ports:\n  - "127.0.0.1:${open[0]!.port}:${open[0]!.key.split("/")[0]}"`,
      ),
      cost: RECREATE,
    });
  }
  const rp = obj(hc.RestartPolicy);
  const rpName = str(rp.Name);
  if (
    rpName === "always" ||
    rpName === "unless-stopped" ||
    (rpName === "on-failure" && !rp.MaximumRetryCount)
  ) {
    add({
      rule: "audit.container.restart-policy",
      cis: "5.15",
      severity: "low",
      title: `Restart policy ${rpName} without a retry limit (a crashing or killed trojan comes back forever)`,
      evidence: [field("HostConfig.RestartPolicy", rp)],
      fix: fixLines(c, "--restart on-failure:5", 'restart: "on-failure:5"'),
      cost: "docker update --restart on-failure:5 NAME (no restart)",
    });
  }
  if (!obj(cfg.Healthcheck).Test || arr(obj(cfg.Healthcheck).Test)[0] === "NONE") {
    add({
      rule: "audit.container.no-healthcheck",
      cis: "5.27",
      severity: "info",
      title: "No healthcheck",
      evidence: [field("Config.Healthcheck", cfg.Healthcheck ?? null)],
      fix: fixLines(
        c,
        '--health-cmd "wget -qO- http://127.0.0.1/ || exit 1" --health-interval 30s',
        'healthcheck:\n  test: ["CMD", "wget", "-qO-", "http://127.0.0.1/"]\n  interval: 30s',
      ),
      cost: RECREATE,
    });
  }
  const user = str(cfg.User);
  if (
    (user === "" ||
      user === "0" ||
      user === "root" ||
      user.startsWith("0:") ||
      user.startsWith("root:")) &&
    running !== undefined
  ) {
    add({
      rule: "audit.container.root-user",
      cis: "4.1",
      severity: "low",
      title: "Runs as root inside the container",
      evidence: [field("Config.User", user || "(empty: root)")],
      fix: fixLines(c, "--user 1000:1000 (or a USER line in the Dockerfile)", 'user: "1000:1000"'),
      cost: `${RECREATE}; files the app writes may need their owner changed`,
    });
  }
  return out;
}
