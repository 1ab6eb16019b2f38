/**
 * The source connection as a libpq URL, for sinks that read the source catalog: the daemon, rebuild
 * and `validate --online` all build it here, so a check sees the servers the daemon would use.
 */
import { parseHostEntry, type SourceConfig } from './config.js';

/**
 * The pipeline's source database as a libpq URL (secrets included: never log it). With
 * database.hosts, every server in libpq's multi-host form (`postgres://u@h1:5432,h2:5433/db`): the
 * catalog reads work on a primary or a standby, and after a failover the first listed may be gone.
 */
export function sourceDatabaseUrl(source: Pick<SourceConfig, 'database.hostname' | 'database.port' | 'database.user' | 'database.password' | 'database.dbname' | 'database.hosts'>): string {
  const u = new URL('postgres://localhost');
  u.hostname = source['database.hostname'];
  u.port = String(source['database.port']);
  u.username = encodeURIComponent(source['database.user']);
  if (source['database.password']) u.password = encodeURIComponent(source['database.password']);
  u.pathname = `/${encodeURIComponent(source['database.dbname'])}`;
  const hosts = (source['database.hosts'] ?? '')
    .split(',')
    .map((e) => parseHostEntry(e, source['database.port']))
    .filter((h) => h !== null);
  if (hosts.length === 0) return u.toString();
  const authority = hosts.map((h) => `${h.host.includes(':') ? `[${h.host}]` : h.host}:${h.port}`).join(',');
  const userinfo = `${u.username}${u.password ? `:${u.password}` : ''}@`;
  return `postgres://${userinfo}${authority}${u.pathname}${u.search}`;
}
