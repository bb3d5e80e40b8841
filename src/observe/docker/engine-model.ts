import type { Engine } from "../../model/snapshot.js";
import { errorMessage } from "../../util/result.js";
import type { DockerEngine } from "./engine.js";
import { isEngineError } from "./engine-error.js";
import type { EngineInfo, EngineVersion } from "./engine-types.js";

/** The model's view of the engine from its version and info answers. */
export function toEngine(
  endpoint: string,
  version: Pick<EngineVersion, "Version" | "ApiVersion">,
  info: EngineInfo,
): Engine {
  return {
    available: true,
    endpoint,
    version: version.Version,
    apiVersion: version.ApiVersion,
    storageDriver: info.Driver ?? null,
    dockerRootDir: info.DockerRootDir ?? null,
    error: null,
  };
}

/**
 * Asks the engine who it is; never throws. An engine that is down is a fact of the snapshot
 * (`available: false` with the reason), not a failure of it. One call when it can: /info
 * names the engine's version and its answer header the API's (/version costs the engine as
 * much again, about 6 ms of its time on the cores a snapshot reads /proc with); /version
 * only for an engine whose /info does not say.
 */
export async function probeEngine(engine: DockerEngine): Promise<Engine> {
  try {
    const { info, apiVersion } = await engine.infoAndApiVersion();
    const version =
      typeof info.ServerVersion === "string" && info.ServerVersion !== "" && apiVersion !== null
        ? { Version: info.ServerVersion, ApiVersion: apiVersion }
        : await engine.version();
    return toEngine(engine.endpoint, version, info);
  } catch (e) {
    return {
      available: false,
      endpoint: engine.endpoint,
      version: null,
      apiVersion: null,
      storageDriver: null,
      dockerRootDir: null,
      error: isEngineError(e) ? e.message : errorMessage(e),
    };
  }
}
