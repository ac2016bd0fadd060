/**
 * The admin token and the JWT secret: given (options or env), or generated
 * on first start and kept in the catalog's settings (for SQLite that is
 * `<data>/catalog.db`), so restarts keep working tokens.
 */
import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import type { Tenantbase } from "../core/hub.js";

interface SettingsSchema {
  settings: { name: string; value: string; updated_at: number };
}

export type SecretSource = "given" | "stored" | "generated";

async function storedOrGenerated(
  hub: Tenantbase,
  name: string,
  generate: () => string,
): Promise<{ value: string; source: SecretSource }> {
  const db = hub.catalog.db as unknown as Kysely<SettingsSchema>;
  const read = () =>
    db.selectFrom("settings").select("value").where("name", "=", name).executeTakeFirst();
  const existing = await read();
  if (existing) return { value: existing.value, source: "stored" };
  const value = generate();
  // Another process may generate one at the same time: the first stored wins.
  await db
    .insertInto("settings")
    .values({ name, value, updated_at: Date.now() })
    .onConflict((oc) => oc.column("name").doNothing())
    .execute();
  const stored = await read();
  return stored!.value === value
    ? { value, source: "generated" }
    : { value: stored!.value, source: "stored" };
}

export interface ServerSecrets {
  adminToken: string;
  adminTokenSource: SecretSource;
  jwtSecret: string;
}

export async function resolveSecrets(
  hub: Tenantbase,
  given: { adminToken?: string | undefined; jwtSecret?: string | undefined },
): Promise<ServerSecrets> {
  await hub.ready();
  const admin = given.adminToken
    ? { value: given.adminToken, source: "given" as const }
    : await storedOrGenerated(
        hub,
        "admin_token",
        () => `tb_${randomBytes(24).toString("base64url")}`,
      );
  const jwt = given.jwtSecret
    ? { value: given.jwtSecret }
    : await storedOrGenerated(hub, "jwt_secret", () => randomBytes(48).toString("base64url"));
  return { adminToken: admin.value, adminTokenSource: admin.source, jwtSecret: jwt.value };
}
