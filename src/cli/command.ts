import type { Command } from "commander";
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
