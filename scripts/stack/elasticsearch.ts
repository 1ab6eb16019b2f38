/**
 * Elasticsearch 8.19 single node from Elastic's jars on Maven Central, booted in-JVM by
 * stack/elasticsearch/src/main/java/dev/cdcfanout/stack/ElasticsearchLauncher.java (compiled by
 * stack/pom.xml into stack/lib/elasticsearch). Loopback only, no security (x-pack is not loaded).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_PORTS, endpoints } from './endpoints.js';
import { mavenEnsure } from './install.js';
import { managedDown, managedUp, type ManagedSpec } from './managed.js';
import { httpGet } from './net.js';
import { STACK_LIB, serviceDir } from './paths.js';
import { runningPid } from './proc.js';
import type { Health, Service } from './service.js';

const DIR = serviceDir('elasticsearch');
const LOG = join(DIR, 'elasticsearch.log');
const LIB = join(STACK_LIB, 'elasticsearch');
const HEAP = process.env.CDC_ES_HEAP ?? '1g';

function address(): { host: string; httpPort: number; transportPort: number } {
  const url = new URL(endpoints().elasticsearchUrl);
  return {
    host: url.hostname,
    httpPort: Number(url.port || DEFAULT_PORTS.elasticsearch),
    transportPort: Number(process.env.CDC_ES_TRANSPORT_PORT ?? 9300),
  };
}

const LOG4J = [
  'status = warn',
  'appender.out.type = Console',
  'appender.out.name = out',
  'appender.out.layout.type = PatternLayout',
  'appender.out.layout.pattern = [%d{ISO8601}][%-5p][%c{1.}] %m%n',
  'rootLogger.level = info',
  'rootLogger.appenderRef.out.ref = out',
  'logger.deprecation.name = org.elasticsearch.deprecation',
  'logger.deprecation.level = error',
  '',
].join('\n');

async function health(): Promise<Health> {
  const { host, httpPort } = address();
  const base = `http://${host}:${httpPort}`;
  const res = await httpGet(`${base}/_cluster/health?wait_for_status=yellow&timeout=1s`);
  if (res === undefined) return { healthy: false, detail: 'no answer on HTTP' };
  if (res.headers.get('x-elastic-product') !== 'Elasticsearch') {
    return { healthy: false, detail: `HTTP ${res.status} without the X-Elastic-Product header: not Elasticsearch?` };
  }
  if (res.status !== 200) return { healthy: false, detail: `cluster health HTTP ${res.status}` };
  const status = (JSON.parse(res.body) as { status?: string }).status ?? '?';
  const info = await httpGet(`${base}/`);
  const version = info?.status === 200 ? ((JSON.parse(info.body) as { version?: { number?: string } }).version?.number ?? '?') : '?';
  return { healthy: true, detail: `version ${version}, cluster ${status}` };
}

function spec(): ManagedSpec {
  const { host, httpPort, transportPort } = address();
  return {
    name: 'elasticsearch',
    host,
    ports: [httpPort, transportPort],
    envHint: 'CDC_ES_URL / CDC_ES_TRANSPORT_PORT',
    logFile: LOG,
    startTimeoutMs: 120_000,
    stopGraceMs: 30_000,
    health,
    async prepare(clean) {
      if (clean) rmSync(join(DIR, 'data'), { recursive: true, force: true });
      mkdirSync(join(DIR, 'data'), { recursive: true });
      mkdirSync(join(DIR, 'tmp'), { recursive: true });
      writeFileSync(join(DIR, 'log4j2.properties'), LOG4J);
    },
    launch() {
      return {
        command: 'java',
        args: [
          `-Xms${HEAP}`,
          `-Xmx${HEAP}`,
          '-XX:+UseG1GC',
          '-XX:MaxMetaspaceSize=256m',
          '-XX:MaxDirectMemorySize=256m',
          '-Djava.awt.headless=true',
          '-Dfile.encoding=UTF-8',
          `-Djava.io.tmpdir=${join(DIR, 'tmp')}`,
          `-Dlog4j2.configurationFile=${join(DIR, 'log4j2.properties')}`,
          '-cp',
          `${LIB}/*`,
          'dev.cdcfanout.stack.ElasticsearchLauncher',
          DIR,
          host,
          String(httpPort),
          String(transportPort),
        ],
        cwd: DIR,
        logFile: LOG,
        pidFile: join(DIR, 'elasticsearch.pid'),
        marker: `dev.cdcfanout.stack.ElasticsearchLauncher ${DIR} `,
      };
    },
  };
}

export const elasticsearch: Service = {
  name: 'elasticsearch',
  get endpoint() {
    const { host, httpPort } = address();
    return `http://${host}:${httpPort}`;
  },
  logFile: LOG,
  async install() {
    mavenEnsure();
  },
  health,
  ownedPid: () => runningPid(spec().launch()),
  up: ({ clean }) => managedUp(spec(), clean),
  down: () => managedDown(spec()),
};
