/** The stack, in start order. */
import { kafka } from './kafka.js';
import type { Service } from './service.js';

export const services: Service[] = [kafka];
