// The only module that touches `process`: argv, streams, signals and the exit code.
import { isatty } from "node:tty";
import type { CliIo, FullScreen } from "./io.js";
import { wantColor } from "./io.js";
import { runCli } from "./main.js";

type Interrupt = { handler: (signal: string) => void; onHangup?: (signal: string) => void };

// SIGHUP means the terminal or SSH session went away, not that the responder wants to stop:
// Node's default (exit at once) left a collect with no manifest and no SEAL. It is always
// caught: a running command that writes a bundle decides (collect goes on to the end, the others
// stop and seal incomplete); any other command simply finishes, its output dropped.
const interrupts = new Set<Interrupt>();
const hangupWaiters = new Set<() => void>();
let hungUp = false;
process.on("SIGHUP", (signal) => {
  hungUp = true;
  for (const wake of hangupWaiters) wake();
  for (const i of [...interrupts]) (i.onHangup ?? i.handler)(signal);
});

// A stream whose reader is gone (a closed terminal gives EIO, a closed pipe EPIPE) is dropped,
// never an unhandled 'error' event: that would crash a run before it sealed its bundle.
const gone = { stdout: false, stderr: false };
function send(which: "stdout" | "stderr", text: string): void {
  if (gone[which]) return;
  try {
    process[which].write(text);
  } catch {
    gone[which] = true;
  }
}

// watch's full screen: whatever ends the process (q, a signal, an uncaught error) leaves the
// terminal as it found it: main screen, cursor shown, keys cooked. The error's own message is
// printed after the restore (uncaughtExceptionMonitor runs before Node prints it).
let screenOn = false;
function leaveScreen(): void {
  if (!screenOn) return;
  screenOn = false;
  try {
    process.stdin.setRawMode(false);
  } catch {
    /* not a terminal any more */
  }
  process.stdin.pause();
  // Writes to a terminal are synchronous in Node: this one lands even inside the exit event.
  send("stdout", "\u001b[0m\u001b[?25h\u001b[?1049l");
}
const terminal: FullScreen | null =
  isatty(0) && process.stdout.isTTY === true
    ? {
        size: () => ({ columns: process.stdout.columns || 80, rows: process.stdout.rows || 24 }),
        enter() {
          if (screenOn) return;
          screenOn = true;
          process.on("exit", leaveScreen);
          process.on("uncaughtExceptionMonitor", leaveScreen);
          process.stdin.setRawMode(true);
          process.stdin.setEncoding("utf8");
          process.stdin.resume();
          send("stdout", "\u001b[?1049h\u001b[?25l\u001b[H\u001b[2J");
        },
        leave: leaveScreen,
        draw: (text) => send("stdout", text),
        onKey(handler) {
          const h = (d: string | Buffer) => handler(String(d));
          process.stdin.on("data", h);
          return () => process.stdin.off("data", h);
        },
        onResize(handler) {
          process.stdout.on("resize", handler);
          return () => process.stdout.off("resize", handler);
        },
      }
    : null;

const io: CliIo = {
  write: (s) => send("stdout", s),
  error: (s) => send("stderr", s),
  stderrIsTty: process.stderr.isTTY === true,
  // isatty(0), not process.stdin: the stdin stream costs a few ms to set up, and only
  // contain's question ever reads it.
  interactive: isatty(0) && process.stdout.isTTY === true,
  color: wantColor(process.stdout.isTTY === true, process.env),
  env: process.env,
  cwd: process.cwd(),
  pid: process.pid,
  euid: process.geteuid?.() ?? -1,
  terminal,
  async confirm(question) {
    if (hungUp || !(isatty(0) && process.stdout.isTTY)) return false;
    // Loaded here: only contain asks anything, and only on a terminal.
    const { createInterface } = await import("node:readline/promises");
    const rl = createInterface({ input: process.stdin, output: process.stderr });
    // Nobody is left to answer once the terminal hangs up: that is a no.
    let wake = () => {};
    const hangup = new Promise<string>((r) => {
      wake = () => r("");
    });
    hangupWaiters.add(wake);
    try {
      const answer = await Promise.race([rl.question(`${question} [y/N] `), hangup]);
      return !hungUp && /^y(es)?$/i.test(answer.trim());
    } finally {
      hangupWaiters.delete(wake);
      rl.close();
    }
  },
  onInterrupt(handler, opts) {
    const entry: Interrupt = opts?.onHangup ? { handler, onHangup: opts.onHangup } : { handler };
    const h = (sig: NodeJS.Signals) => handler(sig);
    process.on("SIGINT", h);
    process.on("SIGTERM", h);
    interrupts.add(entry);
    return () => {
      process.off("SIGINT", h);
      process.off("SIGTERM", h);
      interrupts.delete(entry);
    };
  },
};

process.stdout.on("error", (e: NodeJS.ErrnoException) => {
  gone.stdout = true;
  // A closed pipe (breachkit ... | head) is not an error worth a stack trace; but a command
  // writing a bundle (it has an interrupt handler) goes on to seal it.
  if (e.code === "EPIPE" && interrupts.size === 0 && !hungUp) process.exit(process.exitCode ?? 0);
});
process.stderr.on("error", () => {
  gone.stderr = true;
});

/** Run the command line; called by the built command's entry (boot.ts). */
export function main(): void {
  void runCli(process.argv.slice(2), io).then((code) => {
    process.exitCode = code;
  });
}
