/**
 * Config spec of the HTTP webhook sink (every field described; see src/sinks/webhook/README.md).
 * TLS is the shared `tls` group (src/spec/groups.ts), as for the other sinks.
 */
import { z } from 'zod';
import { requestTimeoutField, retryShape, tlsField, urlField, urlTlsProblem } from '../../spec/groups.js';
import { secret } from '../../spec/secret.js';

export const webhookSinkSpec = z
  .object({
    url: urlField(['http', 'https'], 'https://hooks.example.com/cdc', 'Every batch is POSTed here as JSON ({"events": [...]}); https:// for TLS (see `tls`).'),
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
    'request.timeout.ms': requestTimeoutField(10_000, 'a POST without a complete answer within this time counts as failed and is retried'),
    'retry.max.attempts': z
      .number()
      .int()
      .min(1)
      .default(5)
      .describe('Attempts of one POST on 5xx, 429, 408, timeouts and connection errors before the batch is handed back to the runtime, which retries it with errors.retry.* backoff (never skipped).'),
    ...retryShape('retry', { initialMs: 200, maxMs: 10_000 }, 'a failed POST (at least a Retry-After answer, up to retry.after.max.ms)'),
    'retry.after.max.ms': z.number().int().positive().default(300_000).describe('Longest Retry-After honoured (a larger value is waited this long).'),
    tls: tlsField('TLS to the receiver (`url` must be https://; an https URL without `tls` is verified against the system CAs): its CA, a client certificate for mutual TLS.'),
  })
  .strict()
  .superRefine((c, ctx) => {
    const problem = urlTlsProblem(c.url, c.tls, 'https');
    if (problem) ctx.addIssue({ code: 'custom', path: [problem.field], message: problem.message });
  });

export type WebhookSinkConfig = z.infer<typeof webhookSinkSpec>;
