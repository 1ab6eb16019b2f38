/**
 * Heartbeat: every `heartbeat.interval.ms`, send a standby status update (the streaming source
 * decides which LSN is safe to confirm) and run the optional `heartbeat.action.query` on a normal
 * connection — e.g. an UPDATE of a small captured table, so that when captured tables are idle but
 * the server is busy elsewhere, a change flows through the pipeline and the slot's
 * confirmed_flush_lsn advances (WAL can be recycled).
 */
import pg from 'pg';
import type { Logger } from '../observability/logger.js';

export class Heartbeat {
  private timer: NodeJS.Timeout | null = null;
  private client: pg.Client | null = null;
  private running = false;

  constructor(
    private readonly intervalMs: number,
    private readonly actionQuery: string | undefined,
    private readonly clientConfig: pg.ClientConfig,
    private readonly statusUpdate: () => Promise<void>,
    private readonly logger: Logger,
  ) {}

  start(): void {
    if (this.intervalMs <= 0 || this.timer) return;
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  private async beat(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.statusUpdate();
      if (this.actionQuery) {
        if (!this.client) {
          this.client = new pg.Client(this.clientConfig);
          this.client.on('error', () => undefined);
          await this.client.connect();
        }
        await this.client.query(this.actionQuery);
      }
    } catch (e) {
      this.logger.warn({ err: e }, 'heartbeat failed (will retry next interval)');
      await this.client?.end().catch(() => undefined);
      this.client = null;
    } finally {
      this.running = false;
    }
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    await this.client?.end().catch(() => undefined);
    this.client = null;
  }
}
