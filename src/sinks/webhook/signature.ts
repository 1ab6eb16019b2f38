/**
 * Request signing: `<signature.header>: sha256=<hex HMAC-SHA256(secret, exact body bytes)>`.
 * Receivers recompute it over the raw body they received (before parsing) and compare in constant
 * time; `verifySignature` is the reference implementation (also used by the tests).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export function signBody(secret: string, body: Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

/** True when `header` is the signature of `body` under `secret` (constant-time comparison). */
export function verifySignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (header === undefined) return false;
  const want = Buffer.from(signBody(secret, body));
  const got = Buffer.from(header);
  return got.length === want.length && timingSafeEqual(got, want);
}
