// The ClickHouse sink's online check (validate --online) against the real server: a session that
// can write passes; a read-only one (readonly=1, here set through the URL as a user's profile would)
// is an error at the sink's url naming the user and the fix.
import { describe, expect, it } from 'vitest';
import { endpoints } from '../../scripts/stack/endpoints.js';
import { plugin } from '../../src/sinks/clickhouse/index.js';

const ctx = { pipeline: 'chk', sinkName: 'analytics', topicPrefix: 'chk', groupId: 'g', path: ['sinks', 0], tables: [], topicOf: (t: string) => `chk.${t}`, database: 'postgres', catalog: null, timeoutMs: 10_000 };

describe('clickhouse online check: write access', () => {
  it('passes for a session that can write', async () => {
    const report = await plugin.check!(plugin.spec.parse({ url: endpoints().clickhouseUrl, database: 'cdc_check_rw' }), ctx);
    expect(report.version).toMatch(/^ClickHouse \d+\./);
    expect(report.findings).toEqual([]);
  });

  it('reports a read-only session as an error with the fix', async () => {
    const url = new URL(endpoints().clickhouseUrl);
    url.searchParams.set('ch_readonly', '1');
    const report = await plugin.check!(plugin.spec.parse({ url: url.toString(), database: 'cdc_check_ro' }), ctx);
    expect(report.findings).toHaveLength(1);
    expect(report.findings[0]).toMatchObject({ severity: 'error', path: ['sinks', 0, 'url'] });
    expect(report.findings[0]?.message).toContain('runs user "default"\'s queries read-only (readonly=1): the sink could not create database cdc_check_ro and its tables, or insert');
    expect(report.findings[0]?.fix).toContain('GRANT CREATE DATABASE, CREATE TABLE, CREATE VIEW, ALTER, INSERT, SELECT ON cdc_check_ro.* TO default');
  });
});
