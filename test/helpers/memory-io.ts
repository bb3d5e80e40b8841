import type { CliIo } from "../../src/cli/io.js";

/** A CliIo that records what a command writes, for driving commands in tests. */
export function memoryIo(overrides: Partial<CliIo> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = {
    write: (s) => void out.push(s),
    error: (s) => void err.push(s),
    stderrIsTty: false,
    interactive: false,
    color: false,
    env: {},
    cwd: process.cwd(),
    pid: process.pid,
    euid: process.geteuid?.() ?? -1,
    confirm: async () => false,
    onInterrupt: () => () => {},
    ...overrides,
  };
  return { io, stdout: () => out.join(""), stderr: () => err.join("") };
}
