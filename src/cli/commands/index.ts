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
}

/** Every command, in the order of the playbook. Add a command here when it works. */
export const COMMANDS: readonly LazyCommand[] = [
  {
    name: "triage",
    load: async () => (await import("./triage.js")).registerTriage,
  },
  {
    name: "snapshot",
    load: async () => (await import("./snapshot.js")).registerSnapshot,
  },
  {
    name: "collect",
    load: async () => (await import("./collect.js")).registerCollect,
  },
  { name: "scan", load: async () => (await import("./scan.js")).registerScan },
  {
    name: "contain",
    load: async () => (await import("./contain.js")).registerContain,
  },
  { name: "audit", load: async () => (await import("./audit.js")).registerAudit },
  { name: "report", load: async () => (await import("./report.js")).registerReport },
  { name: "watch", load: async () => (await import("./watch.js")).registerWatch },
  { name: "update", load: async () => (await import("./update.js")).registerUpdate },
  {
    name: "baseline",
    load: async () => (await import("./baseline.js")).registerBaseline,
  },
  {
    name: "schedule",
    load: async () => (await import("./schedule.js")).registerSchedule,
  },
  { name: "backup", load: async () => (await import("./backup.js")).registerBackup },
  { name: "restore", load: async () => (await import("./restore.js")).registerRestore },
  { name: "verify", load: async () => (await import("./verify.js")).registerVerify },
  { name: "schema", load: async () => (await import("./schema.js")).registerSchema },
  { name: "fleet", load: async () => (await import("./fleet.js")).registerFleet },
];
