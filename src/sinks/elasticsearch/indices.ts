/**
 * Creates a table's index on first sight: settings/mappings from the configured JSON files, plus
 * `index.gc_deletes` so delete tombstones keep their version long enough for replays (see spec).
 * Without a mappings file the index maps dynamically, so new source columns flow in by themselves.
 * A name that is an alias (after `cdc-fanout rebuild`) is written through: its generation exists.
 */
import { readFileSync } from 'node:fs';
import type { Client } from '@elastic/elasticsearch';
import { responseErrorType, toSinkError } from './errors.js';

type JsonObject = Record<string, unknown>;

/** Reads a JSON object file; `unwrap` drops a top-level wrapper key (e.g. {"settings": {...}}). */
export function readJsonObject(path: string, field: string, unwrap: string): JsonObject {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new Error(`${field}: cannot read ${path} (${(error as Error).message})`, { cause: error });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new Error(`${field}: ${path} is not valid JSON (${(error as Error).message})`, { cause: error });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error(`${field}: ${path} must contain a JSON object`);
  }
  const object = value as JsonObject;
  const inner = object[unwrap];
  return Object.keys(object).length === 1 && typeof inner === 'object' && inner !== null ? (inner as JsonObject) : object;
}

export interface IndexTemplate {
  readonly settings: JsonObject;
  readonly mappings: JsonObject | undefined;
}

export class IndexManager {
  private readonly known = new Set<string>();
  /** Indices Elasticsearch refused to create (bad name, …): records for them are rejected. */
  private readonly refused = new Map<string, string>();

  constructor(
    private readonly client: Client,
    private readonly url: string,
    private readonly templateFor: (index: string) => IndexTemplate,
  ) {}

  /** Why `index` cannot be written (records are rejected), or undefined once it exists. */
  refusal(index: string): string | undefined {
    return this.refused.get(index);
  }

  private async isAlias(name: string): Promise<boolean> {
    try {
      return await this.client.indices.existsAlias({ name });
    } catch {
      return false;
    }
  }

  async ensure(index: string): Promise<void> {
    if (this.known.has(index) || this.refused.has(index)) return;
    const { settings, mappings } = this.templateFor(index);
    try {
      await this.client.indices.create({ index, settings, ...(mappings ? { mappings } : {}) });
    } catch (error) {
      const type = responseErrorType(error);
      if (type === 'resource_already_exists_exception') {
        this.known.add(index);
        return;
      }
      const sinkError = toSinkError(error, `creating index ${index}`, this.url);
      // The name is an alias (a rebuilt generation, docs/rebuild.md): writes go to its write index.
      if (type === 'invalid_index_name_exception' && (await this.isAlias(index))) {
        this.known.add(index);
        return;
      }
      if (type === 'invalid_index_name_exception') {
        this.refused.set(index, sinkError.message);
        return;
      }
      // A bad settings/mappings file is a configuration error: stop with the server's message.
      throw sinkError;
    }
    this.known.add(index);
  }
}
