/**
 * One POST with node:http(s): a keep-alive agent per sink (TLS options on it), a hard timeout over
 * the whole exchange, and the answer reduced to what the retry/classification logic needs.
 */
import http from 'node:http';
import https from 'node:https';

export interface PostAnswer {
  readonly status: number;
  /** Retry-After header as sent (seconds or an HTTP date), if any. */
  readonly retryAfter: string | undefined;
  /** First bytes of the response body, for error messages. */
  readonly excerpt: string;
}

export class PostFailed extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PostFailed';
  }
}

export interface Poster {
  post(body: Buffer, headers: Readonly<Record<string, string>>, timeoutMs: number): Promise<PostAnswer>;
  close(): void;
}

export function createPoster(url: string, tls: https.AgentOptions | undefined): Poster {
  const target = new URL(url);
  const secure = target.protocol === 'https:';
  const agent = secure ? new https.Agent({ keepAlive: true, ...tls }) : new http.Agent({ keepAlive: true });
  const request = secure ? https.request : http.request;
  return {
    post(body, headers, timeoutMs) {
      return new Promise<PostAnswer>((resolve, reject) => {
        let settled = false;
        const done = (f: () => void): void => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          f();
        };
        const req = request(target, { method: 'POST', agent, headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            if (size < 2048) chunks.push(c);
            size += c.length;
          });
          res.on('end', () =>
            done(() => {
              const ra = res.headers['retry-after'];
              resolve({ status: res.statusCode ?? 0, retryAfter: Array.isArray(ra) ? ra[0] : ra, excerpt: Buffer.concat(chunks).toString('utf8').slice(0, 300) });
            }),
          );
          res.on('error', (e) => done(() => reject(new PostFailed(`reading the answer failed: ${e.message}`, { cause: e }))));
        });
        const timer = setTimeout(() => {
          done(() => reject(new PostFailed(`no complete answer within ${timeoutMs} ms (request.timeout.ms)`)));
          req.destroy();
        }, timeoutMs);
        req.on('error', (e) => done(() => reject(new PostFailed(e.message, { cause: e }))));
        req.end(body);
      });
    },
    close() {
      agent.destroy();
    },
  };
}

/** Retry-After (delta-seconds or HTTP date) in ms from now; undefined when absent or unparsable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}
