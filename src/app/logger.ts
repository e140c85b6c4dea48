/** Structured logs (pino). Secrets are redacted by path, and tokens never reach a log line. */
import { pino, type Logger } from 'pino';

export function createLogger(level: string, role: string): Logger {
  return pino({
    level,
    base: { role, pid: process.pid },
    redact: {
      paths: ['password', '*.password', 'token', '*.token', 'req.headers.authorization', 'headers.authorization', 'jwtSecret', '*.jwtSecret'],
      censor: '[redacted]',
    },
  });
}
