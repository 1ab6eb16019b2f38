/**
 * A raw Redis client (RESP2 over a TCP socket) for the verify checker: it deliberately shares no
 * code — and no client library — with the Redis sink it checks.
 */
import { connect, type Socket } from 'node:net';

export type RespValue = string | number | null | RespValue[] | RespError;

export class RespError extends Error {}

interface Pending {
  resolve(v: RespValue): void;
  reject(e: Error): void;
}

export class RawRedis {
  private buf: Buffer = Buffer.alloc(0);
  private readonly pending: Pending[] = [];

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
      this.drain();
    });
    const fail = (err: Error): void => {
      for (const p of this.pending.splice(0)) p.reject(err);
    };
    socket.on('error', fail);
    socket.on('close', () => fail(new Error('Redis connection closed')));
  }

  static async open(url: string): Promise<RawRedis> {
    const u = new URL(url);
    const socket = connect({ host: u.hostname, port: Number(u.port || 6379) });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new RawRedis(socket);
    if (u.password) await client.call(...(u.username ? ['AUTH', decodeURIComponent(u.username)] : ['AUTH']), decodeURIComponent(u.password));
    const db = u.pathname.replace('/', '');
    if (db !== '' && db !== '0') await client.call('SELECT', db);
    return client;
  }

  call(...args: string[]): Promise<RespValue> {
    const parts = [`*${args.length}\r\n`];
    for (const a of args) parts.push(`$${Buffer.byteLength(a)}\r\n${a}\r\n`);
    return new Promise((resolve, reject) => {
      this.pending.push({ resolve, reject });
      this.socket.write(parts.join(''));
    });
  }

  /** All keys matching a glob pattern (SCAN, never KEYS). */
  async scan(pattern: string): Promise<string[]> {
    const out: string[] = [];
    let cursor = '0';
    do {
      const r = (await this.call('SCAN', cursor, 'MATCH', pattern, 'COUNT', '1000')) as [string, string[]];
      cursor = r[0];
      out.push(...r[1]);
    } while (cursor !== '0');
    return [...new Set(out)];
  }

  close(): void {
    this.socket.destroy();
  }

  private drain(): void {
    for (;;) {
      const parsed = parse(this.buf, 0);
      if (parsed === undefined) return;
      this.buf = this.buf.subarray(parsed.end);
      const p = this.pending.shift();
      if (!p) continue;
      if (parsed.value instanceof RespError) p.reject(parsed.value);
      else p.resolve(parsed.value);
    }
  }
}

/** Parses one RESP value at `at`; undefined when the buffer does not hold all of it yet. */
function parse(buf: Buffer, at: number): { value: RespValue; end: number } | undefined {
  const eol = buf.indexOf('\r\n', at);
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[at] as number);
  const line = buf.toString('utf8', at + 1, eol);
  switch (type) {
    case '+':
      return { value: line, end: eol + 2 };
    case '-':
      return { value: new RespError(line), end: eol + 2 };
    case ':':
      return { value: Number(line), end: eol + 2 };
    case '$': {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      if (buf.length < eol + 2 + n + 2) return undefined;
      return { value: buf.toString('utf8', eol + 2, eol + 2 + n), end: eol + 2 + n + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      const items: RespValue[] = [];
      let pos = eol + 2;
      for (let i = 0; i < n; i++) {
        const item = parse(buf, pos);
        if (item === undefined) return undefined;
        items.push(item.value);
        pos = item.end;
      }
      return { value: items, end: pos };
    }
    default:
      throw new Error(`unexpected RESP type byte ${JSON.stringify(type)}`);
  }
}
