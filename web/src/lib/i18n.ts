/**
 * The app's languages: message catalogues in ICU MessageFormat (svelte-i18n, on FormatJS's
 * intl-messageformat), bundled into the build, and locale-aware numbers and dates (`Intl`).
 *
 * The language comes from the address (`lang` in the hash query, so a shared link opens in
 * the language it was shared in), then from the last choice made in this browser
 * (localStorage), then from the browser's own languages, then English.
 */
import { addMessages, format, init, locale, unwrapFunctionStore } from "svelte-i18n";
import { derived, get, type Readable } from "svelte/store";
import en from "../locales/en.json";
import fr from "../locales/fr.json";
import { keepLangInHash, langFromHash, setHashLang } from "./router";

export const LOCALES = ["en", "fr"] as const;
export type Locale = (typeof LOCALES)[number];
export type MessageKey = keyof typeof en;
export type MessageValues = Record<string, string | number | boolean | Date | null | undefined>;

/**
 * A pseudo-locale for tests, reached only through the address (`lang=en-XA`): every message
 * is the English one between ⟦ ⟧, so text on the page without brackets came from nowhere in
 * the catalogues. Numbers and dates are formatted as in English.
 */
export const PSEUDO_LOCALE = "en-XA";
const STORAGE_KEY = "convscope.lang";

function isLocale(value: string | null | undefined): value is Locale | typeof PSEUDO_LOCALE {
  return value === PSEUDO_LOCALE || (LOCALES as readonly string[]).includes(value ?? "");
}

function storedLocale(): string | null {
  try {
    return localStorage.getItem(STORAGE_KEY);
  } catch {
    return null; // storage refused (a private window, a sandboxed frame): not remembered
  }
}

/** The browser's first language that the app speaks, or null. */
function browserLocale(): Locale | null {
  const tags = navigator.languages?.length ? navigator.languages : [navigator.language];
  for (const tag of tags) {
    const base = (tag ?? "").toLowerCase().split("-")[0];
    if ((LOCALES as readonly string[]).includes(base)) return base as Locale;
  }
  return null;
}

/** The language the page opens in: the address's, the stored choice, the browser's, English. */
export function initialLocale(): string {
  for (const candidate of [langFromHash(location.hash), storedLocale()]) {
    if (isLocale(candidate)) return candidate;
  }
  return browserLocale() ?? "en";
}

/** Loads the catalogues and sets the first language; called once before the app mounts. */
export function setupI18n(): void {
  addMessages("en", en);
  addMessages("fr", fr);
  addMessages(
    PSEUDO_LOCALE,
    Object.fromEntries(Object.entries(en).map(([key, message]) => [key, `⟦${message}⟧`])),
  );
  const first = initialLocale();
  init({ fallbackLocale: "en", initialLocale: first });
  applyLocale(first);
  // A link followed or an address edited by hand: its language wins, or it gets the page's.
  window.addEventListener("hashchange", () => {
    const named = langFromHash(location.hash);
    if (isLocale(named) && named !== get(locale)) {
      applyLocale(named);
      void locale.set(named);
    } else keepLangInHash();
  });
}

function applyLocale(value: string): void {
  document.documentElement.lang = value;
  setHashLang(value);
}

/** Switches the language, remembers it in this browser, and writes it into the address. */
export function switchLocale(value: Locale): void {
  try {
    localStorage.setItem(STORAGE_KEY, value);
  } catch {
    // storage refused: the address still carries the language
  }
  applyLocale(value);
  void locale.set(value);
}

/** The current language, as a store (the app redraws itself when it changes). */
export const currentLocale: Readable<string> = derived(locale, (value) => value ?? "en");

const formatMessage = unwrapFunctionStore(format);

/** The locale that `Intl` formats numbers and dates for. */
export function intlLocale(): string {
  const value = get(locale) ?? "en";
  return value === PSEUDO_LOCALE ? "en" : value;
}

/** The message `key` of the current language, with its ICU arguments filled in. */
export function t(key: MessageKey, values?: MessageValues): string {
  return formatMessage(key, values ? { values } : undefined);
}

/** Whether the catalogues hold `key` (for keys built from data: a status, a block type). */
export function hasMessage(key: string): key is MessageKey {
  return Object.hasOwn(en, key);
}

/** The message `key`, or `fallback` where the catalogues have none (a value from the server). */
export function tOr(key: string, fallback: string, values?: MessageValues): string {
  return hasMessage(key) ? t(key, values) : fallback;
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/**
 * A message with inline markup (`<b>`, `<i>`, `<code>`, links), as HTML for `{@html}`. The
 * markup comes from the catalogue; every argument is escaped first.
 */
export function tHtml(key: MessageKey, values?: MessageValues): string {
  const escaped = values
    ? Object.fromEntries(
        Object.entries(values).map(([name, value]) => [
          name,
          typeof value === "string" ? escapeHtml(value) : value,
        ]),
      )
    : undefined;
  return t(key, escaped);
}
