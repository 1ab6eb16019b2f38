/** Topic names: data topics from the routing template, the transaction and message topics. */

import { renderTemplate, templateProblem } from './template.js';

const VALID_TOPIC = /^[A-Za-z0-9._-]{1,249}$/;

export type TopicNamer = (schema: string, table: string) => string;

function checkPlaceholders(template: string, allowed: readonly string[], option: string): void {
  const problem = templateProblem(template, allowed);
  if (problem) throw new Error(`${option}: ${problem}`);
}

function checkTopic(topic: string, option: string, template: string): string {
  if (!VALID_TOPIC.test(topic)) {
    throw new Error(`${option}: "${template}" gives topic "${topic}", which Kafka rejects (use letters, digits, ".", "_", "-"; at most 249 characters)`);
  }
  return topic;
}

/**
 * Compiles `topic.routing.template` (placeholders {prefix}, {schema}, {table}) into a cached
 * namer. Characters Kafka does not allow in a topic name (from schema/table names) become "_".
 */
export function compileTopicNamer(template: string, prefix: string): TopicNamer {
  checkPlaceholders(template, ['prefix', 'schema', 'table'], 'topic.routing.template');
  const cache = new Map<string, string>();
  return (schema, table) => {
    const cacheKey = `${schema}\u0000${table}`;
    let topic = cache.get(cacheKey);
    if (topic === undefined) {
      const name = renderTemplate(template, { prefix, schema, table });
      topic = checkTopic(name.replace(/[^A-Za-z0-9._-]/g, '_'), 'topic.routing.template', template);
      cache.set(cacheKey, topic);
    }
    return topic;
  };
}

/** Resolves a `{prefix}`-only template such as `transaction.topic` / `message.topic`. */
export function prefixedTopic(template: string, prefix: string, option: string): string {
  checkPlaceholders(template, ['prefix'], option);
  return checkTopic(renderTemplate(template, { prefix }), option, template);
}
