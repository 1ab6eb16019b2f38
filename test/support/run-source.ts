/**
 * Tiny runnable entry for the source (used by the source crash test, test/source/crash-harness.ts; the real CLI lives
 * in src/cli). Config from argv `key=value` pairs with the Debezium names (numbers/booleans parsed),
 * Kafka from CDC_KAFKA_BROKERS (scripts/stack/endpoints.ts). Stops cleanly on SIGTERM/SIGINT.
 *
 *   npx tsx test/support/run-source.ts name=demo topic.prefix=demo slot.name=demo_slot
 */
import { endpoints } from '../../scripts/stack/endpoints.js';
import { kafkaSpec } from '../../src/kafka/config.js';
import { createLogger } from '../../src/observability/logger.js';
import { PostgresSource } from '../../src/source/postgres-source.js';

function parseArgs(argv: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of argv) {
    const i = a.indexOf('=');
    if (i <= 0) throw new Error(`argument "${a}" is not key=value (e.g. slot.name=my_slot)`);
    const k = a.slice(0, i);
    const v = a.slice(i + 1);
    out[k] = /^-?\d+$/.test(v) && !['name', 'topic.prefix', 'database.password'].includes(k) ? Number(v) : v === 'true' ? true : v === 'false' ? false : v;
  }
  return out;
}

const logger = createLogger();
const ep = endpoints();
const pgUrl = new URL(ep.postgresUrl);
const config = {
  'database.hostname': pgUrl.hostname,
  'database.port': Number(pgUrl.port || 5432),
  'database.user': decodeURIComponent(pgUrl.username || 'postgres'),
  'database.dbname': pgUrl.pathname.slice(1) || 'postgres',
  ...(pgUrl.password ? { 'database.password': decodeURIComponent(pgUrl.password) } : {}),
  ...parseArgs(process.argv.slice(2)),
};
const kafkaConfig = kafkaSpec.parse({ 'bootstrap.servers': ep.kafkaBrokers.join(',') });
const source = new PostgresSource(config, kafkaConfig, logger);

let stopping = false;
const stop = (): void => {
  if (stopping) return;
  stopping = true;
  void source.stop().then(() => process.exit(0));
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

try {
  await source.start();
  await source.whenStopped();
  if (!stopping) {
    await source.stop();
    process.exit(0);
  }
} catch (e) {
  logger.fatal({ err: e }, 'source failed');
  process.exit(1);
}
