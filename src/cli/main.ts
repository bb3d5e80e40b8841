import { Command, CommanderError } from "commander";
import type { ErrorOutput } from "../model/error-output.js";
import { ERROR_SCHEMA_VERSION } from "../model/schema-version.js";
import { colorsFor } from "../util/colors.js";
import { BreachkitError, EXIT_ERROR } from "../util/errors.js";
import { errorMessage } from "../util/result.js";
import { safeText } from "../util/sanitize.js";
import { VERSION, versionReport } from "../version.js";
import type { CommandContext } from "./command.js";
import { COMMANDS, type LazyCommand } from "./commands/index.js";
import type { CliIo } from "./io.js";

const DESCRIPTION = `Incident response for Linux servers that run their services in Docker.

Secure the evidence first, find what is wrong and where, contain it with proof.
Read-only on the host unless a command says otherwise (contain).`;

/**
 * The commands `args` needs: the one it names, none for the version, or all of them (overall
 * help, `help <cmd>`, a mistyped name that commander should suggest a fix for). The
 * top-level options take no value, so the first word that is not an option is the command.
 */
export function commandsFor(args: readonly string[]): readonly LazyCommand[] {
  const word = args.find((a) => !a.startsWith("-"));
  const named = COMMANDS.find((c) => c.name === word);
  if (named) return [named];
  return versionOnly(args) ? [] : COMMANDS;
}

/** `breachkit --version` (or -V) with no command and no help. */
function versionOnly(args: readonly string[]): boolean {
  return (
    args.find((a) => !a.startsWith("-")) === undefined &&
    args.some((a) => a === "-V" || a === "--version") &&
    !args.includes("-h") &&
    !args.includes("--help")
  );
}

/**
 * Build the program with the commands `args` needs (every command without `args`);
 * exported so that help and option tables can be tested.
 */
export async function buildProgram(
  ctx: CommandContext,
  args?: readonly string[],
): Promise<Command> {
  const program = new Command("breachkit")
    .description(DESCRIPTION)
    .version(VERSION, "-V, --version", "print the version")
    .helpOption("-h, --help", "show help")
    .showHelpAfterError("(run with --help for usage and examples)")
    .exitOverride()
    .configureOutput({
      writeOut: (s) => ctx.io.write(s),
      writeErr: (s) => ctx.io.error(s),
    })
    .addHelpText(
      "after",
      `
Start here:
  $ breachkit triage              what is wrong on this host, ranked, in seconds
  $ breachkit collect --archive   secure the evidence before anything is shut down

Exit codes: 0 nothing at or above the threshold, 1 findings (contain: not contained),
2 could not do the job. Colors only on a terminal; NO_COLOR is honoured.`,
    );
  const registers = await Promise.all(
    (args === undefined ? COMMANDS : commandsFor(args)).map((c) => c.load()),
  );
  for (const register of registers) register(program, ctx);
  for (const sub of program.commands) sub.description(reflow(sub.description()));
  return program;
}

/**
 * Descriptions are written as paragraphs with hard line breaks; commander wraps every line
 * to the terminal's width, which would leave ragged half-lines. Join each paragraph's plain
 * lines and let commander wrap them; keep indented, numbered and bulleted lines as they are.
 */
export function reflow(text: string): string {
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const prev = out.length > 0 ? out[out.length - 1] : undefined;
    const structured = /^(\s|\d+\.|[-*•])/.test(line);
    // "   more text" under "1. item" (indented to the item's text) continues that item.
    const item = prev === undefined ? null : /^(\d+\. |[-*•] )/.exec(prev);
    const indent = /^ */.exec(line)?.[0].length ?? 0;
    const continuesItem = item !== null && indent === item[0].length && line.trim() !== "";
    if (continuesItem) {
      out[out.length - 1] = `${prev} ${line.trim()}`;
    } else if (prev !== undefined && prev.trim() !== "" && line.trim() !== "" && !structured) {
      out[out.length - 1] = `${prev} ${line}`;
    } else {
      out.push(line);
    }
  }
  return out.join("\n");
}

const MAX_MESSAGE = 4000;

/** Run the CLI with the given arguments (without node and script); returns the exit code. */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  let exitCode = 0;
  const ctx: CommandContext = {
    io,
    setExitCode(code) {
      exitCode = Math.max(exitCode, code);
    },
  };
  const c = colorsFor(io);
  // The version, and from the single executable its commit, hash and self-check (version.ts).
  if (versionOnly(args)) {
    const v = await versionReport();
    io.write(v.text);
    return v.intact ? 0 : 1;
  }
  try {
    const program = await buildProgram(ctx, args);
    // Commander's own exitOverride applies to subcommands only when set on each.
    for (const sub of program.commands) {
      sub.exitOverride().configureOutput({
        writeOut: (s) => io.write(s),
        writeErr: (s) => io.error(s),
      });
    }
    await program.parseAsync([...args], { from: "user" });
    return exitCode;
  } catch (e) {
    // With --json, stdout is read by a program: it gets an error object, never nothing.
    const json = wantsJson(args);
    if (e instanceof CommanderError) {
      // help and version exit with 0; usage errors were already printed by commander.
      if (e.exitCode === 0) return 0;
      if (json)
        writeJsonError(
          io,
          "USAGE",
          e.message.replace(/^error: /, ""),
          "run with --help for usage and examples",
        );
      return EXIT_ERROR;
    }
    // Messages quote paths, names and engine replies that may come from the breached host.
    if (e instanceof BreachkitError) {
      io.error(`${c.red("error:")} ${safeText(e.message, MAX_MESSAGE)}\n`);
      if (e.hint) io.error(`${c.dim("what to do:")} ${safeText(e.hint, MAX_MESSAGE)}\n`);
      if (json) writeJsonError(io, e.code, e.message, e.hint ?? null);
      return EXIT_ERROR;
    }
    io.error(`${c.red("internal error:")} ${safeText(errorMessage(e), MAX_MESSAGE)}\n`);
    if (e instanceof Error && e.stack && io.env.BREACHKIT_DEBUG) io.error(`${e.stack}\n`);
    io.error("This is a bug in breachkit; please report it with the command you ran.\n");
    if (json) {
      writeJsonError(
        io,
        "INTERNAL",
        errorMessage(e),
        "this is a bug in breachkit; please report it with the command you ran",
      );
    }
    return EXIT_ERROR;
  }
}

/** Whether the command line asks for JSON (an operand after `--` is not an option). */
function wantsJson(args: readonly string[]): boolean {
  const end = args.indexOf("--");
  return (end === -1 ? args : args.slice(0, end)).includes("--json");
}

/** The error object of `breachkit schema error`; JSON.stringify escapes every control byte. */
function writeJsonError(
  io: CliIo,
  code: ErrorOutput["error"]["code"],
  message: string,
  hint: string | null,
): void {
  const out: ErrorOutput = {
    schemaVersion: ERROR_SCHEMA_VERSION,
    error: {
      code,
      message: message.slice(0, MAX_MESSAGE),
      hint: hint?.slice(0, MAX_MESSAGE) ?? null,
    },
  };
  io.write(`${JSON.stringify(out, null, 2)}\n`);
}
