/**
 * Serves the built web app (web/dist) at `/`, with a single-page-app fallback to index.html.
 * The fallback never answers for the API, the WebSocket or the health endpoints: unknown
 * /api/* paths keep their ROUTE_NOT_FOUND JSON answer.
 */
import fs from 'node:fs';
import path from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';
import type { Logger } from 'pino';

/** In any case and behind any number of slashes: `/API/x` and `//api//x` are API paths too. */
const RESERVED = /^\/+(api|ws|healthz|readyz|metrics)(\/|$)/i;
/** What an app route looks like: single slashes between plain URL path characters. */
const APP_ROUTE = /^(\/[A-Za-z0-9._~!$&'()*+,;=:@%-]+)*\/?$/;

/** The app only talks to its own origin; a CSP makes any injected markup inert as a second line of defence. */
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

export async function registerWebApp(app: FastifyInstance, webDir: string | undefined, log: Logger): Promise<void> {
  if (!webDir) return;
  if (!fs.existsSync(path.join(webDir, 'index.html'))) {
    log.warn({ webDir }, 'web app not built (run `npm run build`); serving the API only');
    return;
  }
  await app.register(fastifyStatic, {
    root: webDir,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    // Runs for every file sent, the SPA fallback's index.html included.
    setHeaders: (reply: FastifyReply, filePath: string) => {
      void reply.headers(SECURITY_HEADERS);
      // Vite fingerprints everything under assets/; index.html must always be revalidated.
      void reply.header('cache-control', filePath.includes(`${path.sep}assets${path.sep}`) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
  app.get('/*', { schema: { hide: true } }, (req, reply) => {
    const pathname = req.url.split('?')[0] ?? '/';
    // A missing file (it has an extension) is a real 404, not the app shell.
    // So is anything that is no app route (`//[`, doubled slashes): it gets the JSON envelope.
    if (RESERVED.test(pathname) || !APP_ROUTE.test(pathname) || /\.[^/]*$/.test(pathname)) return reply.callNotFound();
    return reply.sendFile('index.html');
  });
}
