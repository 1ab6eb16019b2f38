/** The stack, in start order. */
import { clickhouse } from './clickhouse.js';
import { elasticsearch } from './elasticsearch.js';
import { kafka } from './kafka.js';
import type { Service } from './service.js';

export const services: Service[] = [kafka, clickhouse, elasticsearch];
