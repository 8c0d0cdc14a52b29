// Reads every message catalogue of the web app (src/locales/*.json, or those of the folder
// named as its argument) with the ICU
// MessageFormat parser that the app's own formatter uses, and prints, per locale and key,
// the arguments the message takes ({name: type}) or the reason it does not parse.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse, TYPE } from "@formatjs/icu-messageformat-parser";

const folder = process.argv[2] ?? join(dirname(fileURLToPath(import.meta.url)), "..", "src", "locales");
const TYPES = Object.fromEntries(Object.entries(TYPE).map(([name, code]) => [code, name]));

/** Collects the arguments of a parsed message, looking inside plural and select branches. */
function collect(elements, into = { args: {} }) {
  for (const element of elements) {
    if (element.type === TYPE.literal || element.type === TYPE.pound) continue;
    into.args[element.value] = TYPES[element.type];
    for (const option of Object.values(element.options ?? {})) collect(option.value, into);
  }
  return into;
}

const report = {};
for (const file of readdirSync(folder).filter((name) => name.endsWith(".json"))) {
  const locale = file.replace(/\.json$/, "");
  const messages = JSON.parse(readFileSync(join(folder, file), "utf8"));
  report[locale] = {};
  for (const [key, message] of Object.entries(messages)) {
    try {
      // The app formats with tags left as text (svelte-i18n's ignoreTag), so parse likewise.
      report[locale][key] = collect(parse(message, { ignoreTag: true }));
    } catch (error) {
      report[locale][key] = { error: String(error.message ?? error) };
    }
  }
}
process.stdout.write(JSON.stringify(report));
