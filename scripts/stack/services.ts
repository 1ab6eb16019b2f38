/** The stack, in start order. */
import { clickhouse } from './clickhouse.js';
import { elasticsearch } from './elasticsearch.js';
import { kafka } from './kafka.js';
import { postgres } from './postgres.js';
import { redis } from './redis.js';
import type { Service } from './service.js';

export const services: Service[] = [postgres, redis, kafka, clickhouse, elasticsearch];
