/** The Redis cache-invalidation sink plugin (registered as type "redis"). */
import { groupIdOf, type SinkPlugin } from '../plugin.js';
import { checkRedis } from './check.js';
import { RedisGenerations } from './generations.js';
import { RedisSink } from './sink.js';
import { redisSinkSpec } from './spec.js';

export { RedisSink } from './sink.js';
export { redisSinkSpec, type RedisSinkConfig } from './spec.js';
export { validateTemplates } from './templates.js';

export const plugin: SinkPlugin<typeof redisSinkSpec> = {
  type: 'redis',
  description: 'Invalidates (UNLINK), writes through (version-guarded SET) or publishes cache keys computed from key templates, exactly once via MULTI/EXEC with the offsets.',
  spec: redisSinkSpec,
  check: checkRedis,
  create(config, ctx) {
    const group = groupIdOf(ctx);
    return new RedisSink(config, config['offsets.key'] ?? `cdc:offsets:${group}`, ctx.logger.child({ sink: ctx.sinkName, type: 'redis' }), group);
  },
  generations(config, ctx) {
    return new RedisGenerations(config, groupIdOf(ctx), ctx.logger.child({ sink: ctx.sinkName, type: 'redis' }));
  },
};
