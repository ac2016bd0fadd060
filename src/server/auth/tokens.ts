/**
 * Tokens of tenant users: HS256 JWTs signed with the server's secret. They
 * carry `sub`, `tenant`, `collection` and `exp` (and what the PocketBase SDK
 * reads: `id`, `type`, `collectionId`, `refreshable`), plus a digest of the
 * record's token key so a password change revokes them.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";

export const TOKEN_ISSUER = "tenantbase";
export const TOKEN_AUDIENCE = "tenantbase";

export interface UserTokenClaims {
  sub: string;
  tenant: string;
  collection: string;
  collectionId: string;
  tk: string;
}

export function tokenKeyDigest(tokenKey: string): string {
  return createHash("sha256").update(tokenKey).digest("base64url").slice(0, 22);
}

/** Constant-time comparison of two secrets of any length. */
export function secretsEqual(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y);
}

export class TokenSigner {
  readonly #key: Uint8Array;
  readonly ttlSeconds: number;

  constructor(secret: string, ttlSeconds: number) {
    this.#key = new TextEncoder().encode(secret);
    this.ttlSeconds = ttlSeconds;
  }

  async sign(claims: Omit<UserTokenClaims, "tk"> & { tokenKey: string }): Promise<string> {
    return new SignJWT({
      tenant: claims.tenant,
      collection: claims.collection,
      collectionId: claims.collectionId,
      id: claims.sub,
      type: "auth",
      refreshable: true,
      tk: tokenKeyDigest(claims.tokenKey),
    })
      .setProtectedHeader({ alg: "HS256", typ: "JWT" })
      .setSubject(claims.sub)
      .setIssuer(TOKEN_ISSUER)
      .setAudience(TOKEN_AUDIENCE)
      .setIssuedAt()
      .setExpirationTime(`${this.ttlSeconds}s`)
      .sign(this.#key);
  }

  /** Verifies signature, algorithm, issuer, audience and expiry; throws otherwise. */
  async verify(token: string): Promise<UserTokenClaims> {
    const { payload } = await jwtVerify(token, this.#key, {
      algorithms: ["HS256"],
      issuer: TOKEN_ISSUER,
      audience: TOKEN_AUDIENCE,
      requiredClaims: ["exp", "sub"],
    });
    const { sub, tenant, collection, collectionId, tk } = payload as Record<string, unknown>;
    if (
      typeof sub !== "string" ||
      typeof tenant !== "string" ||
      typeof collection !== "string" ||
      typeof collectionId !== "string" ||
      typeof tk !== "string"
    ) {
      throw new Error("token claims are incomplete");
    }
    return { sub, tenant, collection, collectionId, tk };
  }
}
