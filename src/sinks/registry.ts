/**
 * Sink registry: config `type` → SinkPlugin, imported lazily so a pipeline only loads the clients
 * it uses. Adding a sink = a folder src/sinks/<type>/ exporting `plugin` + one line here.
 */
import type { SinkPlugin } from './plugin.js';

// Module specifiers kept as data (not literal import() calls) so a sink folder that is not built yet
// does not break type-checking of the rest; test/sinks/registry.test.ts loads every entry.
const modules = {
  elasticsearch: './elasticsearch/index.js',
  clickhouse: './clickhouse/index.js',
  redis: './redis/index.js',
  webhook: './webhook/index.js',
} as const;

const loaders: Record<keyof typeof modules, () => Promise<{ plugin: SinkPlugin }>> = {
  elasticsearch: () => import(modules.elasticsearch) as Promise<{ plugin: SinkPlugin }>,
  clickhouse: () => import(modules.clickhouse) as Promise<{ plugin: SinkPlugin }>,
  redis: () => import(modules.redis) as Promise<{ plugin: SinkPlugin }>,
  webhook: () => import(modules.webhook) as Promise<{ plugin: SinkPlugin }>,
};

export type SinkType = keyof typeof modules;

/** The registered sink types, in a stable order. */
export const sinkTypes: readonly SinkType[] = Object.keys(modules) as SinkType[];

export function isSinkType(type: string): type is SinkType {
  return Object.hasOwn(modules, type);
}

/** The plugin for a config `type`; unknown types fail with the list of known ones. */
export async function loadSinkPlugin(type: string): Promise<SinkPlugin> {
  if (!isSinkType(type)) {
    throw new Error(`unknown sink type "${type}"; known types: ${sinkTypes.join(', ')}`);
  }
  const mod = await loaders[type]();
  if (mod.plugin.type !== type) throw new Error(`sink plugin module for "${type}" exports a plugin of type "${mod.plugin.type}"`);
  return mod.plugin;
}

/** Every plugin (type, description, spec), e.g. to compose the config schema or the docs. */
export async function loadAllSinkPlugins(): Promise<SinkPlugin[]> {
  return Promise.all(sinkTypes.map((t) => loadSinkPlugin(t)));
}
