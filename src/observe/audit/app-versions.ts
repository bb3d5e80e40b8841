/**
 * Versions of well-known internet-facing apps, read from the container's own files through
 * the host's view of its filesystem (/proc/<pid>/root: never docker exec, which would run in
 * the suspect container and show in its process list). When no file says, the image's
 * environment (the official images set WORDPRESS_VERSION, JENKINS_VERSION ...) and last the
 * image tag.
 */
import type { AppVersion } from "../../model/audit-output.js";
import { RootFs } from "../accounts/root-fs.js";

interface FileProbe {
  product: string;
  path: string;
  re: RegExp;
  /** Group with the version; optional group with the edition. */
  version: number;
  edition?: number;
}

const FILES: FileProbe[] = [
  {
    product: "gitlab",
    path: "/opt/gitlab/version-manifest.txt",
    re: /^(gitlab-(?:ce|ee))\s+v?(\d+\.\d+\.\d+)/m,
    version: 2,
    edition: 1,
  },
  {
    product: "gitlab",
    path: "/opt/gitlab/embedded/service/gitlab-rails/VERSION",
    re: /^\s*v?(\d+\.\d+\.\d+)/,
    version: 1,
  },
  {
    product: "wordpress",
    path: "/var/www/html/wp-includes/version.php",
    re: /\$wp_version\s*=\s*['"]([^'"]+)['"]/,
    version: 1,
  },
  {
    product: "nextcloud",
    path: "/var/www/html/version.php",
    re: /\$OC_VersionString\s*=\s*['"]([^'"]+)['"]/,
    version: 1,
  },
  {
    product: "roundcube",
    path: "/var/www/html/program/include/iniset.php",
    re: /RCMAIL_VERSION['"]\s*,\s*['"]([^'"]+)['"]/,
    version: 1,
  },
];

const ENVS: Record<string, string> = {
  GITLAB_VERSION: "gitlab",
  WORDPRESS_VERSION: "wordpress",
  JENKINS_VERSION: "jenkins",
  CONFLUENCE_VERSION: "confluence",
  NEXTCLOUD_VERSION: "nextcloud",
  ROUNDCUBEMAIL_VERSION: "roundcube",
};

/** Image repository (last path part, lower case) -> product. */
const IMAGES: [RegExp, string][] = [
  [/(^|\/)gitlab(-ce|-ee)?$/, "gitlab"],
  [/(^|\/)wordpress$/, "wordpress"],
  [/(^|\/)jenkins$/, "jenkins"],
  [/(^|\/)confluence(-server)?$/, "confluence"],
  [/(^|\/)nextcloud$/, "nextcloud"],
  [/(^|\/)roundcubemail$/, "roundcube"],
];

const MAX_VERSION_FILE = 256 * 1024;

/** "13.10.2-ce.0" -> "13.10.2"; null when the tag holds no version (latest, stable). */
export function versionOfTag(tag: string): string | null {
  const m = /^v?(\d+(?:\.\d+){1,3})/.exec(tag);
  return m ? m[1]! : null;
}

export function splitImageRef(ref: string): { repo: string; tag: string | null } {
  const noDigest = ref.split("@")[0]!;
  const slash = noDigest.lastIndexOf("/");
  const colon = noDigest.lastIndexOf(":");
  if (colon > slash) return { repo: noDigest.slice(0, colon), tag: noDigest.slice(colon + 1) };
  return { repo: noDigest, tag: null };
}

export async function readAppVersions(
  fsRoot: string | null,
  imageRef: string,
  env: readonly string[],
): Promise<AppVersion[]> {
  const found = new Map<string, AppVersion>();
  if (fsRoot) {
    const fs = new RootFs(fsRoot);
    for (const probe of FILES) {
      if (found.has(probe.product)) continue;
      const r = await fs.read(probe.path, { maxBytes: MAX_VERSION_FILE });
      if (!r.ok) continue;
      const m = probe.re.exec(r.value.bytes.toString("utf8"));
      if (!m?.[probe.version]) continue;
      found.set(probe.product, {
        product: probe.product,
        version: m[probe.version]!,
        ...(probe.edition && m[probe.edition] ? { edition: m[probe.edition]! } : {}),
        from: "file",
        evidence: probe.path,
      });
    }
  }
  for (const e of env) {
    const eq = e.indexOf("=");
    if (eq <= 0) continue;
    const product = ENVS[e.slice(0, eq)];
    const version = versionOfTag(e.slice(eq + 1));
    if (!product || !version || found.has(product)) continue;
    found.set(product, { product, version, from: "env", evidence: e.slice(0, 200) });
  }
  const { repo, tag } = splitImageRef(imageRef);
  const product = IMAGES.find(([re]) => re.test(repo.toLowerCase()))?.[1];
  const version = tag ? versionOfTag(tag) : null;
  if (product && version && !found.has(product)) {
    const edition = /gitlab-(ce|ee)/.exec(repo)?.[0];
    found.set(product, {
      product,
      version,
      ...(edition ? { edition } : {}),
      from: "image-tag",
      evidence: imageRef.slice(0, 300),
    });
  }
  return [...found.values()];
}
