/**
 * Which container the admin means, for commands that act on one (contain, collect --container).
 *
 * Stricter than Docker on purpose. Docker prefers a full id, then an exact name, then a unique id
 * prefix, silently. On a breached host the attacker may have created containers too: one named
 * "3f2a" would capture `contain 3f2a` meant for the container whose id starts with 3f2a, and the
 * real one would keep running. So every way the query can match is collected, and anything but
 * exactly one container is refused with the candidates listed.
 *
 * Id prefixes need at least MIN_ID_PREFIX hex digits: shorter ones name a container only by luck
 * of the current set, and a one-key typo should never select something to pause.
 */
import type { Container } from "../../model/snapshot.js";
import { err, ok, type Result } from "../../util/result.js";

export const MIN_ID_PREFIX = 4;

export interface ResolveError {
  /** unknown: nothing matches (candidates are near misses); ambiguous: several match. */
  kind: "unknown" | "ambiguous";
  candidates: Container[];
}

export function resolveContainer(
  containers: readonly Container[],
  query: string,
): Result<Container, ResolveError> {
  // A leading slash is Docker's own spelling of a name (inspect's Name): it is never an id.
  const byNameOnly = query.startsWith("/");
  const name = byNameOnly ? query.slice(1) : query;
  const idQuery = byNameOnly ? null : query.toLowerCase();
  const idPrefix =
    idQuery !== null && new RegExp(`^[0-9a-f]{${MIN_ID_PREFIX},64}$`).test(idQuery)
      ? idQuery
      : null;

  const matches = containers.filter(
    (c) =>
      (name !== "" && c.name === name) ||
      (idQuery !== null && idQuery !== "" && c.id === idQuery) ||
      (idPrefix !== null && c.id.startsWith(idPrefix)),
  );
  const [only, ...others] = matches;
  if (only && others.length === 0) return ok(only);
  if (only) return err({ kind: "ambiguous", candidates: matches });

  const needle = name.toLowerCase();
  const nearMisses =
    needle === ""
      ? []
      : containers.filter((c) => c.name.toLowerCase().includes(needle) || c.id.startsWith(needle));
  return err({ kind: "unknown", candidates: nearMisses });
}
