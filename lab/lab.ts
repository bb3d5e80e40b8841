/**
 * `npm run lab -- up [--scenario contained|escaped] [--seconds N]`, `... down`, `... status`.
 * JSON on stdout, progress and errors on stderr; exit 0 on success, 2 on failure.
 */
import { parseArgs } from "node:util";
import { BreachkitError } from "../src/util/errors.js";
import { errorMessage } from "../src/util/result.js";
import { type LabScenario, labDown, labStatus, labUp } from "./lab-core.js";

const USAGE = `Usage: npm run lab -- <command>

Commands:
  up [--scenario contained|escaped] [--seconds N]
                 build and start the breach lab; prints its containers and trojan pids as JSON
                 (escaped: the trojan also runs on the host; N: trojan lifetime, max 900 s)
  down           remove the lab's containers (by label and id) and stop its host processes
  status         show the lab's containers and host processes as JSON
`;

async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      scenario: { type: "string", default: "contained" },
      seconds: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  });
  const command = positionals[0];
  if (values.help || command === undefined || positionals.length > 1) {
    (values.help ? process.stdout : process.stderr).write(USAGE);
    return values.help ? 0 : 2;
  }
  const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
  switch (command) {
    case "up": {
      const scenario = values.scenario;
      if (scenario !== "contained" && scenario !== "escaped") {
        throw new BreachkitError(
          "USAGE",
          `unknown scenario: ${scenario}`,
          "use contained or escaped",
        );
      }
      const seconds = values.seconds === undefined ? undefined : Number(values.seconds);
      if (seconds !== undefined && !(Number.isInteger(seconds) && seconds >= 1 && seconds <= 900)) {
        throw new BreachkitError("USAGE", "--seconds must be a whole number from 1 to 900");
      }
      print(
        await labUp({
          scenario: scenario satisfies LabScenario,
          ...(seconds === undefined ? {} : { trojanSeconds: seconds }),
          log: (m) => process.stderr.write(`lab: ${m}\n`),
        }),
      );
      return 0;
    }
    case "down":
      print(await labDown());
      return 0;
    case "status":
      print(await labStatus());
      return 0;
    default:
      process.stderr.write(`unknown command: ${command}\n\n${USAGE}`);
      return 2;
  }
}

run(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`lab: ${errorMessage(err)}\n`);
    if (err instanceof BreachkitError && err.hint) process.stderr.write(`  ${err.hint}\n`);
    process.exitCode = 2;
  },
);
