/** Who a request comes from, as established from its credential (never from headers alone). */
import type { JWTPayload } from "jose";

export type Principal =
  | { kind: "anonymous" }
  | { kind: "superuser" }
  /** A record of an auth collection of one tenant, by our own token. */
  | {
      kind: "record";
      tenant: string;
      collectionId: string;
      id: string;
      /** Must match the record's current token key (a new password signs tokens out). */
      tokenKeyHash: string;
    }
  /** A user of an external identity provider, by its verified token. */
  | {
      kind: "external";
      tenant: string;
      id: string;
      role: unknown;
      provider: string;
      claims: JWTPayload;
    };

export const ANONYMOUS_PRINCIPAL: Principal = { kind: "anonymous" };
export const SUPERUSER_PRINCIPAL: Principal = { kind: "superuser" };
