/**
 * External identity providers: tokens from an auth service (Auth0, Clerk,
 * Keycloak, ...) verified with a shared secret or the provider's JWKS, its
 * issuer and audience. The tenant comes from a configurable claim (e.g.
 * `org_id`), the role from another; rules see them as @request.auth.id
 * (the subject), @request.auth.role and the other claims.
 */
import { createRemoteJWKSet, type JWTPayload, type JWTVerifyGetKey, jwtVerify } from "jose";

export interface IdentityProviderOptions {
  /** A label for logs. Default: the issuer. */
  name?: string;
  /** The `iss` its tokens carry; also how a token finds its provider. */
  issuer: string;
  /** Accepted `aud` values (recommended). */
  audience?: string | string[];
  /** HMAC shared secret (HS256/384/512)... */
  secret?: string;
  /** ...or the provider's JWKS URL (RS*, PS*, ES*, EdDSA). */
  jwksUrl?: string;
  /** Accepted algorithms; defaults follow the key kind. */
  algorithms?: string[];
  /** Claim holding the tenant key. Default "tenant". */
  tenantClaim?: string;
  /** Claim holding the user's role. Default "role". */
  roleClaim?: string;
}

export interface ExternalIdentity {
  provider: string;
  tenant: string;
  id: string;
  role: unknown;
  claims: JWTPayload;
}

const ASYMMETRIC = [
  "RS256",
  "RS384",
  "RS512",
  "PS256",
  "PS384",
  "PS512",
  "ES256",
  "ES384",
  "ES512",
  "EdDSA",
];
const SYMMETRIC = ["HS256", "HS384", "HS512"];

export class IdentityProvider {
  readonly name: string;
  readonly issuer: string;
  readonly #options: IdentityProviderOptions;
  readonly #key: Uint8Array | JWTVerifyGetKey;
  readonly #algorithms: string[];

  constructor(options: IdentityProviderOptions) {
    if (!options.issuer) throw new TypeError("an identity provider needs an issuer");
    if (Boolean(options.secret) === Boolean(options.jwksUrl)) {
      throw new TypeError(`identity provider ${options.issuer}: give either secret or jwksUrl`);
    }
    this.#options = options;
    this.name = options.name ?? options.issuer;
    this.issuer = options.issuer;
    if (options.secret) {
      this.#key = new TextEncoder().encode(options.secret);
      this.#algorithms = options.algorithms ?? SYMMETRIC;
      if (this.#algorithms.some((alg) => !SYMMETRIC.includes(alg))) {
        throw new TypeError(
          `identity provider ${options.issuer}: a secret only verifies HS* tokens`,
        );
      }
    } else {
      this.#key = createRemoteJWKSet(new URL(options.jwksUrl!));
      this.#algorithms = options.algorithms ?? ASYMMETRIC;
      if (this.#algorithms.some((alg) => !ASYMMETRIC.includes(alg))) {
        throw new TypeError(
          `identity provider ${options.issuer}: a JWKS only verifies asymmetric tokens`,
        );
      }
    }
  }

  /** Verifies the token; throws when anything is wrong, including a missing tenant claim. */
  async verify(token: string): Promise<ExternalIdentity> {
    const { payload } = await jwtVerify(token, this.#key as any, {
      issuer: this.issuer,
      algorithms: this.#algorithms,
      requiredClaims: ["exp", "sub"],
      ...(this.#options.audience ? { audience: this.#options.audience } : {}),
    });
    const tenant = payload[this.#options.tenantClaim ?? "tenant"];
    if (typeof tenant !== "string" || tenant === "") {
      throw new Error(`the token has no ${this.#options.tenantClaim ?? "tenant"} claim`);
    }
    return {
      provider: this.name,
      tenant,
      id: payload.sub!,
      role: payload[this.#options.roleClaim ?? "role"] ?? null,
      claims: payload,
    };
  }
}
