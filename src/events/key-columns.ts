/**
 * Debezium's `message.key.columns` setting: which columns form the Kafka message key of a table.
 * A leaf module: events/config.ts validates the setting with it, events/keys.ts applies it.
 */

export interface KeyColumnsRule {
  /** Anchored regular expression over `<schema>.<table>`. */
  readonly table: RegExp;
  readonly columns: readonly string[];
}

/**
 * Parses Debezium's `message.key.columns`: `<table regex>:<col>[,<col>…]` entries separated by
 * `;`, e.g. `public.orders:tenant_id,id;inventory\..*:uuid`.
 */
export function parseMessageKeyColumns(spec: string): KeyColumnsRule[] {
  const rules: KeyColumnsRule[] = [];
  for (const raw of spec.split(';')) {
    const entry = raw.trim();
    if (entry === '') continue;
    const colon = entry.lastIndexOf(':');
    if (colon <= 0 || colon === entry.length - 1) {
      throw new Error(`message.key.columns: entry "${entry}" must look like "<schema>.<table>:<column>[,<column>…]", e.g. "public.orders:id"`);
    }
    const tablePart = entry.slice(0, colon).trim();
    const columns = entry
      .slice(colon + 1)
      .split(',')
      .map((c) => c.trim())
      .filter(Boolean);
    if (columns.length === 0) throw new Error(`message.key.columns: entry "${entry}" lists no column after ":"`);
    let table: RegExp;
    try {
      table = new RegExp(`^(?:${tablePart})$`);
    } catch (e) {
      throw new Error(`message.key.columns: "${tablePart}" is not a valid regular expression (${(e as Error).message})`);
    }
    rules.push({ table, columns });
  }
  return rules;
}
