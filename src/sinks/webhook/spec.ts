/**
 * Config spec of the HTTP webhook sink (every field described; see src/sinks/webhook/README.md).
 * TLS: there is no shared TLS field group in src/config yet, so the webhook declares its own minimal
 * one here (`tls.ca`, `tls.cert`, `tls.key`, `tls.key.password`, `tls.reject.unauthorized`, flat
 * like the other sinks' dotted fields); swap it for the shared group once that exists.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute } from 'node:path';
import { z } from 'zod';
import { secret } from '../../config/secret.js';

const PEM = /-----BEGIN [A-Z0-9 ]+-----/;

/** PEM text of a field: the value itself when inline PEM, else the file at that absolute path (errors name the problem, not the field). */
export function readPem(value: string, what: 'tls.ca' | 'tls.cert' | 'tls.key'): string {
  if (PEM.test(value)) return value;
  // A key's value is a secret: never echo it.
  const shown = what === 'tls.key' ? 'the value' : `"${value}"`;
  if (!isAbsolute(value)) throw new Error(`${shown} is neither PEM text nor an absolute path; write an absolute path, or \${file:…} to inline a file`);
  let text: string;
  try {
    text = readFileSync(value, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (code ?? (e as Error).message);
    throw new Error(`cannot read ${value}: ${why}`);
  }
  if (!PEM.test(text)) throw new Error(`${value} is not a PEM file (no "-----BEGIN …-----" line)`);
  return text;
}

const pemField = (description: string) =>
  z
    .string()
    .min(1)
    .optional()
    .describe(`${description}: PEM text (e.g. \${file:certs/x.pem}) or an absolute path to a PEM file (read when the sink opens, so a restart picks up a rotated file).`);

export const webhookSinkSpec = z
  .object({
    url: z
      .string()
      .regex(/^https?:\/\/[^\s/]+/i, 'use an http:// or https:// URL, e.g. https://hooks.example.com/cdc')
      .describe('Receiver URL; every batch is POSTed here as JSON ({"events": [...]}). https:// for TLS (see tls.*).'),
    'signature.secret': secret(z.string().min(16, 'use at least 16 characters (32 random bytes recommended)'))
      .optional()
      .describe('HMAC-SHA256 key: each request carries `<signature.header>: sha256=<hex HMAC of the exact body bytes>`, so the receiver can verify origin and integrity. Use ${ENV} or ${file:/path}; redacted in logs. Absent: requests are not signed.'),
    'signature.header': z
      .string()
      .regex(/^[A-Za-z0-9-]+$/, 'use a plain header name, e.g. X-Cdc-Signature')
      .default('X-Cdc-Signature')
      .describe('Header that carries the signature.'),
    'request.max.events': z.number().int().positive().default(500).describe('Most events in one POST; a batch from the runtime is split into several POSTs, sent in order.'),
    'request.max.bytes': z
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024)
      .describe('Most body bytes in one POST (an event larger than this is sent alone).'),
    'request.concurrency': z
      .number()
      .int()
      .min(1)
      .max(64)
      .default(1)
      .describe('POSTs in flight per partition batch. Above 1 a batch is split into lanes by event key (a key always in the same lane, each lane in order), so a key\'s events never overtake each other; truncates and keyless events wait for every lane.'),
    'request.timeout.ms': z.number().int().positive().default(10_000).describe('A POST without a complete answer within this time counts as failed and is retried.'),
    'retry.max.attempts': z
      .number()
      .int()
      .min(1)
      .default(5)
      .describe('Attempts of one POST on 5xx, 429, 408, timeouts and connection errors before the batch is handed back to the runtime, which retries it with errors.retry.* backoff (never skipped).'),
    'retry.backoff.initial.ms': z.number().int().positive().default(200).describe('First wait before re-sending a failed POST; doubles per attempt, with ±retry.jitter. A Retry-After answer (seconds or HTTP date) is waited at least.'),
    'retry.backoff.max.ms': z.number().int().positive().default(10_000).describe('Longest backoff between attempts (Retry-After may ask for longer; it is honoured up to retry.after.max.ms).'),
    'retry.jitter': z.number().min(0).max(1).default(0.2).describe('Random fraction (0..1) added to/subtracted from each backoff.'),
    'retry.after.max.ms': z.number().int().positive().default(300_000).describe('Longest Retry-After honoured (a larger value is waited this long).'),
    'tls.ca': pemField('CA certificate(s) the receiver\'s certificate must chain to; default the system CAs'),
    'tls.cert': pemField('Client certificate for mutual TLS (with tls.key)'),
    'tls.key': secret(z.string().min(1))
      .optional()
      .describe('Client private key (with tls.cert): PEM text (e.g. ${file:certs/client.key}) or an absolute path to a PEM file.'),
    'tls.key.password': secret(z.string()).optional().describe('Passphrase of an encrypted tls.key.'),
    'tls.reject.unauthorized': z
      .boolean()
      .default(true)
      .describe('Verify the receiver\'s certificate (chain and host name). false = encryption only, for test receivers with self-signed certificates.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const https = /^https:/i.test(c.url);
    if (!https) {
      for (const k of ['tls.ca', 'tls.cert', 'tls.key', 'tls.key.password'] as const) {
        if (c[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: `${k} is set but url is http:// (plaintext); write https://${c.url.replace(/^http:\/\//i, '')} or remove ${k}` });
      }
    }
    if (c['tls.cert'] !== undefined && c['tls.key'] === undefined) ctx.addIssue({ code: 'custom', path: ['tls.key'], message: 'tls.cert is set but tls.key is not: a client certificate needs its private key' });
    if (c['tls.key'] !== undefined && c['tls.cert'] === undefined) ctx.addIssue({ code: 'custom', path: ['tls.cert'], message: 'tls.key is set but tls.cert is not: give the client certificate too' });
    // The files are checked here (not per field) so each problem is reported once.
    for (const k of ['tls.ca', 'tls.cert', 'tls.key'] as const) {
      const v = c[k];
      if (v === undefined) continue;
      try {
        readPem(v, k);
      } catch (e) {
        ctx.addIssue({ code: 'custom', path: [k], message: (e as Error).message });
      }
    }
  });

export type WebhookSinkConfig = z.infer<typeof webhookSinkSpec>;
