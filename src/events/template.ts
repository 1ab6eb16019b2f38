/**
 * The one template syntax of every name the config derives per table (topic routing, transaction
 * and message topics, Elasticsearch index names, ClickHouse table names, Redis keys): `{name}`
 * placeholders. `${…}` is never a template: it is config interpolation only (`${ENV}`,
 * `${file:…}`, src/config/interpolate.ts), so the two cannot be confused. Earlier releases wrote
 * `${prefix}`-style placeholders; `oldTemplateSyntax` gives the rewrite for the error message.
 */

/** Placeholders of table-derived names (Redis key templates use `{column}` instead, plus `{schema}`/`{table}` in `table.default`). */
export const TEMPLATE_NAMES = ['prefix', 'db', 'schema', 'table', 'topic'] as const;

const OLD = /\$\{(prefix|db|schema|table|topic)\}/g;
const ANY = /\{([^{}]*)\}/g;

/** The template rewritten to `{name}` syntax when it uses the old `${name}` form, else undefined. */
export function oldTemplateSyntax(template: string): string | undefined {
  return OLD.test(template) ? template.replace(OLD, '{$1}') : undefined;
}

/** The message for a template written in the old syntax. */
export function oldSyntaxMessage(template: string, rewritten: string): string {
  return `"${template}" uses the \${…} template syntax of earlier releases; templates write {name} (\${…} is only for environment variables and files): write "${rewritten}"`;
}

/** Why `template` is not a valid template over `allowed` placeholders (old syntax, unknown name), or undefined. */
export function templateProblem(template: string, allowed: readonly string[]): string | undefined {
  const rewritten = oldTemplateSyntax(template);
  if (rewritten !== undefined) return oldSyntaxMessage(template, rewritten);
  for (const m of template.matchAll(ANY)) {
    const name = m[1] as string;
    if (!allowed.includes(name)) return `unknown placeholder "{${name}}" in "${template}" (allowed: ${allowed.map((a) => `{${a}}`).join(', ')})`;
  }
  return undefined;
}

/** Replaces each `{name}` with its value (names without a value stay as written). */
export function renderTemplate(template: string, vars: Readonly<Record<string, string>>): string {
  return template.replace(ANY, (m, name: string) => vars[name] ?? m);
}
