/**
 * The hosts of a fleet, read from an inventory file: breachkit's plain list, Ansible's INI
 * inventory (the plain list is a subset of it) or Ansible's YAML inventory. Only what breachkit
 * needs is read: each host's name, groups, and `ansible_host`, `ansible_port`, `ansible_user`
 * (or `[user@]host[:port]`). Anything else is ignored; a line breachkit cannot read is an error
 * that names the file and line.
 */
import { readFile } from "node:fs/promises";
import { err, errorMessage, ok, type Result } from "../../util/result.js";

export interface InventoryHost {
  /** The inventory's name of the host (also the name of its folder in the case). */
  name: string;
  /** Where ssh connects to (ansible_host, else the name). */
  address: string;
  port: number | null;
  user: string | null;
  groups: string[];
}

export interface InventoryError {
  file: string;
  line: number;
  message: string;
}

/** A bounded inventory: more is not a typo but not something one admin machine should do. */
export const MAX_HOSTS = 5000;
const MAX_BYTES = 8 * 1024 * 1024;

const NAME = /^[A-Za-z0-9_.:-][A-Za-z0-9_.:@[\]-]*$/;
const HOSTNAME = /^(?:[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?|\[[0-9A-Fa-f:.]+\])$/;

/** `[user@]host[:port]`, IPv6 in brackets. */
export function parseHostSpec(
  spec: string,
): { address: string; port: number | null; user: string | null } | string {
  const at = spec.lastIndexOf("@");
  const user = at === -1 ? null : spec.slice(0, at);
  const rest = at === -1 ? spec : spec.slice(at + 1);
  if (user !== null && !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/.test(user))
    return `not a user name: ${JSON.stringify(user)}`;
  const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(rest);
  if (!m || !HOSTNAME.test(m[1] as string)) return `not a host: ${JSON.stringify(rest)}`;
  const port = m[2] === undefined ? null : Number(m[2]);
  if (port !== null && (port < 1 || port > 65535)) return `port out of range: ${m[2]}`;
  return { address: (m[1] as string).replace(/^\[|\]$/g, ""), port, user };
}

function hostFromVars(
  name: string,
  vars: Record<string, unknown>,
  groups: string[],
): InventoryHost | string {
  const spec = parseHostSpec(name);
  if (typeof spec === "string") return spec;
  const address = vars.ansible_host ?? spec.address;
  const port = vars.ansible_port ?? spec.port;
  const user = vars.ansible_user ?? spec.user;
  if (typeof address !== "string" || (!HOSTNAME.test(address) && !HOSTNAME.test(`[${address}]`)))
    return `ansible_host is not a host: ${JSON.stringify(address)}`;
  const portN = port === null ? null : Number(port);
  if (portN !== null && !(Number.isInteger(portN) && portN >= 1 && portN <= 65535))
    return `ansible_port is not a port: ${JSON.stringify(port)}`;
  if (
    user !== null &&
    (typeof user !== "string" || !/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/.test(user))
  )
    return `ansible_user is not a user name: ${JSON.stringify(user)}`;
  return { name, address, port: portN, user, groups };
}

/** Merge a host seen again (in another group): its groups add up, later vars win. */
function addHost(hosts: Map<string, InventoryHost>, h: InventoryHost): void {
  const had = hosts.get(h.name);
  if (!had) hosts.set(h.name, h);
  else {
    had.groups = [...new Set([...had.groups, ...h.groups])];
    if (h.address !== h.name) had.address = h.address;
    had.port = h.port ?? had.port;
    had.user = h.user ?? had.user;
  }
}

/** The plain list and Ansible's INI format. */
export function parseIni(text: string, file: string): Result<InventoryHost[], InventoryError> {
  const hosts = new Map<string, InventoryHost>();
  let group: string | null = null;
  let section: "hosts" | "children" | "vars" = "hosts";
  const lines = text.split(/\r?\n/);
  for (const [i, raw] of lines.entries()) {
    const line = raw.replace(/\s[;#].*$/, "").trim();
    const fail = (message: string) =>
      err({ file, line: i + 1, message: `${file}:${i + 1}: ${message}` });
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const head = /^\[([A-Za-z0-9_.-]+)(?::(children|vars))?\]$/.exec(line);
    if (head) {
      group = head[1] as string;
      section = (head[2] as "children" | "vars" | undefined) ?? "hosts";
      continue;
    }
    if (line.startsWith("["))
      return fail(`not a group header: ${JSON.stringify(line.slice(0, 80))}`);
    if (section !== "hosts") continue; // children and group vars: not needed to reach a host
    const [name, ...pairs] = line.split(/\s+/) as [string, ...string[]];
    if (/\[[0-9A-Za-z]+:[0-9A-Za-z]+\]/.test(name))
      return fail(`host ranges (${JSON.stringify(name)}) are not expanded: list the hosts`);
    if (!NAME.test(name)) return fail(`not a host: ${JSON.stringify(name.slice(0, 80))}`);
    const vars: Record<string, string> = {};
    for (const p of pairs) {
      const eq = p.indexOf("=");
      if (eq <= 0)
        return fail(`expected key=value after the host, found ${JSON.stringify(p.slice(0, 80))}`);
      vars[p.slice(0, eq)] = p.slice(eq + 1).replace(/^(["'])(.*)\1$/, "$2");
    }
    const h = hostFromVars(name, vars, group === null || group === "all" ? [] : [group]);
    if (typeof h === "string") return fail(h);
    addHost(hosts, h);
    if (hosts.size > MAX_HOSTS) return fail(`more than ${MAX_HOSTS} hosts`);
  }
  return ok([...hosts.values()]);
}

/** Ansible's YAML inventory: all: {hosts: {NAME: {ansible_host...}}, children: {GROUP: ...}}. */
export async function parseYaml(
  text: string,
  file: string,
): Promise<Result<InventoryHost[], InventoryError>> {
  // Loaded here: only a YAML inventory needs the yaml package.
  const { parse } = await import("yaml");
  let doc: unknown;
  try {
    doc = parse(text, { maxAliasCount: 100 });
  } catch (e) {
    return err({ file, line: 0, message: `${file}: not YAML: ${errorMessage(e)}` });
  }
  const hosts = new Map<string, InventoryHost>();
  const isMap = (v: unknown): v is Record<string, unknown> =>
    typeof v === "object" && v !== null && !Array.isArray(v);
  let problem: string | null = null;
  const walk = (groupName: string, g: unknown, depth: number): void => {
    if (problem || g === null || g === undefined) return;
    if (!isMap(g) || depth > 32) {
      problem = `group ${JSON.stringify(groupName)} is not a mapping of hosts and children`;
      return;
    }
    const groups = groupName === "all" ? [] : [groupName];
    if (g.hosts !== undefined && g.hosts !== null) {
      if (!isMap(g.hosts)) {
        problem = `${groupName}.hosts is not a mapping`;
        return;
      }
      for (const [name, vars] of Object.entries(g.hosts)) {
        const h = hostFromVars(name, isMap(vars) ? vars : {}, groups);
        if (typeof h === "string") {
          problem = `host ${JSON.stringify(name.slice(0, 80))}: ${h}`;
          return;
        }
        addHost(hosts, h);
        if (hosts.size > MAX_HOSTS) {
          problem = `more than ${MAX_HOSTS} hosts`;
          return;
        }
      }
    }
    if (g.children !== undefined && g.children !== null) {
      if (!isMap(g.children)) {
        problem = `${groupName}.children is not a mapping`;
        return;
      }
      for (const [child, cg] of Object.entries(g.children)) walk(child, cg, depth + 1);
    }
  };
  if (!isMap(doc))
    return err({
      file,
      line: 0,
      message: `${file}: not an Ansible YAML inventory (a mapping of groups)`,
    });
  for (const [name, g] of Object.entries(doc)) walk(name, g, 0);
  if (problem) return err({ file, line: 0, message: `${file}: ${problem}` });
  return ok([...hosts.values()]);
}

/** Read an inventory file: YAML by its extension (.yml, .yaml) or its first line (---). */
export async function readInventory(
  file: string,
): Promise<Result<InventoryHost[], InventoryError>> {
  let text: string;
  try {
    const buf = await readFile(file);
    if (buf.length > MAX_BYTES)
      return err({ file, line: 0, message: `${file}: larger than ${MAX_BYTES} bytes` });
    text = buf.toString("utf8");
  } catch (e) {
    return err({
      file,
      line: 0,
      message: `${file}: cannot read the inventory: ${errorMessage(e)}`,
    });
  }
  const yaml = /\.ya?ml$/i.test(file) || /^---\s*$/m.test(text.split("\n", 1)[0] ?? "");
  const r = yaml ? await parseYaml(text, file) : parseIni(text, file);
  if (r.ok && r.value.length === 0) return err({ file, line: 0, message: `${file}: no hosts` });
  return r;
}
