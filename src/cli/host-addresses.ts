import { networkInterfaces } from "node:os";

/** The host's own addresses (its network namespace's): not leads when found in a memory dump. */
export function ownAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .map((i) => i?.address)
    .filter((a): a is string => typeof a === "string");
}
