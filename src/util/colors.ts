/**
 * Terminal colours, decided once by the entry (cli/io.ts `wantColor`: a terminal, NO_COLOR,
 * FORCE_COLOR) and handed down as a flag: renderers take a `Colors`, never look at a terminal.
 */
import pc from "picocolors";

export type Colors = ReturnType<typeof pc.createColors>;

export function colorsFor(io: { readonly color: boolean }): Colors {
  return pc.createColors(io.color);
}
