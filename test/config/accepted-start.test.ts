// "validate says ok ⇒ run starts", as far as it can be shown without the services: every config
// `validate` accepts (connectors/ and the accepted variants of the CLI matrix) goes through the
// code path `cdc-fanout run` takes before it connects — loadConfig, buildDefinitions (plugin and
// common sink specs parsed again, topics resolved), and every source and sink handle constructed
// (PostgresSource parses its config, each plugin builds its sink, SinkRunner its Kafka client).
// Nothing here connects. One real `run` of connectors/minimal.yaml against the stack is at the end.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { formatError } from '../../src/config/issues.js';
import { loadConfig } from '../../src/config/load.js';
import { buildDefinitions } from '../../src/daemon/definitions.js';
import { createLogger } from '../../src/observability/logger.js';
import { ACCEPTED } from './accepted.js';

const root = join(import.meta.dirname, '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'cdc-fanout-accepted-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function startsStatically(target: string, env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const loaded = await loadConfig(target, { env, cwd: root });
  expect(loaded.errors.map(formatError), target).toEqual([]);
  expect(loaded.pipelines.length).toBeGreaterThan(0);
  const defs = await buildDefinitions(loaded.pipelines, { logger: createLogger({ level: 'silent' }) });
  const failures: Error[] = [];
  for (const def of defs) {
    const ctx = { onFailure: (err: Error) => failures.push(err) };
    expect(def.source, `${def.name}: role all builds the source`).toBeDefined();
    const source = def.source!(ctx);
    expect(typeof source.start).toBe('function');
    for (const sink of def.sinks) {
      const handle = sink.factory(ctx);
      expect(typeof handle.start, `${def.name}/${sink.name}`).toBe('function');
    }
  }
  expect(failures).toEqual([]);
}

describe('every config validate accepts gets through run\'s start-up path', () => {
  it('connectors/*: each file, and the directory as one daemon would load it', async () => {
    const files = readdirSync(join(root, 'connectors')).filter((f) => /\.(ya?ml|json)$/.test(f));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) await startsStatically(join('connectors', f));
    await startsStatically('connectors');
  });

  it('run --role: sinks builds every sink and no source; source builds the source and no sink', async () => {
    const loaded = await loadConfig('connectors/demo.yaml', { env: process.env, cwd: root });
    expect(loaded.errors.map(formatError)).toEqual([]);
    const logger = createLogger({ level: 'silent' });
    const [sinks] = await buildDefinitions(loaded.pipelines, { logger, role: 'sinks' });
    const [source] = await buildDefinitions(loaded.pipelines, { logger, role: 'source' });
    const [all] = await buildDefinitions(loaded.pipelines, { logger });
    expect(sinks!.source).toBeUndefined();
    expect(sinks!.sinks.map((x) => x.name)).toEqual(loaded.pipelines[0]!.config.sinks.map((x) => x.name));
    expect(sinks!.sinks.length).toBeGreaterThan(0);
    expect(typeof source!.source).toBe('function');
    expect(source!.sinks).toEqual([]);
    expect(all!.sinks.length).toBe(sinks!.sinks.length);
    expect(typeof all!.source).toBe('function');
  });

  it('the accepted variants of the validate matrix (merge keys, JSON, routing templates, env vars)', async () => {
    for (const a of ACCEPTED) {
      const f = join(dir, a.file);
      writeFileSync(f, a.text);
      await startsStatically(f, { ...process.env, ...(a.env ?? {}) });
    }
  });

  it('cdc-fanout run starts connectors/minimal.yaml for real against the stack, then stops cleanly on SIGTERM', { timeout: 180_000 }, async () => {
    // Unique slot, publication and prefix (other tests run concurrently); stream only, no snapshot.
    const id = randomBytes(4).toString('hex');
    const text = readFileSync(join(root, 'connectors', 'minimal.yaml'), 'utf8')
      .replace('name: mini', `name: mini_${id}`)
      .replace('topic.prefix: mini', `topic.prefix: mini_${id}`)
      .replace('slot.name: cdc_fanout_mini', `slot.name: cdc_mini_${id}\n  slot.drop.on.stop: true\n  snapshot.mode: never`)
      .replace('publication.name: cdc_fanout_mini', `publication.name: cdc_mini_${id}`);
    expect(text).toContain(`cdc_mini_${id}`);
    const file = join(dir, `mini-${id}.yaml`);
    writeFileSync(file, text);
    await startsStatically(file);
    const child = spawn(process.execPath, [join(root, 'bin', 'cdc-fanout.js'), 'run', '-c', file, '--admin-port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (b: Buffer) => void (out += b.toString()));
    child.stderr.on('data', (b: Buffer) => void (out += b.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const started = await Promise.race([
        new Promise<boolean>((resolve) => {
          const poll = setInterval(() => {
            if (/"msg":"daemon running"/.test(out)) {
              clearInterval(poll);
              resolve(true);
            }
          }, 200);
          void exited.then(() => {
            clearInterval(poll);
            resolve(false);
          });
        }),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 150_000)),
      ]);
      expect(started, out.slice(-3000)).toBe(true);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited, out.slice(-3000)).toBe(0);
    const pg = (await import('pg')).default;
    const { endpoints } = await import('../../scripts/stack/endpoints.js');
    const client = new pg.Client({ connectionString: endpoints().postgresUrl });
    await client.connect();
    try {
      // Clean up (slot.drop.on.stop is not what this test is about; the walsender may linger a moment).
      await client.query(`DROP PUBLICATION IF EXISTS cdc_mini_${id}`);
      for (let i = 0; i < 50; i++) {
        const r = await client.query('SELECT active FROM pg_replication_slots WHERE slot_name = $1', [`cdc_mini_${id}`]);
        if (r.rowCount === 0) break;
        if (!r.rows[0].active) {
          await client.query('SELECT pg_drop_replication_slot($1)', [`cdc_mini_${id}`]).catch(() => undefined);
          continue;
        }
        await new Promise((res) => setTimeout(res, 200));
      }
    } finally {
      await client.end();
    }
  });
});
