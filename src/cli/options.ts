/**
 * One typed option table per command: each option is declared once (flags, description, value
 * type, default, choices), and the same entry drives the help text, the parsing and validation
 * (a bad value is a usage error naming the option, exit 2), the typed values the command body
 * gets, and the command line recorded in a bundle. Before this, each command declared its
 * options, checked enums in its body and rebuilt its command line by hand, and the three drifted.
 */
import { type Command, InvalidArgumentError, Option } from "commander";

interface SpecBase {
  /** Commander flags, e.g. "--out <dir>", "-y, --yes", "--no-redact". */
  readonly flags: string;
  readonly description: string;
  /** Shown as "(default: ...)" when the default is not self-explaining. */
  readonly defaultLabel?: string;
  /** false: never written into a bundle's recorded command line (e.g. --json, --yes). */
  readonly record?: boolean;
}

/** A boolean switch: `--json` (false unless given) or `--no-host` (true unless given). */
export interface FlagSpec extends SpecBase {
  readonly kind: "flag";
}

/** One value. `V` is what the command body gets; `D` says whether a default fills it. */
export interface ValueSpec<V, D extends boolean> extends SpecBase {
  readonly kind: "value";
  readonly parse: (raw: string) => V;
  readonly default: D extends true ? V : undefined;
  readonly choices?: readonly string[];
  /** `--interval [seconds]`: the value (as typed) taken when the option is given without one. */
  readonly preset?: string;
  /** How the value is written back into a recorded command line (default: String). */
  readonly format?: (v: V) => string;
}

/** A repeatable option: every value, in order (empty when not given). */
export interface ListSpec<V> extends SpecBase {
  readonly kind: "list";
  readonly parse: (raw: string) => V;
  readonly format?: (v: V) => string;
}

/**
 * A value with a default that `--no-NAME` turns off: `--cache <dir>` / `--no-cache`. The body
 * gets the value, or false when turned off.
 */
export interface OffableSpec<V> extends SpecBase {
  readonly kind: "offable";
  readonly parse: (raw: string) => V;
  readonly default: V;
  /** The help line of the `--no-` form. */
  readonly offDescription: string;
}

// biome-ignore lint/suspicious/noExplicitAny: a table holds specs of every value type
export type OptionSpec = FlagSpec | ValueSpec<any, boolean> | ListSpec<any> | OffableSpec<any>;
export type OptionTable = Readonly<Record<string, OptionSpec>>;

/** The typed values a table parses to. */
export type OptionValues<T extends OptionTable> = {
  -readonly [K in keyof T]: T[K] extends FlagSpec
    ? boolean
    : T[K] extends ListSpec<infer V>
      ? V[]
      : T[K] extends OffableSpec<infer V>
        ? V | false
        : T[K] extends ValueSpec<infer V, infer D>
          ? D extends true
            ? V
            : V | undefined
          : never;
};

/** Declare a table; the identity, there for the inference of each entry's value type. */
export function defineOptions<T extends OptionTable>(table: T): T {
  return table;
}

export function flag(flags: string, description: string, record = true): FlagSpec {
  return { kind: "flag", flags, description, record };
}

/** A string value, taken as given. */
export function text(flags: string, description: string): ValueSpec<string, false>;
export function text(
  flags: string,
  description: string,
  defaultValue: string,
): ValueSpec<string, true>;
export function text(
  flags: string,
  description: string,
  defaultValue?: string,
): ValueSpec<string, boolean> {
  return { kind: "value", flags, description, parse: (s) => s, default: defaultValue };
}

/** One of a fixed set, checked by commander's `.choices()` (listed in the help). */
export function choice<const C extends readonly string[]>(
  flags: string,
  description: string,
  choices: C,
  defaultValue: C[number],
): ValueSpec<C[number], true> {
  return {
    kind: "value",
    flags,
    description,
    choices,
    parse: (s) => s as C[number],
    default: defaultValue,
  };
}

/** A value through a parser that throws InvalidArgumentError naming the option. */
export function custom<V>(
  flags: string,
  description: string,
  parse: (raw: string) => V,
  extra: { format?: (v: V) => string; record?: boolean } = {},
): ValueSpec<V, false> {
  return { kind: "value", flags, description, parse, default: undefined, ...extra };
}

/** A path (or other text) with a default, which `--no-NAME` turns off. */
export function offable(
  flags: string,
  description: string,
  defaultValue: string,
  offDescription: string,
): OffableSpec<string> {
  return {
    kind: "offable",
    flags,
    description,
    parse: (s) => s,
    default: defaultValue,
    offDescription,
  };
}

export function repeatable<V = string>(
  flags: string,
  description: string,
  parse?: (raw: string) => V,
  format?: (v: V) => string,
): ListSpec<V> {
  return {
    kind: "list",
    flags,
    description,
    parse: parse ?? ((s) => s as V),
    ...(format ? { format } : {}),
  };
}

/** A positive number of seconds (or anything positive), with a default. */
export function positive(
  flags: string,
  description: string,
  defaultValue: number,
): ValueSpec<number, true> {
  return {
    kind: "value",
    flags,
    description,
    parse: parsePositive(longName(flags)),
    default: defaultValue,
  };
}

/**
 * The one default for every sampling interval (snapshot, triage, contain): long enough to
 * see a flood's packets, short enough for the first minute.
 */
export const DEFAULT_INTERVAL_SECONDS = 1;

/** "--out <dir>" -> "--out"; "-y, --yes" -> "--yes". */
export function longName(flags: string): string {
  const long = /--[a-z0-9-]+/i.exec(flags)?.[0];
  if (!long) throw new Error(`option "${flags}" has no long name`);
  return long;
}

/** A positive number, or a usage error that names the option. */
export function parsePositive(name: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n <= 0) {
      throw new InvalidArgumentError(`${name} takes a positive number, got "${value}"`);
    }
    return n;
  };
}

/** A comma-separated list of names (letters, digits, `_`, `-`), e.g. rkhunter test groups. */
export function parseNameList(name: string) {
  return (value: string): string[] => {
    const names = value
      .split(/[,\s]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    if (names.length === 0 || names.some((n) => !/^[A-Za-z0-9_-]+$/.test(n))) {
      throw new InvalidArgumentError(
        `${name} takes a comma-separated list of names (letters, digits, _ and -), got "${value}"`,
      );
    }
    return names;
  };
}

function toOptions(key: string, spec: OptionSpec): Option[] {
  const o = new Option(spec.flags, spec.description);
  if (o.attributeName() !== key) {
    // A table key that commander would store under another name: a bug in the table.
    throw new Error(`option table key "${key}" does not match ${spec.flags}`);
  }
  if (spec.kind === "flag") return [o];
  if (spec.kind === "offable") {
    o.argParser(spec.parse).default(spec.default, spec.defaultLabel);
    return [o, new Option(`--no-${longName(spec.flags).slice(2)}`, spec.offDescription)];
  }
  return [toValueOption(o, spec)];
}

function toValueOption(o: Option, spec: ValueSpec<unknown, boolean> | ListSpec<unknown>): Option {
  if (spec.kind === "list") {
    const parse = spec.parse;
    return o.argParser((v: string, prev: unknown[] | undefined) => [...(prev ?? []), parse(v)]);
  }
  if (spec.choices) o.choices(spec.choices);
  else o.argParser(spec.parse);
  if (spec.default !== undefined) {
    o.default(spec.default, spec.defaultLabel);
  }
  if (spec.preset !== undefined) o.preset(spec.preset);
  return o;
}

/** Add every option of `table` to `cmd`, in the table's order. */
export function addOptions(cmd: Command, table: OptionTable): Command {
  for (const [key, spec] of Object.entries(table)) {
    for (const o of toOptions(key, spec)) cmd.addOption(o);
  }
  return cmd;
}

/**
 * The typed values, read back from commander after it parsed and validated them. Lists not
 * given are empty; switches not given are false (or true for a --no- switch, set by commander).
 */
export function readOptions<T extends OptionTable>(cmd: Command, table: T): OptionValues<T> {
  const raw = cmd.opts();
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table)) {
    const v = raw[key];
    if (spec.kind === "flag") out[key] = v === true;
    else if (spec.kind === "list") out[key] = Array.isArray(v) ? v : [];
    else if (spec.kind === "offable") out[key] = v === false || v === true ? false : v;
    else out[key] = v;
  }
  return out as OptionValues<T>;
}

/** Quote a word for a shell only when it needs it, so the line can be read back or re-run. */
function shellWord(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * The command line recorded in a bundle: the command, its arguments, and every option the user
 * gave (from the table, in its order, values normalised by `format`: `--since 7d` is recorded
 * as the absolute time it meant). Options with `record: false` (output format, confirmation)
 * are left out: they do not change what is collected.
 */
export function recordedCommandLine<T extends OptionTable>(
  name: string,
  args: readonly string[],
  cmd: Command,
  table: T,
  values: OptionValues<T>,
): string {
  const parts = [name, ...args.map(shellWord)];
  for (const [key, spec] of Object.entries(table)) {
    if (spec.record === false) continue;
    if (cmd.getOptionValueSource(key) !== "cli") continue;
    const long = longName(spec.flags);
    const v = (values as Record<string, unknown>)[key];
    if (spec.kind === "flag") {
      parts.push(long);
    } else if (spec.kind === "offable") {
      parts.push(...(v === false ? [`--no-${long.slice(2)}`] : [long, shellWord(String(v))]));
    } else if (spec.kind === "list") {
      const format = spec.format ?? String;
      for (const item of v as unknown[]) parts.push(long, shellWord(format(item)));
    } else if (v !== undefined) {
      const format = spec.format ?? String;
      parts.push(long, shellWord(format(v)));
    }
  }
  return parts.join(" ");
}

/**
 * Register a command's options from its table and hand the body typed values: the single path
 * from argv to a command body. `body` gets the positional arguments, the values, and the
 * recorded command line.
 */
export function withOptions<T extends OptionTable>(
  cmd: Command,
  table: T,
  body: (input: { args: string[]; options: OptionValues<T>; commandLine: string }) => Promise<void>,
): Command {
  addOptions(cmd, table);
  return cmd.action(async (...received: unknown[]) => {
    // commander passes the positional arguments, then the options object, then the command.
    const self = received[received.length - 1] as Command;
    const args = received.slice(0, -2).flatMap((a) => (Array.isArray(a) ? a : [a])) as string[];
    const options = readOptions(self, table);
    const commandLine = recordedCommandLine(self.name(), args, self, table, options);
    await body({ args, options, commandLine });
  });
}

/**
 * `--rules DIR`, the same for every command that judges (triage, contain): hunt rules and
 * tuned lists that add to or override the shipped ones.
 */
export const rulesOption = (): ValueSpec<string, false> =>
  text(
    "--rules <dir>",
    "hunt rules and tuned lists that add to or override the shipped ones (see rules/README.md)",
  );
