/**
 * The create request that gives a container back with the identical configuration, on a new
 * image, read from its inspect. Pure: it changes nothing and is tested on recorded inspects.
 *
 * Inspect's Config is the container's own settings merged over its image's defaults. Copying it
 * whole would freeze the old image's defaults (its CMD, ENV, HEALTHCHECK, labels) into the new
 * container; so a value equal to the old image's default is left out and the new image's applies,
 * as if the container had been created again with the same command line. Everything the admin
 * set stays: environment, mounts and volumes (anonymous volumes kept by name, so the data goes
 * along), networks with aliases and static addresses, ports, labels, restart policy,
 * healthcheck, user, capabilities, limits, log configuration, command and entrypoint.
 */

type Json = Record<string, unknown>;

export interface RecreateSpec {
  /** Without the leading slash. */
  name: string;
  /** Config fields + HostConfig + NetworkingConfig (the first network only). */
  body: Json;
  /** Further networks, connected after create and before start, with their endpoint configs. */
  extraNetworks: { network: string; endpoint: Json }[];
  /** What was carried over by hand, in words (anonymous volumes, dropped defaults). */
  notes: string[];
}

function isObj(v: unknown): v is Json {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}

/** Image-default fields of Config that are dropped when equal to the old image's. */
const IMAGE_DEFAULTS = [
  "Cmd",
  "Entrypoint",
  "Healthcheck",
  "WorkingDir",
  "User",
  "StopSignal",
  "Shell",
  "OnBuild",
];

export function recreateSpec(
  inspect: Json,
  oldImageConfig: Json | null,
  image: string,
): RecreateSpec {
  const id = String(inspect.Id ?? "");
  const shortId = id.slice(0, 12);
  const name = String(inspect.Name ?? "").replace(/^\//, "");
  const config: Json = { ...(isObj(inspect.Config) ? inspect.Config : {}) };
  const host: Json = { ...(isObj(inspect.HostConfig) ? inspect.HostConfig : {}) };
  const img = oldImageConfig ?? {};
  const notes: string[] = [];

  config.Image = image;
  const networkMode = typeof host.NetworkMode === "string" ? host.NetworkMode : "default";
  // The default hostname is the short id: the new container gets its own.
  if (
    config.Hostname === shortId ||
    networkMode === "host" ||
    networkMode.startsWith("container:")
  ) {
    delete config.Hostname;
  }
  if (networkMode.startsWith("container:")) {
    delete config.Domainname;
    delete config.ExposedPorts;
  }

  // Defaults inherited from the old image.
  for (const key of IMAGE_DEFAULTS) {
    if (key in config && same(config[key], img[key])) delete config[key];
  }
  if (Array.isArray(config.Env)) {
    const imageEnv = new Set(Array.isArray(img.Env) ? img.Env.map(String) : []);
    config.Env = config.Env.map(String).filter((e) => !imageEnv.has(e));
  }
  if (isObj(config.Labels)) {
    const imageLabels = isObj(img.Labels) ? img.Labels : {};
    config.Labels = Object.fromEntries(
      Object.entries(config.Labels).filter(([k, v]) => imageLabels[k] !== v),
    );
  }
  for (const key of ["ExposedPorts", "Volumes"]) {
    const cur = config[key];
    const def = img[key];
    if (isObj(cur) && isObj(def)) {
      const kept = Object.fromEntries(Object.entries(cur).filter(([k]) => !(k in def)));
      config[key] = Object.keys(kept).length ? kept : null;
    }
  }

  // Anonymous volumes (an image VOLUME, or `-v /path`) go along by name, or their data is lost.
  const binds = Array.isArray(host.Binds) ? host.Binds.map(String) : [];
  const hostMounts = Array.isArray(host.Mounts) ? host.Mounts.filter(isObj) : [];
  const covered = new Set<string>([
    ...binds.map((b) => b.split(":")[1] ?? ""),
    ...hostMounts.map((m) => String(m.Target ?? "")),
  ]);
  const extraBinds: string[] = [];
  for (const m of Array.isArray(inspect.Mounts) ? inspect.Mounts.filter(isObj) : []) {
    const dest = String(m.Destination ?? "");
    if (m.Type !== "volume" || !m.Name || covered.has(dest)) continue;
    extraBinds.push(`${String(m.Name)}:${dest}${m.RW === false ? ":ro" : ""}`);
    notes.push(`anonymous volume ${String(m.Name).slice(0, 12)} at ${dest} kept by name`);
  }
  if (extraBinds.length) host.Binds = [...binds, ...extraBinds];

  // Networks: the endpoint settings the admin chose (aliases without the old short id, static
  // addresses, links, driver options); the first at create, the others connected before start.
  const endpoints: { network: string; endpoint: Json }[] = [];
  const settings = isObj(inspect.NetworkSettings) ? inspect.NetworkSettings : {};
  const nets = isObj(settings.Networks) ? settings.Networks : {};
  const shareStack =
    networkMode === "host" || networkMode === "none" || networkMode.startsWith("container:");
  if (!shareStack) {
    for (const [net, raw] of Object.entries(nets)) {
      if (!isObj(raw)) continue;
      const endpoint: Json = {};
      const aliases = Array.isArray(raw.Aliases)
        ? raw.Aliases.map(String).filter((a) => a !== shortId && a !== id)
        : [];
      if (aliases.length) endpoint.Aliases = aliases;
      if (isObj(raw.IPAMConfig) && Object.values(raw.IPAMConfig).some((v) => v)) {
        endpoint.IPAMConfig = raw.IPAMConfig;
      }
      if (Array.isArray(raw.Links) && raw.Links.length) endpoint.Links = raw.Links;
      if (isObj(raw.DriverOpts) && Object.keys(raw.DriverOpts).length)
        endpoint.DriverOpts = raw.DriverOpts;
      endpoints.push({ network: net, endpoint });
    }
  }
  // The network of NetworkMode first: the engine attaches the container to it at create.
  const primaryName = networkMode === "default" ? "bridge" : networkMode;
  endpoints.sort((a, b) => Number(b.network === primaryName) - Number(a.network === primaryName));
  const [first, ...rest] = endpoints;

  const body: Json = {
    ...config,
    HostConfig: host,
    ...(first
      ? { NetworkingConfig: { EndpointsConfig: { [first.network]: first.endpoint } } }
      : {}),
  };
  return { name, body, extraNetworks: rest, notes };
}

/**
 * The fields of two inspects that must be equal after a recreate (the rest change by nature:
 * id, created, state, image id, the short-id hostname and alias, runtime paths). Returns the
 * differing field paths; an empty list means the configuration is identical.
 */
export function configDifferences(
  before: Json,
  after: Json,
  allowed: readonly string[] = [],
): string[] {
  const diffs: string[] = [];
  const walk = (a: unknown, b: unknown, path: string) => {
    if (allowed.includes(path)) return;
    if (isObj(a) && isObj(b)) {
      for (const k of new Set([...Object.keys(a), ...Object.keys(b)]))
        walk(a[k], b[k], `${path}.${k}`);
      return;
    }
    if (!same(a, b)) diffs.push(path);
  };
  const cfg = (x: Json) => {
    const c = { ...(isObj(x.Config) ? x.Config : {}) };
    if (c.Hostname === String(x.Id ?? "").slice(0, 12)) delete c.Hostname;
    return c;
  };
  walk(cfg(before), cfg(after), "Config");
  walk(before.HostConfig, after.HostConfig, "HostConfig");
  const nets = (x: Json) => {
    const id = String(x.Id ?? "");
    const s =
      isObj(x.NetworkSettings) && isObj(x.NetworkSettings.Networks)
        ? x.NetworkSettings.Networks
        : {};
    return Object.fromEntries(
      Object.entries(s).map(([n, e]) => {
        const ep = isObj(e) ? e : {};
        return [
          n,
          {
            Aliases: (Array.isArray(ep.Aliases) ? ep.Aliases.map(String) : [])
              .filter((a) => a !== id.slice(0, 12))
              .sort(),
            IPAMConfig: ep.IPAMConfig ?? null,
            Links: ep.Links ?? null,
          },
        ];
      }),
    );
  };
  walk(nets(before), nets(after), "Networks");
  const mounts = (x: Json) =>
    (Array.isArray(x.Mounts) ? x.Mounts.filter(isObj) : [])
      .map((m) => ({
        Type: m.Type,
        Name: m.Name ?? null,
        Source: m.Source,
        Destination: m.Destination,
        RW: m.RW,
      }))
      .sort((p, q) => String(p.Destination).localeCompare(String(q.Destination)));
  walk(mounts(before), mounts(after), "Mounts");
  return diffs;
}
