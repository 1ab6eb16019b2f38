/** ClickHouse sink plugin (`type: clickhouse`). */
import { groupIdOf, type SinkPlugin } from '../plugin.js';
import { clickhouseSpec } from './config.js';
import { checkClickHouse } from './check.js';
import { ClickHouseGenerations } from './generations.js';
import { ClickHouseSink } from './sink.js';

export const plugin: SinkPlugin<typeof clickhouseSpec> = {
  type: 'clickhouse',
  description: 'ClickHouse warehouse tables: current state (ReplacingMergeTree by commit LSN) and/or an append-only changelog, exactly once.',
  spec: clickhouseSpec,
  check: checkClickHouse,
  create(config, ctx) {
    // The pipeline's own source connection (with its TLS) unless source.url names another.
    const own = !config['source.url'] && ctx.sourceDatabaseUrl !== undefined;
    return new ClickHouseSink({
      config: own ? { ...config, 'source.url': ctx.sourceDatabaseUrl } : config,
      ...(own && ctx.sourceDatabaseTls ? { sourceTls: ctx.sourceDatabaseTls } : {}),
      group: config['checkpoint.group'] ?? groupIdOf(ctx),
      logger: ctx.logger.child({ sink: ctx.sinkName, type: 'clickhouse' }),
    });
  },
  generations: (config, ctx) => new ClickHouseGenerations(config, config['checkpoint.group'] ?? groupIdOf(ctx)),
};

export { ClickHouseSink } from './sink.js';
export { clickhouseSpec, type ClickHouseConfig } from './config.js';
