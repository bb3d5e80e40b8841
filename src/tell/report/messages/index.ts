/** The message files by language: one file per language, the same keys in each. */
import { en, type MessageKey, type Messages } from "./en.js";
import { it } from "./it.js";

export const LANGS = ["en", "it"] as const;
export type Lang = (typeof LANGS)[number];

export const MESSAGES: Readonly<Record<Lang, Messages>> = { en, it };

/** A message with its {placeholders} filled (a missing value is left as the placeholder). */
export function msg(
  lang: Lang,
  key: MessageKey,
  vars: Record<string, string | number> = {},
): string {
  return MESSAGES[lang][key].replace(/\{([a-zA-Z0-9]+)\}/g, (m, k: string) =>
    k in vars ? String(vars[k]) : m,
  );
}
