import pino, { type DestinationStream, type Logger } from 'pino';

export type { DestinationStream, Logger };

/** Structured JSON logger for one service; every line carries the service name. Lines go to stdout unless a destination is given. */
export function createLogger(service: string, level: string, destination?: DestinationStream): Logger {
  const options = { name: service, level, base: { service }, timestamp: pino.stdTimeFunctions.isoTime };
  return destination ? pino(options, destination) : pino(options);
}
