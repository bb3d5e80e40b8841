import type { RegisterCommand } from "../command.js";
import { registerCollect } from "./collect.js";
import { registerContain } from "./contain.js";
import { registerScan } from "./scan.js";
import { registerSnapshot } from "./snapshot.js";
import { registerTriage } from "./triage.js";
import { registerVerify } from "./verify.js";

/** Every command, in the order of the playbook. Add a command here when it works. */
export const COMMANDS: readonly RegisterCommand[] = [
  registerTriage,
  registerSnapshot,
  registerCollect,
  registerScan,
  registerContain,
  registerVerify,
];
