/**
 * Progress on stderr for long work. On a terminal one line is redrawn (at most ~10 times
 * a second); elsewhere nothing is drawn but `done` lines, so logs stay readable.
 */

/** Where progress is drawn: the CLI's io (cli/io.ts) has this shape; tests pass their own. */
export interface ProgressSink {
  /** stderr is a terminal: a line may be redrawn. */
  readonly stderrIsTty: boolean;
  error(text: string): void;
}

export interface Progress {
  update(text: string): void;
  done(text?: string): void;
}

export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function createProgress(io: ProgressSink, quiet = false): Progress {
  let last = 0;
  let drawn = false;
  return {
    update(text) {
      if (quiet || !io.stderrIsTty) return;
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      const line = text.length > 110 ? `${text.slice(0, 109)}…` : text;
      io.error(`\r\u001b[2K${line}`);
      drawn = true;
    },
    done(text) {
      if (drawn) io.error("\r\u001b[2K");
      drawn = false;
      if (text && !quiet) io.error(`${text}\n`);
    },
  };
}

export const silentProgress: Progress = { update() {}, done() {} };
