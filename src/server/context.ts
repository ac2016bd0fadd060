/** The services every route uses, built once by createApp. */
import type { Logger } from "pino";
import type { RecordStore } from "../collections/records.js";
import type { Collections } from "../collections/registry.js";
import type { Tenantbase } from "../core/hub.js";
import type { IdentityProvider } from "./auth/providers.js";
import type { TokenSigner } from "./auth/tokens.js";

export interface ServerContext {
  hub: Tenantbase;
  collections: Collections;
  records: RecordStore;
  adminToken: string;
  signer: TokenSigner;
  providers: readonly IdentityProvider[];
  logger: Logger;
}
