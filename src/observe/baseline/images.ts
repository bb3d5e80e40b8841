/**
 * The engine's image tags and the image each names (GET /images/json): a tag that now names
 * another image, without an update record, is drift. A GET over the read-only transport.
 */
import type { BaselineItem } from "../../model/baseline.js";
import { z } from "../../util/zod.js";
import { EngineTransport, engineOptionsFromEnv } from "../docker/engine-transport.js";

const ImageSummarySchema = z.looseObject({
  Id: z.string(),
  RepoTags: z.array(z.string()).nullable().optional(),
  RepoDigests: z.array(z.string()).nullable().optional(),
});

export async function readImageTags(
  env: Readonly<Record<string, string | undefined>>,
): Promise<BaselineItem[]> {
  const transport = new EngineTransport(engineOptionsFromEnv(env));
  const list = await transport.json(
    { method: "GET", path: "/images/json" },
    ImageSummarySchema.array(),
  );
  const items: BaselineItem[] = [];
  for (const img of list) {
    for (const tag of img.RepoTags ?? []) {
      if (tag === "<none>:<none>") continue;
      items.push({
        kind: "image",
        place: "host",
        key: tag,
        value: img.Id,
        facts: { digests: (img.RepoDigests ?? []).join(" ") },
      });
    }
  }
  return items;
}
