import pino, { type Logger } from 'pino';

export type { Logger };

/** Structured JSON logger for one service; every line carries the service name. */
export function createLogger(service: string, level: string): Logger {
  return pino({ name: service, level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime });
}
