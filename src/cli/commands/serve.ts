/**
 * `tenantbase serve`: the HTTP server on one data directory (or PostgreSQL).
 * Settings come from flags and the environment (see docs/server.md); SIGTERM
 * and SIGINT finish in-flight requests and close every tenant before exit.
 */
import type { Command } from "commander";
import { pino } from "pino";
import type { ServerSettings } from "../../actions/index.js";
import type { IdentityProviderOptions } from "../../server/auth/providers.js";
import { startServer } from "../../server/start.js";
import { type GlobalOptions, loadApp, openHub, withStorageOptions } from "../context.js";
import { demoDataOf, demoInstructions, seedDemo } from "../demo.js";

interface ServeOptions extends GlobalOptions {
  port: string;
  host: string;
  demo?: boolean;
  public?: string;
}

/** The app definition's server settings as startServer options; --public overrides its folder. */
function serverSettings(settings: ServerSettings | undefined, publicDir: string | undefined) {
  const dir = publicDir ?? settings?.public;
  return {
    ...(settings?.collections ? { collections: settings.collections } : {}),
    ...(settings?.signup ? { signup: settings.signup } : {}),
    ...(dir ? { publicDir: dir } : {}),
  };
}

function list(value: string | undefined): string[] | undefined {
  const items = value
    ?.split(",")
    .map((item) => item.trim())
    .filter(Boolean);
  return items?.length ? items : undefined;
}

/** One external identity provider from TENANTBASE_AUTH_* variables, if configured. */
export function identityProviderFromEnv(env: NodeJS.ProcessEnv): IdentityProviderOptions[] {
  const issuer = env.TENANTBASE_AUTH_ISSUER;
  if (!issuer) return [];
  const audience = list(env.TENANTBASE_AUTH_AUDIENCE);
  return [
    {
      issuer,
      ...(audience ? { audience } : {}),
      ...(env.TENANTBASE_AUTH_SECRET ? { secret: env.TENANTBASE_AUTH_SECRET } : {}),
      ...(env.TENANTBASE_AUTH_JWKS_URL ? { jwksUrl: env.TENANTBASE_AUTH_JWKS_URL } : {}),
      ...(env.TENANTBASE_AUTH_TENANT_CLAIM
        ? { tenantClaim: env.TENANTBASE_AUTH_TENANT_CLAIM }
        : {}),
      ...(env.TENANTBASE_AUTH_ROLE_CLAIM ? { roleClaim: env.TENANTBASE_AUTH_ROLE_CLAIM } : {}),
    },
  ];
}

function portOf(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error("--port must be a whole number from 0 to 65535");
  }
  return port;
}

export function registerServe(program: Command): void {
  withStorageOptions(program.command("serve"))
    .description("run the HTTP server (PocketBase-compatible API, one database per tenant)")
    .option(
      "--port <port>",
      "port to listen on (env TENANTBASE_PORT)",
      process.env.TENANTBASE_PORT ?? "8090",
    )
    .option(
      "--host <host>",
      "address to listen on (env TENANTBASE_HOST)",
      process.env.TENANTBASE_HOST ?? "127.0.0.1",
    )
    .option("--public <dir>", "serve this folder's files at / (a built web app)")
    .option("--demo", "create the --app definition's demo tenants if missing; print a curl line")
    .action(async (options: ServeOptions) => {
      const env = process.env;
      const port = portOf(options.port);
      const logger = pino({ name: "tenantbase", level: env.TENANTBASE_LOG_LEVEL ?? "info" });
      const app = options.app ? await loadApp(options.app) : {};
      const demo = options.demo ? demoDataOf((app as { demo?: unknown }).demo) : undefined;
      const hub = await openHub(
        { ...options, app: undefined },
        { ...app, onError: (error, context) => logger.error({ err: error }, context) },
      );
      const seeded = demo ? await seedDemo(hub, demo) : [];
      const cors = list(env.TENANTBASE_CORS_ORIGINS);
      const server = await startServer({
        hub,
        port,
        host: options.host,
        adminToken: env.TENANTBASE_ADMIN_TOKEN || undefined,
        jwtSecret: env.TENANTBASE_JWT_SECRET || undefined,
        identityProviders: identityProviderFromEnv(env),
        ...(cors ? { cors: cors.includes("*") ? "*" : cors } : {}),
        ...(env.TENANTBASE_BODY_LIMIT ? { bodyLimitBytes: Number(env.TENANTBASE_BODY_LIMIT) } : {}),
        ...serverSettings((app as { server?: ServerSettings }).server, options.public),
        logger,
        closeHub: true,
      });
      const where = options.databaseUrl ? "PostgreSQL" : `data: ${options.data}`;
      const lines = [`Tenantbase server listening on ${server.url} (${where})`];
      const settings = serverSettings((app as { server?: ServerSettings }).server, options.public);
      if (settings.publicDir) lines.push(`Web app: open ${server.url}/ in a browser`);
      if (server.adminTokenSource !== "given") {
        lines.push(
          `Admin token (${server.adminTokenSource === "generated" ? "generated and stored in the catalog" : "from the catalog"}; set TENANTBASE_ADMIN_TOKEN to choose one): ${server.adminToken}`,
        );
      }
      if (demo) {
        lines.push(
          ...demoInstructions(seeded, demo, {
            url: server.url,
            actions: hub.listActions().map((action) => action.name),
            adminToken: server.adminToken,
            tokenFromEnv: server.adminTokenSource === "given",
          }),
        );
      }
      process.stdout.write(`${lines.join("\n")}\n`);
      const shutdown = (signal: string) => {
        logger.info({ signal }, "shutting down");
        server.close().then(
          () => process.exit(0),
          (error) => {
            logger.error({ err: error }, "shutdown failed");
            process.exit(1);
          },
        );
      };
      process.once("SIGTERM", () => shutdown("SIGTERM"));
      process.once("SIGINT", () => shutdown("SIGINT"));
    });
}
