// The only module that touches `process`: argv, streams, signals and the exit code.
import { isatty } from "node:tty";
import type { CliIo } from "./io.js";
import { wantColor } from "./io.js";
import { runCli } from "./main.js";

const io: CliIo = {
  write: (s) => process.stdout.write(s),
  error: (s) => process.stderr.write(s),
  stderrIsTty: process.stderr.isTTY === true,
  // isatty(0), not process.stdin: the stdin stream costs a few ms to set up, and only
  // contain's question ever reads it.
  interactive: isatty(0) && process.stdout.isTTY === true,
  color: wantColor(process.stdout.isTTY === true, process.env),
  env: process.env,
  cwd: process.cwd(),
  pid: process.pid,
  euid: process.geteuid?.() ?? -1,
  async confirm(question) {
    if (!(isatty(0) && process.stdout.isTTY)) return false;
    // Loaded here: only contain asks anything, and only on a terminal.
    const { createInterface } = await import("node:readline/promises");
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    try {
      const answer = await rl.question(`${question} [y/N] `);
      return /^y(es)?$/i.test(answer.trim());
    } finally {
      rl.close();
    }
  },
  onInterrupt(handler) {
    const h = (sig: NodeJS.Signals) => handler(sig);
    process.on("SIGINT", h);
    process.on("SIGTERM", h);
    return () => {
      process.off("SIGINT", h);
      process.off("SIGTERM", h);
    };
  },
};

// A closed pipe (breachkit ... | head) is not an error worth a stack trace.
process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
});

/** Run the command line; called by the built command's entry (boot.ts). */
export function main(): void {
  void runCli(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
  });
}
