import type { RegisterCommand } from "../command.js";

/**
 * A command by name, its module loaded only when it runs: each module pulls in its whole
 * pipeline (scanners, evidence, zod schemas), and loading all of them cost more start-up
 * time than a snapshot takes. main.ts loads every one for the overall help.
 */
export interface LazyCommand {
  /** As given to `program.command(...)`: what the user types. */
  readonly name: string;
  readonly load: () => Promise<RegisterCommand>;
  /**
   * Whether these arguments make the command read every process as it starts (a live
   * snapshot): the CLI then starts the reading before loading the command's modules.
   */
  readonly readsProcesses?: (args: readonly string[]) => boolean;
}

const has = (args: readonly string[], ...flags: string[]) =>
  args.some((a) => flags.some((f) => a === f || a.startsWith(`${f}=`)));

/** Every command, in the order of the playbook. Add a command here when it works. */
export const COMMANDS: readonly LazyCommand[] = [
  {
    name: "triage",
    load: async () => (await import("./triage.js")).registerTriage,
    readsProcesses: (args) => !has(args, "--bundle"),
  },
  {
    name: "snapshot",
    load: async () => (await import("./snapshot.js")).registerSnapshot,
    readsProcesses: (args) => !has(args, "--root"),
  },
  {
    name: "collect",
    load: async () => (await import("./collect.js")).registerCollect,
    readsProcesses: () => true,
  },
  { name: "scan", load: async () => (await import("./scan.js")).registerScan },
  {
    name: "contain",
    load: async () => (await import("./contain.js")).registerContain,
    readsProcesses: () => true,
  },
  { name: "verify", load: async () => (await import("./verify.js")).registerVerify },
];
