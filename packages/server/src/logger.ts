import { pino } from 'pino';
import type { Logger as PinoLogger } from 'pino';

export type Logger = PinoLogger;

/** Structured JSON logs on stdout. Passwords and tokens are never passed to the logger. */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'parley' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers["sec-websocket-protocol"]', 'password', 'token'],
      remove: true,
    },
  });
}
