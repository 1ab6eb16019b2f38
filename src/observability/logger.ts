/** Structured JSON logs (pino). Every component takes a child logger; secrets never reach a log line. */
import { pino, type Logger as PinoLogger, type LoggerOptions } from 'pino';

export type Logger = PinoLogger;

export function createLogger(options: LoggerOptions = {}): Logger {
  return pino({
    level: process.env.CDC_LOG_LEVEL ?? options.level ?? 'info',
    base: { service: 'cdc-fanout' },
    redact: { paths: ['*.password', '*.token', '*["database.password"]', 'password'], censor: '[redacted]' },
    ...options,
  });
}

/** A logger that drops everything; for unit tests and library use. */
export const silentLogger: Logger = pino({ level: 'silent' });
