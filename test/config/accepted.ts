// Configs `validate` must accept — shared by the CLI matrix (validate-matrix.test.ts) and the test
// that every accepted config gets through the code path `run` uses (accepted-start.test.ts).

export const BASE = `name: shop
source:
  topic.prefix: shop
  database.password: \${D7_TEST_PG_PASSWORD:-pw-from-default}
  snapshot.mode: initial
kafka:
  bootstrap.servers: 127.0.0.1:9092
sinks:
  - name: cache
    type: redis
    url: redis://127.0.0.1:6379/0
    tables:
      - public.users
    table.overrides:
      public.users: { keys: ["user:{id}"] }
  - name: search
    type: elasticsearch
    url: http://127.0.0.1:9200
    tables: [public.users]
`;

export interface AcceptedConfig {
  readonly name: string;
  readonly file: string;
  readonly text: string;
  readonly env?: Record<string, string>;
}

export const ACCEPTED: readonly AcceptedConfig[] = [
  { name: 'base', file: 'base.yaml', text: BASE },
  {
    name: 'merge keys, anchors under an x- key',
    file: 'merge.yaml',
    text: `x-es: &es
  type: elasticsearch
  url: http://127.0.0.1:9200
  errors.tolerance: dlq
name: merged
source:
  topic.prefix: merged
  slot.name: merged_slot
  publication.name: merged_pub
  table.include.list: public\\.users,public\\.orders
kafka:
  bootstrap.servers: 127.0.0.1:9092,127.0.0.1:9093
sinks:
  - <<: *es
    name: users
    tables: [public.users]
  - <<: *es
    name: orders
    topics: [merged.public.orders]
    errors.tolerance: skip
`,
  },
  {
    name: 'json',
    file: 'json.json',
    text: JSON.stringify(
      {
        name: 'jsonpipe',
        source: { 'topic.prefix': 'jsonpipe', 'slot.name': 'json_slot', 'publication.name': 'json_pub', 'message.key.columns': 'public\\.log:id,ts' },
        kafka: { 'bootstrap.servers': '[::1]:9092' },
        sinks: [{ name: 'wh', type: 'clickhouse', url: 'http://127.0.0.1:8123', topics: ['jsonpipe.public.orders'] }],
      },
      null,
      2,
    ),
  },
  {
    name: 'mixed-case env var that is set; exclude list; custom routing template with topics, and with tables',
    file: 'env.yaml',
    env: { D7_Mixed_Ok: 'mixed-pw' },
    text: `name: routed
source:
  topic.prefix: routed
  slot.name: routed_slot
  publication.name: routed_pub
  database.password: \${D7_Mixed_Ok}
  table.exclude.list: audit\\..*
  topic.routing.template: "{prefix}.cdc.{schema}_{table}"
kafka:
  bootstrap.servers: localhost:9092
sinks:
  - name: search
    type: elasticsearch
    url: http://127.0.0.1:9200
    topics: [routed.cdc.public_users]
  - name: search-orders
    type: elasticsearch
    url: http://127.0.0.1:9200
    tables: [public.orders]
`,
  },
  {
    name: 'TLS and auth on every connection (no certificate files: system CAs, require)',
    file: 'tls.yaml',
    env: { D7_SASL_PW: 'sasl-pw', D7_REDIS_PW: 'redis-pw' },
    text: `name: secured
source:
  topic.prefix: secured
  slot.name: secured_slot
  publication.name: secured_pub
  database.tls: { mode: require }
kafka:
  bootstrap.servers: 127.0.0.1:9093
  tls: {}
  sasl: { mechanism: scram-sha-256, username: cdc, password: "\${D7_SASL_PW}" }
sinks:
  - name: search
    type: elasticsearch
    url: https://127.0.0.1:9201
    auth: { api.key: aWQ6a2V5 }
    tls: { mode: verify-ca, servername: es.internal }
    tables: [public.users]
  - name: cache
    type: redis
    url: rediss://127.0.0.1:6380/0
    auth: { username: cdc, password: "\${D7_REDIS_PW}" }
    tls: {}
    tables: [public.users]
    table.overrides:
      public.users: { keys: ["user:{id}"] }
  - name: wh
    type: clickhouse
    url: https://127.0.0.1:8443
    auth: { username: cdc, password: x }
    tls: { mode: require }
    topics: [secured.public.users]
`,
  },
  {
    name: 'one vocabulary: include list as a list, tables + table.overrides on every sink, shared truncate.mode and retry, {…} templates',
    file: 'vocab.yaml',
    text: `name: vocab
source:
  topic.prefix: vocab
  slot.name: vocab_slot
  publication.name: vocab_pub
  table.include.list: [public\\.users, public\\.orders]
kafka:
  bootstrap.servers: 127.0.0.1:9092
sinks:
  - name: search
    type: elasticsearch
    url: http://127.0.0.1:9200
    index.name.template: "{prefix}-{table}"
    tables: [public.users, public.orders]
    table.overrides:
      public.users: { fields.exclude: [email] }
    truncate.mode: ignore
  - name: analytics
    type: clickhouse
    url: http://127.0.0.1:8123
    table.name.format: "{schema}__{table}"
    tables: [public.orders]
    table.overrides:
      public.orders: { mode: changelog }
    truncate.mode: mark-deleted
    errors.retry.max.backoff.ms: 5000
  - name: cache
    type: redis
    url: redis://127.0.0.1:6379/2
    table.default: { keys: ["{schema}.{table}:{id}"] }
    table.overrides:
      public.users: { keys: ["user:{id}"], mode: write-through }
    truncate.mode: delete
  - name: hook
    type: webhook
    url: https://hooks.example.com/cdc
    retry.initial.backoff.ms: 100
    retry.max.backoff.ms: 2000
`,
  },
];
