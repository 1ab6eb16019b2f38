/** ClickHouse sink plugin (`type: clickhouse`). */
import { groupIdOf, type SinkPlugin } from '../plugin.js';
import { clickhouseSpec } from './config.js';
import { checkClickHouse } from './check.js';
import { ClickHouseSink } from './sink.js';

export const plugin: SinkPlugin<typeof clickhouseSpec> = {
  type: 'clickhouse',
  description: 'ClickHouse warehouse tables: current state (ReplacingMergeTree by commit LSN) and/or an append-only changelog, exactly once.',
  spec: clickhouseSpec,
  check: checkClickHouse,
  create(config, ctx) {
    return new ClickHouseSink({
      config: config['source.url'] || !ctx.sourceDatabaseUrl ? config : { ...config, 'source.url': ctx.sourceDatabaseUrl },
      group: config['checkpoint.group'] ?? groupIdOf(ctx),
      logger: ctx.logger.child({ sink: ctx.sinkName, type: 'clickhouse' }),
    });
  },
};

export { ClickHouseSink } from './sink.js';
export { clickhouseSpec, type ClickHouseConfig } from './config.js';
