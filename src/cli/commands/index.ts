import type { RegisterCommand } from "../command.js";

/** Every command, in the order of the playbook. Add a command here when it works. */
export const COMMANDS: readonly RegisterCommand[] = [];
