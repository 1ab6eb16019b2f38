/**
 * A real HTTP receiver for the webhook sink's tests: a node:http server on 127.0.0.1 that records
 * every request (raw body, headers, the answer it gave) and, for each request it answers 2xx,
 * applies the events the way the webhook docs ask receivers to:
 *   - dedupe by the event `id` (idempotency key): an id seen before is not applied again;
 *   - per key, apply only an event whose (commit_lsn, seq) is newer than the row's current version
 *     (a delete keeps its version as a tombstone, so an older write cannot resurrect the row);
 *   - an unchanged-TOAST placeholder keeps the stored column value;
 *   - a truncate removes rows older than its position and acts as a watermark for later arrivals.
 * The answer to each request comes from `respond` (default 200), so tests can return 500/429/4xx;
 * `down()` closes the port (connections refused) and `up()` opens it again.
 */
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { UNAVAILABLE_VALUE, type Row } from '../../src/events/change.js';
import type { WebhookEvent } from '../../src/sinks/webhook/index.js';
import { verifySignature } from '../../src/sinks/webhook/index.js';

export interface ReceivedRequest {
  readonly at: number;
  readonly body: Buffer;
  readonly headers: http.IncomingHttpHeaders;
  readonly events: WebhookEvent[];
  /** Status this receiver answered. */
  readonly status: number;
  /** Signature check result (undefined when the receiver has no secret). */
  readonly signatureOk: boolean | undefined;
}

export interface Answer {
  readonly status: number;
  readonly headers?: Record<string, string>;
  readonly body?: string;
}

type Version = readonly [bigint, number];
const newer = (a: Version, b: Version): boolean => a[0] > b[0] || (a[0] === b[0] && a[1] > b[1]);

interface Slot {
  row: Row | null;
  version: Version;
}

export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  /** Every event of every 2xx-answered request, in arrival order (duplicates included). */
  readonly delivered: WebhookEvent[] = [];
  /** Ids applied (first delivery of each). */
  readonly seen = new Set<string>();
  /** Per table (`schema.table`) → JSON key → row slot. */
  private readonly tables = new Map<string, Map<string, Slot>>();
  private readonly truncatedAt = new Map<string, Version>();
  /** How to answer a request (default 200); called before applying. */
  respond: (req: { events: WebhookEvent[]; index: number }) => Answer = () => ({ status: 200 });
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly secret?: string) {}

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  async up(): Promise<void> {
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        let events: WebhookEvent[] = [];
        try {
          events = (JSON.parse(body.toString('utf8')) as { events: WebhookEvent[] }).events;
        } catch {
          res.writeHead(400).end('not JSON');
          return;
        }
        const signatureOk = this.secret === undefined ? undefined : verifySignature(this.secret, body, req.headers['x-cdc-signature'] as string | undefined);
        const answer = signatureOk === false ? { status: 401, body: 'bad signature' } : this.respond({ events, index: this.requests.length });
        this.requests.push({ at: Date.now(), body, headers: req.headers, events, status: answer.status, signatureOk });
        if (answer.status >= 200 && answer.status < 300) for (const e of events) this.apply(e);
        res.writeHead(answer.status, answer.headers).end(answer.body ?? '');
      });
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', () => resolve());
    });
    this.port = (server.address() as AddressInfo).port;
    this.server = server;
  }

  /** Stops answering: the port is closed and open connections are cut. */
  async down(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const sock of this.sockets) sock.destroy();
    await new Promise<void>((r) => s.close(() => r()));
  }

  private apply(e: WebhookEvent): void {
    this.delivered.push(e);
    if (this.seen.has(e.id)) return;
    this.seen.add(e.id);
    const src = e.source as { schema?: string; table?: string } | null;
    const table = `${src?.schema}.${src?.table}`;
    const version: Version = [BigInt(e.commit_lsn), e.seq];
    const rows = this.tables.get(table) ?? new Map<string, Slot>();
    this.tables.set(table, rows);
    if (e.op === 't') {
      for (const [k, slot] of rows) if (newer(version, slot.version)) rows.delete(k);
      const w = this.truncatedAt.get(table);
      if (!w || newer(version, w)) this.truncatedAt.set(table, version);
      return;
    }
    if (e.key === null) return;
    const w = this.truncatedAt.get(table);
    if (w && newer(w, version)) return;
    const k = JSON.stringify(e.key);
    const slot = rows.get(k);
    if (slot && !newer(version, slot.version)) return;
    if (e.op === 'd') {
      rows.set(k, { row: null, version });
      return;
    }
    const after = { ...(e.after as Row) };
    for (const [col, v] of Object.entries(after)) if (v === UNAVAILABLE_VALUE) after[col] = slot?.row?.[col] ?? null;
    rows.set(k, { row: after, version });
  }

  /** Applied rows of `schema.table`, keyed by JSON key; a deleted row is null. */
  state(table: string): Map<string, Row | null> {
    return new Map([...(this.tables.get(table) ?? new Map<string, Slot>())].map(([k, s]) => [k, s.row]));
  }

  /** Current version of each key of a table (`commit_lsn` as bigint). */
  versions(table: string): Map<string, Version> {
    return new Map([...(this.tables.get(table) ?? new Map<string, Slot>())].map(([k, s]) => [k, s.version]));
  }

  reset(): void {
    this.requests.length = 0;
    this.delivered.length = 0;
    this.seen.clear();
    this.tables.clear();
    this.truncatedAt.clear();
    this.respond = () => ({ status: 200 });
  }

  async close(): Promise<void> {
    await this.down();
  }
}
