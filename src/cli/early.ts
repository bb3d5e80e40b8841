/**
 * Which command lines read every process as they start (a live snapshot), decided from the
 * arguments alone. Kept apart and small: the built command's entry (boot.ts) asks it
 * before it loads anything else, to start the native reader first of all; main.ts asks it
 * when the reader was not started that early (tests, tsx).
 */

const has = (args: readonly string[], ...flags: string[]) =>
  args.some((a) => flags.some((f) => a === f || a.startsWith(`${f}=`)));

/** By command name: whether these arguments make it take a live snapshot first. */
export const READS_PROCESSES = {
  triage: (args) => !has(args, "--bundle"),
  snapshot: (args) => !has(args, "--root"),
  collect: () => true,
  contain: () => true,
} as const satisfies Record<string, (args: readonly string[]) => boolean>;

/**
 * The command the arguments name: the first word that is not an option (the top-level
 * options take no value).
 */
export function commandWord(args: readonly string[]): string | undefined {
  return args.find((a) => !a.startsWith("-"));
}

/** Whether the command line starts with a live reading of every process (not for help). */
export function startsReading(args: readonly string[]): boolean {
  if (args.includes("-h") || args.includes("--help")) return false;
  const word = commandWord(args);
  if (word === undefined || !Object.hasOwn(READS_PROCESSES, word)) return false;
  return READS_PROCESSES[word as keyof typeof READS_PROCESSES](args);
}
