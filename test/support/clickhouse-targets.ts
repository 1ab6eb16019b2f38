/**
 * The ClickHouse servers the sink tests run against: the stack's server (endpoints().clickhouseUrl,
 * Debian's 18.16) and a current engine (26.x) — chdb behind the HTTP front of
 * test/support/chdb-front.ts, started here as a child process with its own temp data dir — or,
 * with CDC_CLICKHOUSE_MODERN_URL set, an already running modern server instead of chdb.
 *
 * Use with top-level await in a test file, so every target's URL is known when tests are collected:
 *
 *   const targets = await clickhouseTargets();
 *   afterAll(() => stopTargets(targets));
 *   for (const t of targets) describe(`… [${t.name}]`, () => { … t.url … });
 *
 * CDC_CLICKHOUSE_TARGETS=server|modern runs one of them only (default: both).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createClient, type ClickHouseSettings } from '@clickhouse/client';
import { endpoints } from '../../scripts/stack/endpoints.js';

export interface ClickHouseTarget {
  /** `server 18.16.1` / `chdb 26.7.2.1`: for test names. */
  readonly name: string;
  /** A short identifier safe in database/table names (`s18`, `m26`). */
  readonly tag: string;
  readonly url: string;
  readonly version: string;
  /**
   * Settings for the tests' own reads so values print as on 18.16: since 21.9 Decimals print
   * without trailing zeros (`12.5` for a Decimal(8,2) 12.50) unless output_format_decimal_trailing_zeros.
   */
  readonly readSettings: ClickHouseSettings;
  /** Stops what this helper started (nothing for an external server). */
  stop(): Promise<void>;
}

const FRONT = join(import.meta.dirname, 'chdb-front.ts');

async function versionOf(url: string): Promise<string> {
  const c = createClient({ url, log: { level: 127 } });
  try {
    return (await (await c.query({ query: 'SELECT version()', format: 'TabSeparated' })).text()).trim();
  } finally {
    await c.close();
  }
}

const tagOf = (kind: 's' | 'm', version: string): string => `${kind}${version.split('.')[0] ?? ''}`;

function readSettingsOf(version: string): ClickHouseSettings {
  const [major = 0, minor = 0] = version.split('.').map(Number);
  return major > 21 || (major === 21 && minor >= 9) ? { output_format_decimal_trailing_zeros: 1 } : {};
}

/** Starts the chdb front in a child process; resolves once it serves. It exits when this process does (its stdin closes). */
export async function startChdbFrontProcess(): Promise<ClickHouseTarget> {
  const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', FRONT, '--exit-with-stdin'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  const info = await new Promise<{ url: string; version: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the chdb front did not start in 60 s:\n${out}`)), 60_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const line = out.split('\n').find((l) => l.startsWith('{"url"'));
      if (line) {
        clearTimeout(timer);
        resolve(JSON.parse(line) as { url: string; version: string });
      }
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the chdb front exited with code ${code} before serving (is the chdb devDependency installed? npm ci):\n${out}`));
    });
  });
  return {
    name: `chdb ${info.version}`,
    tag: tagOf('m', info.version),
    url: info.url,
    version: info.version,
    readSettings: readSettingsOf(info.version),
    async stop() {
      if (proc.exitCode !== null) return;
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

export async function clickhouseTargets(env: NodeJS.ProcessEnv = process.env): Promise<ClickHouseTarget[]> {
  const which = env.CDC_CLICKHOUSE_TARGETS ?? 'server,modern';
  const wanted = new Set(which.split(',').map((s) => s.trim()));
  for (const w of wanted) if (w !== 'server' && w !== 'modern') throw new Error(`CDC_CLICKHOUSE_TARGETS: unknown target "${w}" (use server, modern or server,modern)`);
  const out: ClickHouseTarget[] = [];
  if (wanted.has('server')) {
    const url = endpoints(env).clickhouseUrl;
    const version = await versionOf(url);
    out.push({ name: `server ${version}`, tag: tagOf('s', version), url, version, readSettings: readSettingsOf(version), stop: async () => undefined });
  }
  if (wanted.has('modern')) {
    const external = env.CDC_CLICKHOUSE_MODERN_URL;
    if (external) {
      const version = await versionOf(external);
      out.push({ name: `server ${version}`, tag: tagOf('m', version), url: external, version, readSettings: readSettingsOf(version), stop: async () => undefined });
    } else out.push(await startChdbFrontProcess());
  }
  return out;
}

export async function stopTargets(targets: readonly ClickHouseTarget[]): Promise<void> {
  await Promise.all(targets.map((t) => t.stop()));
}
