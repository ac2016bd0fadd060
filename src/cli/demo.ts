/**
 * `tenantbase serve --demo`: creates the tenants of the definition's `demo`
 * data that do not exist yet, by calling its actions as a superuser, and
 * says how to call them with curl.
 */
import type { DemoData, DemoStep } from "../actions/index.js";
import { isTenantbaseError } from "../core/errors.js";
import type { Tenantbase } from "../core/hub.js";

export interface DemoTenant {
  key: string;
  /** False when it existed already (left as it is). */
  created: boolean;
}

/** Checks the shape of a definition's `demo` (it comes from user code). */
export function demoDataOf(value: unknown): DemoData {
  const demo = value as DemoData | undefined;
  if (
    !demo ||
    typeof demo !== "object" ||
    !demo.tenants ||
    typeof demo.tenants !== "object" ||
    Object.values(demo.tenants).some((steps) => !Array.isArray(steps))
  ) {
    throw new Error(
      "--demo needs an --app definition with demo data: demo: { tenants: { key: [{ action, input }] } }",
    );
  }
  return demo;
}

export async function seedDemo(hub: Tenantbase, demo: DemoData): Promise<DemoTenant[]> {
  const seeded: DemoTenant[] = [];
  for (const [key, steps] of Object.entries(demo.tenants)) {
    if (await hub.tenants.exists(key)) {
      seeded.push({ key, created: false });
      continue;
    }
    await hub.tenants.create(key, { metadata: { demo: true } });
    for (const step of steps) {
      try {
        await hub.runAction(key, step.action, step.input);
      } catch (error) {
        // Leave no half-seeded tenant behind: the next start tries again.
        await hub.tenants.delete(key).catch(() => {});
        const reason = isTenantbaseError(error)
          ? `${error.code}: ${error.message} ${JSON.stringify(error.details.fields ?? {})}`
          : (error as Error).message;
        throw new Error(
          `demo tenant ${JSON.stringify(key)}: action ${step.action} failed: ${reason}`,
        );
      }
    }
    seeded.push({ key, created: true });
  }
  return seeded;
}

/** A string as one shell word. */
export function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** What serve prints: the demo tenants and a curl line calling one of them. */
export function demoInstructions(
  seeded: DemoTenant[],
  demo: DemoData,
  options: { url: string; actions: string[]; adminToken: string; tokenFromEnv: boolean },
): string[] {
  const lines = [
    `Demo tenants: ${seeded.map((t) => `${JSON.stringify(t.key)} (${t.created ? "created" : "already there"})`).join(", ")}`,
  ];
  const first = seeded[0];
  const example: DemoStep | undefined =
    demo.example ?? (options.actions[0] ? { action: options.actions[0] } : undefined);
  if (first && example) {
    const auth = options.tokenFromEnv
      ? `"Authorization: Bearer $TENANTBASE_ADMIN_TOKEN"`
      : shellQuote(`Authorization: Bearer ${options.adminToken}`);
    const body =
      example.input === undefined ? "" : ` -d ${shellQuote(JSON.stringify(example.input))}`;
    lines.push(
      `Try: curl -s -X POST ${options.url}/api/actions/${encodeURIComponent(example.action)} -H ${auth} -H ${shellQuote(`x-dbname: ${first.key}`)} -H 'Content-Type: application/json'${body}`,
    );
  }
  return lines;
}
