/**
 * `tenantbase`: one command per resource, each in src/cli/commands/.
 */
import { Command, CommanderError } from "commander";
import { isTenantbaseError } from "../core/errors.js";
import { registerCopy } from "./commands/copy.js";
import { registerMigrate } from "./commands/migrate.js";
import { registerServe } from "./commands/serve.js";
import { registerTenants } from "./commands/tenants.js";

export function buildProgram(): Command {
  const program = new Command("tenantbase")
    .description("A database per tenant: server, tenants, migrations, backups")
    .showHelpAfterError()
    .exitOverride()
    .enablePositionalOptions();
  registerServe(program);
  registerTenants(program);
  registerMigrate(program);
  registerCopy(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv, { from: "user" });
    return process.exitCode === undefined ? 0 : Number(process.exitCode);
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode;
    const message = isTenantbaseError(error)
      ? `${error.code}: ${error.message}`
      : (error as Error).message;
    process.stderr.write(`tenantbase: ${message}\n`);
    return 1;
  }
}

const code = await main(process.argv.slice(2));
// Long-running commands (serve) keep the process alive themselves.
if (code !== 0) process.exit(code);
