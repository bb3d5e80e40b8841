import { type Command, InvalidArgumentError } from "commander";
import type { CliIo } from "./io.js";

/** What a command's registration gets: the streams, and a way to set the exit code. */
export interface CommandContext {
  readonly io: CliIo;
  setExitCode(code: number): void;
}

export type RegisterCommand = (program: Command, ctx: CommandContext) => void;

/** Appended to every command's help: examples first, then what the exit codes mean. */
export function helpFooter(examples: readonly string[], exitCodes?: string): string {
  const ex = examples.map((e) => `  $ ${e}`).join("\n");
  const codes =
    exitCodes ??
    "  0  ran, nothing at or above the threshold\n  1  findings at or above the threshold\n  2  could not do the job (usage, permission, no Docker engine)";
  return `\nExamples:\n${ex}\n\nExit codes:\n${codes}\n`;
}

/**
 * Parse a positive number option, with a usage error that names the option. Option parsers
 * throw InvalidArgumentError: commander reports it as a usage error (exit 2); any other error
 * would reach the top level as an "internal error, this is a bug".
 */
export function parsePositive(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`${name} takes a positive number, got "${value}"`);
    }
    return n;
  };
}

/** Collect a repeatable option into an array. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
