/** The source connection as a libpq URL, for sinks that read the source catalog (daemon and rebuild). */
import type { PipelineConfig } from '../config/schema.js';
import { parseHostEntry } from '../source/config.js';

/** The pipeline's source database as a libpq URL (secrets included: never log it). */
export function sourceDatabaseUrl(source: PipelineConfig['source']): string {
  const u = new URL('postgres://localhost');
  // database.hosts: the first server (the catalog reads work on a standby too).
  const first = source['database.hosts'] ? parseHostEntry(source['database.hosts'].split(',')[0] ?? '', source['database.port']) : null;
  u.hostname = first?.host ?? source['database.hostname'];
  u.port = String(first?.port ?? source['database.port']);
  u.username = encodeURIComponent(source['database.user']);
  if (source['database.password']) u.password = encodeURIComponent(source['database.password']);
  u.pathname = `/${encodeURIComponent(source['database.dbname'])}`;
  return u.toString();
}
