/** The Hono environment: what middleware leaves for the handlers. */
import type { Logger } from "pino";
import type { Caller } from "../collections/rules.js";
import type { TenantHandle } from "../core/handle.js";
import type { Principal } from "./auth/principal.js";

export interface TenantContext {
  key: string;
  handle: TenantHandle;
  caller: Caller;
}

export interface AppEnv {
  Variables: {
    principal: Principal;
    /** Set by the tenant middleware on tenant-scoped routes. */
    tenant: TenantContext;
    log: Logger;
  };
}
