/** Daemon-level instruments (supervision and the admin API), on the process registry of metrics.ts. */
import { Counter, Gauge, Histogram } from 'prom-client';
import { registry } from './metrics.js';

const STATES = ['STARTING', 'STANDBY', 'RUNNING', 'PAUSED', 'FAILED', 'RESTARTING', 'STOPPED', 'DISABLED'] as const;

const componentState = new Gauge({
  name: 'cdc_fanout_component_state',
  help: '1 for the current supervision state of a source or sink, 0 for the others',
  labelNames: ['pipeline', 'component', 'state'],
  registers: [registry],
});

export const daemonMetrics = {
  componentState,
  restarts: new Counter({ name: 'cdc_fanout_component_restarts_total', help: 'Restarts of a supervised component (automatic and requested)', labelNames: ['pipeline', 'component'], registers: [registry] }),
  failures: new Counter({ name: 'cdc_fanout_component_failures_total', help: 'Failures of a supervised component', labelNames: ['pipeline', 'component'], registers: [registry] }),
  adminRequests: new Histogram({ name: 'cdc_fanout_admin_request_seconds', help: 'Admin API request latency', labelNames: ['route', 'status'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1], registers: [registry] }),
  pipelines: new Gauge({ name: 'cdc_fanout_pipelines', help: 'Pipelines configured in this daemon', registers: [registry] }),
  setState(pipeline: string, component: string, state: (typeof STATES)[number]): void {
    for (const s of STATES) componentState.set({ pipeline, component, state: s }, s === state ? 1 : 0);
  },
};
