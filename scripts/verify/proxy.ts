/**
 * A TCP proxy between the daemon and one sink server, so the verify run can cut the sink's
 * connections at a chosen moment (both sides reset) and refuse new ones for a while.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private refusing = false;
  private server: Server | undefined;
  port = 0;
  /** Connections accepted so far (to show the daemon really goes through the proxy). */
  accepted = 0;

  constructor(
    readonly name: string,
    private readonly targetHost: string,
    private readonly targetPort: number,
  ) {}

  async start(): Promise<void> {
    const server = createServer((client) => {
      if (this.refusing) {
        client.resetAndDestroy();
        return;
      }
      this.accepted++;
      const upstream = connect({ host: this.targetHost, port: this.targetPort });
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => undefined);
      }
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (addr === null || typeof addr === 'string') throw new Error(`proxy ${this.name}: no port`);
    this.port = addr.port;
  }

  /** Resets every open connection (the daemon sees ECONNRESET mid-request); returns how many. */
  cut(): number {
    const n = this.sockets.size / 2;
    for (const s of this.sockets) s.resetAndDestroy();
    this.sockets.clear();
    return n;
  }

  /** While true, new connections are reset at once (the server looks unreachable). */
  refuse(on: boolean): void {
    this.refusing = on;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
