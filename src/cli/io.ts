/**
 * The streams and environment a command sees. Only `bin.ts` builds one from `process`;
 * tests build their own, so every command can be driven without touching the process, and
 * every layer below gets what it needs (env, pid, euid) as arguments.
 */
export interface CliIo {
  write(text: string): void;
  error(text: string): void;
  /** stderr is a terminal: progress may redraw a line. */
  readonly stderrIsTty: boolean;
  /** stdin and stdout are terminals: a command may ask for confirmation. */
  readonly interactive: boolean;
  readonly color: boolean;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
  /** breachkit's own pid: left out of what it scans. */
  readonly pid: number;
  /** The effective uid (-1 where the platform has none): some commands need root. */
  readonly euid: number;
  /** Ask a yes/no question on the terminal; false when not interactive. */
  confirm(question: string): Promise<boolean>;
  /**
   * Register a handler for SIGINT/SIGTERM, and for SIGHUP (the terminal or SSH session went
   * away) too unless `onHangup` is given: a command that can finish without its terminal
   * (collect) passes it, gets told, and goes on. Returns a function that removes the handler.
   */
  onInterrupt(
    handler: (signal: string) => void,
    opts?: { onHangup?: (signal: string) => void },
  ): () => void;
  /**
   * The terminal for a full-screen view (watch), when stdin and stdout are both terminals;
   * null (or absent, in tests) otherwise.
   */
  readonly terminal?: FullScreen | null;
}

/** A full-screen terminal: the alternate screen, raw keys, its size. */
export interface FullScreen {
  size(): { columns: number; rows: number };
  /**
   * Alternate screen, cursor hidden, keys raw (Ctrl-C arrives as a key). Restored by `leave`,
   * and at exit whatever happens, an uncaught error included.
   */
  enter(): void;
  leave(): void;
  /** Write a frame, as is. */
  draw(text: string): void;
  onKey(handler: (data: string) => void): () => void;
  onResize(handler: () => void): () => void;
}

/** Color only on a terminal and never with NO_COLOR (https://no-color.org). */
export function wantColor(isTty: boolean, env: Readonly<Record<string, string | undefined>>) {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== "") return false;
  if (env.FORCE_COLOR !== undefined && env.FORCE_COLOR !== "0") return true;
  return isTty && env.TERM !== "dumb";
}
