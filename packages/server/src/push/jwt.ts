/** Compact JWS (RFC 7515) signing for the provider tokens: RS256 (Google OAuth2) and ES256 (APNs). */
import { createPrivateKey, sign } from 'node:crypto';
import type { KeyObject } from 'node:crypto';

const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** Sign a JWT. ES256 signatures are the raw 64-byte r||s form JWS requires (RFC 7518 §3.4), not DER. */
export function signJwt(
  alg: 'RS256' | 'ES256',
  header: Record<string, unknown>,
  claims: Record<string, unknown>,
  key: KeyObject,
): string {
  const input = `${b64({ alg, typ: 'JWT', ...header })}.${b64(claims)}`;
  const signature =
    alg === 'ES256'
      ? sign('sha256', Buffer.from(input), { key, dsaEncoding: 'ieee-p1363' })
      : sign('sha256', Buffer.from(input), key);
  return `${input}.${signature.toString('base64url')}`;
}

/** A private key from PEM text (a `.p8` file is PKCS#8 PEM). */
export function privateKey(pem: string): KeyObject {
  return createPrivateKey({ key: pem, format: 'pem' });
}
