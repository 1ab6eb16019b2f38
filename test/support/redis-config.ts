// Redis sink config input in the one vocabulary (issue 15): the database index is the URL path,
// the consumed tables are a list and their key templates live under table.overrides.

/** `url` with its path set to the database index `db`. */
export function redisDbUrl(url: string, db: number): string {
  const u = new URL(url);
  u.pathname = `/${db}`;
  return u.toString();
}

/** Input for redisSinkSpec.parse: `tables` are the keys of `perTable`, whose values go to table.overrides. */
export function redisSinkInput(url: string, db: number | undefined, perTable: Record<string, unknown>, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { url: db === undefined ? url : redisDbUrl(url, db), tables: Object.keys(perTable), 'table.overrides': perTable, ...extra };
}
