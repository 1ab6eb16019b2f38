/** Elasticsearch sink plugin: config spec + factory (registered in src/sinks/registry.ts). */
import { Client } from '@elastic/elasticsearch';
import { groupIdOf, type SinkPlugin } from '../plugin.js';
import { checkElasticsearch } from './check.js';
import { ElasticsearchGenerations } from './generations.js';
import { clientOptions, ElasticsearchSink } from './sink.js';
import { elasticsearchSpec } from './spec.js';

export const plugin: SinkPlugin<typeof elasticsearchSpec> = {
  type: 'elasticsearch',
  description: 'Search index per table in Elasticsearch 8: versioned bulk writes, offsets in a checkpoint index.',
  spec: elasticsearchSpec,
  check: checkElasticsearch,
  create: (config, ctx) => new ElasticsearchSink(config, ctx),
  generations: (config, ctx) => new ElasticsearchGenerations(new Client(clientOptions(config)), config, groupIdOf(ctx)),
};

export { ElasticsearchSink } from './sink.js';
export { elasticsearchSpec, type ElasticsearchConfig } from './spec.js';
