import type { Command } from "commander";
import type { TenantInfo, TenantStatus } from "../../core/catalog.js";
import { type GlobalOptions, openHub, output, table, withStorageOptions } from "../context.js";

function row(t: TenantInfo): string[] {
  return [
    t.key,
    t.status,
    String(t.schemaVersion),
    t.createdAt.toISOString(),
    t.lastActiveAt?.toISOString() ?? "-",
  ];
}

const HEADERS = ["KEY", "STATUS", "VERSION", "CREATED", "LAST ACTIVE"];

export function registerTenants(program: Command): void {
  const tenants = program.command("tenants").description("list, create and delete tenants");

  withStorageOptions(tenants.command("list"))
    .description("list tenants, oldest key first")
    .option("--status <status>", "only tenants in this status (active, suspended, failed, deleted)")
    .option("--limit <n>", "page size", "100")
    .option("--cursor <cursor>", "continue from a previous page")
    .option("--all", "every page")
    .action(
      async (
        options: GlobalOptions & {
          status?: TenantStatus;
          limit: string;
          cursor?: string;
          all?: boolean;
        },
      ) => {
        const hub = await openHub(options);
        try {
          const items: TenantInfo[] = [];
          let cursor: string | null = options.cursor ?? null;
          let nextCursor: string | null = null;
          do {
            const page = await hub.tenants.list({
              limit: Number(options.limit),
              cursor,
              ...(options.status ? { status: options.status } : {}),
            });
            items.push(...page.items);
            nextCursor = page.nextCursor;
            cursor = nextCursor;
          } while (options.all && cursor);
          output(options, { items, nextCursor }, () => {
            const text = table(HEADERS, items.map(row));
            return nextCursor ? `${text}\n(more: --cursor ${nextCursor})` : text;
          });
        } finally {
          await hub.close();
        }
      },
    );

  withStorageOptions(tenants.command("create <key>"))
    .description("create a tenant at the current schema version")
    .option("--metadata <json>", "metadata as a JSON object")
    .action(async (key: string, options: GlobalOptions & { metadata?: string }) => {
      let metadata: Record<string, unknown> | undefined;
      if (options.metadata) {
        try {
          metadata = JSON.parse(options.metadata);
        } catch {
          throw new Error("--metadata must be valid JSON");
        }
      }
      const hub = await openHub(options);
      try {
        const info = await hub.tenants.create(key, metadata ? { metadata } : {});
        output(options, info, () => `created ${JSON.stringify(info.key)} (${info.storageName})`);
      } finally {
        await hub.close();
      }
    });

  withStorageOptions(tenants.command("delete <key>"))
    .description("delete a tenant; a final copy of its database is kept in the archive")
    .action(async (key: string, options: GlobalOptions) => {
      const hub = await openHub(options);
      try {
        const result = await hub.tenants.delete(key);
        output(
          options,
          { key, ...result },
          () => `deleted ${JSON.stringify(key)}; final copy: ${result.archivePath}`,
        );
      } finally {
        await hub.close();
      }
    });

  for (const [name, verb] of [
    ["suspend", "suspended"],
    ["resume", "resumed"],
  ] as const) {
    withStorageOptions(tenants.command(`${name} <key>`))
      .description(
        name === "suspend"
          ? "refuse all access to a tenant"
          : "make a suspended or failed tenant active",
      )
      .action(async (key: string, options: GlobalOptions) => {
        const hub = await openHub(options);
        try {
          await hub.tenants[name](key);
          output(
            options,
            { key, status: (await hub.tenants.get(key)).status },
            () => `${verb} ${JSON.stringify(key)}`,
          );
        } finally {
          await hub.close();
        }
      });
  }

  withStorageOptions(tenants.command("info <key>"))
    .description("show one tenant")
    .action(async (key: string, options: GlobalOptions) => {
      const hub = await openHub(options);
      try {
        const info = await hub.tenants.get(key);
        const size = await hub.tenants.size(key);
        output(options, { ...info, sizeBytes: size }, () =>
          table(
            ["FIELD", "VALUE"],
            [
              ["key", info.key],
              ["storage", info.storageName],
              ["status", info.status],
              ["version", info.schemaVersion],
              ["size", `${size} bytes`],
              ["created", info.createdAt.toISOString()],
              ["metadata", JSON.stringify(info.metadata)],
              ...(info.error ? [["error", info.error]] : []),
            ],
          ),
        );
      } finally {
        await hub.close();
      }
    });
}
