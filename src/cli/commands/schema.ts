import { Argument, type Command } from "commander";
import { jsonSchemaText, OUTPUT_MODELS, OUTPUT_NAMES } from "../../model/output-schemas.js";
import { BreachkitError } from "../../util/errors.js";
import { type CommandContext, helpFooter, type RegisterCommand } from "../command.js";
import { defineOptions, flag, withOptions } from "../options.js";

const EXIT_CODES = `  0  printed
  2  usage: no NAME and no --list, or a NAME that is not one of the outputs`;

export const SCHEMA_OPTIONS = defineOptions({
  list: flag("--list", "list the names, each with its schemaVersion and what prints it", false),
});

export const registerSchema: RegisterCommand = (program: Command, ctx: CommandContext) => {
  const cmd = program
    .command("schema")
    .summary("print the JSON Schema of a command's --json output")
    .description(
      `Print the JSON Schema (draft 2020-12) of the JSON a command prints with --json, generated
from the same model the command's output is built on. Every output carries schemaVersion;
the schema's $id names it (urn:breachkit:schema:NAME:VERSION). The same files ship in the
package under schemas/. Writes nothing.`,
    )
    .addArgument(new Argument("[name]", "the output").choices(OUTPUT_NAMES))
    .addHelpText(
      "after",
      helpFooter(
        [
          "breachkit schema --list",
          "breachkit schema snapshot > snapshot.schema.json",
          "breachkit schema triage | jq .properties.verdict",
        ],
        EXIT_CODES,
      ),
    );
  withOptions(cmd, SCHEMA_OPTIONS, async ({ args, options }) => {
    const name = args[0] as (typeof OUTPUT_NAMES)[number] | undefined;
    if (options.list) {
      for (const n of OUTPUT_NAMES) {
        const m = OUTPUT_MODELS[n];
        ctx.io.write(`${n.padEnd(9)} schemaVersion ${m.version}  ${m.title}\n`);
      }
      return;
    }
    if (name === undefined) {
      throw new BreachkitError(
        "USAGE",
        `schema needs a NAME (${OUTPUT_NAMES.join(", ")}) or --list`,
        "breachkit schema --list",
      );
    }
    ctx.io.write(jsonSchemaText(name));
  });
};
