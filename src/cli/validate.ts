/** `rxon validate <Model> <file.json>`: checks a JSON file against a wire model. */
import { decodeJson, modelNames, type ModelName } from "../wire/codec.js";
import { ValidationError } from "../errors.js";
import { ExitCode, parse, readText, UsageError, type CliIo } from "./io.js";

export const validateHelp = `Usage: rxon validate <Model> <file.json|-> [--strict]

Validates a JSON file as one of the protocol's models and prints every problem with its JSON
pointer. Exit code 0 when valid, 1 when not, 2 on usage errors.

Options:
  --strict     refuse unknown members of model objects
  -h, --help   show this help

Models: ${modelNames.join(", ")}
`;

/** Runs the command; returns the exit code. */
export async function validateCommand(argv: readonly string[], io: CliIo): Promise<number> {
  const { values, positionals } = parse(argv, { strict: { type: "boolean" } });
  if (values.help) return void io.stdout.write(validateHelp), ExitCode.OK;
  if (positionals.length !== 2) throw new UsageError("expected <Model> <file.json>");
  const [model, file] = positionals as [string, string];
  if (!(modelNames as readonly string[]).includes(model)) throw new UsageError(`unknown model '${model}'; one of: ${modelNames.join(", ")}`);
  let text: string;
  try {
    text = readText(io, file);
  } catch (err) {
    io.stderr.write(`rxon validate: cannot read ${file}: ${(err as Error).message}\n`);
    return ExitCode.FAILURE;
  }
  try {
    decodeJson(model as ModelName, text, { strict: values.strict === true });
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    io.stdout.write(`${file}: invalid ${model}\n`);
    const issues = err.errors.length > 0 ? err.errors : [{ path: "", message: err.message }];
    for (const issue of issues) io.stdout.write(`  ${issue.path === "" ? "/" : issue.path}: ${issue.message}\n`);
    return ExitCode.FAILURE;
  }
  io.stdout.write(`${file}: valid ${model}\n`);
  return ExitCode.OK;
}
