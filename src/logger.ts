// The structured logger (pino): one JSON line per event; never tokens or request bodies.
import { pino } from 'pino';

export const logger = pino({
  level: process.env.LOG_LEVEL ?? (process.env.NODE_ENV === 'test' ? 'silent' : 'info'),
  redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization'], remove: true },
});
