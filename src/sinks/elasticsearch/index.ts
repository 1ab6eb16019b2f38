/** Elasticsearch sink plugin: config spec + factory (registered in src/sinks/registry.ts). */
import type { SinkPlugin } from '../plugin.js';
import { checkElasticsearch } from './check.js';
import { ElasticsearchSink } from './sink.js';
import { elasticsearchSpec } from './spec.js';

export const plugin: SinkPlugin<typeof elasticsearchSpec> = {
  type: 'elasticsearch',
  description: 'Search index per table in Elasticsearch 8: versioned bulk writes, offsets in a checkpoint index.',
  spec: elasticsearchSpec,
  check: checkElasticsearch,
  create: (config, ctx) => new ElasticsearchSink(config, ctx),
};

export { ElasticsearchSink } from './sink.js';
export { elasticsearchSpec, type ElasticsearchConfig } from './spec.js';
