/**
 * The HTTP edge: fastify with strict JSON parsing, schema validation, the contract's error
 * envelope for every failure, the OpenAPI document and health endpoints. No business rules.
 */
import { setTimeout } from 'node:timers/promises';
import type { Duplex } from 'node:stream';
import type { TSchema } from '@sinclair/typebox';
import type { ValidateFunction } from 'ajv';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply } from 'fastify';
import swagger from '@fastify/swagger';
import type { Logger } from 'pino';
import { AppError, encodeErrorEnvelope, ERROR_CODES, toAppError } from '../../protocol/index.js';
import type { LogicApi } from '../../logic/api.js';
import type { Config } from '../../config/index.js';
import { coercingAjv, describeErrors, parseJson, strictAjv } from '../validation.js';
import { registerRoutes } from './routes.js';
import { registerWebApp } from './static.js';
import { limitConnections } from './connection-limits.js';
import { writeErrorAnswer } from '../raw-answer.js';

/** The HTTP edge's slice of the configuration (documented in src/config). */
export type HttpConfig = Pick<
  Config['http'],
  'bodyLimitBytes' | 'trustProxy' | 'headersTimeoutMs' | 'requestTimeoutMs' | 'keepAliveTimeoutMs' | 'maxConnections' | 'maxConnectionsPerIp' | 'refusalDelayMs'
> & {
  /** The built web app to serve at `/`; absent or unbuilt: API only. */
  webDir?: string;
};

/** Node's answers to requests it could not parse or that were too slow, in the contract's envelope. */
function answerClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const error =
    err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? new AppError('REQUEST_TIMEOUT')
      : err.code === 'HPE_HEADER_OVERFLOW'
        ? new AppError('HEADERS_TOO_LARGE')
        : new AppError('VALIDATION_ERROR', 'Malformed HTTP request');
  writeErrorAnswer(socket, error);
}

const JSON_TYPE = 'application/json; charset=utf-8';

const DECIMAL = /^(0|[1-9][0-9]*)$/;

/**
 * Wraps a coercing validator so that the text of every integer property is plain decimal digits
 * before it is coerced.
 */
function decimalIntegers(schema: TSchema, validate: ValidateFunction, part: string) {
  const properties = (schema as { properties?: Record<string, { type?: string }> }).properties ?? {};
  const integers = Object.keys(properties).filter((name) => properties[name]?.type === 'integer');
  if (integers.length === 0) return validate;
  // Fastify reads a refusal's details from the validator's own `errors`: the wrapper carries them.
  const checked = Object.assign(
    (data: unknown) => {
      const raw = (data ?? {}) as Record<string, unknown>;
      for (const name of integers) {
        const value = raw[name];
        if (value !== undefined && (typeof value !== 'string' || !DECIMAL.test(value))) {
          return { error: new AppError('VALIDATION_ERROR', `${part}/${name} must be a decimal integer`, { field: name }) };
        }
      }
      const valid = validate(data);
      checked.errors = validate.errors;
      return valid;
    },
    { errors: null as ValidateFunction['errors'] },
  );
  return checked;
}

/** Maps fastify's own errors (parser, limits, validation) onto the contract's codes. */
/** Answers with the contract's error envelope, encoded by the protocol codec. */
function sendError(reply: FastifyReply, status: number, error: { code: string; message: string }): FastifyReply {
  return reply.status(status).type(JSON_TYPE).send(encodeErrorEnvelope(error));
}

function fromFastifyError(err: FastifyError): AppError {
  if (err instanceof AppError) return err;
  if (err.validation) return new AppError('VALIDATION_ERROR', err.message);
  switch (err.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new AppError('PAYLOAD_TOO_LARGE', 'Request body is larger than 64 KiB');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new AppError('VALIDATION_ERROR', 'Content-Type must be application/json');
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new AppError('VALIDATION_ERROR', 'Content-Length does not match the body');
    default:
      break;
  }
  if (err instanceof SyntaxError) return new AppError('INVALID_JSON');
  if (typeof err.statusCode === 'number' && err.statusCode === 413) return new AppError('PAYLOAD_TOO_LARGE');
  if (typeof err.statusCode === 'number' && err.statusCode >= 400 && err.statusCode < 500) {
    return new AppError('VALIDATION_ERROR', 'Malformed request');
  }
  return toAppError(err);
}

export async function buildHttpServer(config: HttpConfig, logic: LogicApi, log: Logger): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: config.bodyLimitBytes,
    trustProxy: config.trustProxy,
    return503OnClosing: true,
    // Slow headers and slow bodies are cut (408) instead of holding a connection forever; Node
    // checks these every `connectionsCheckingInterval`.
    http: {
      headersTimeout: Math.min(config.headersTimeoutMs, config.requestTimeoutMs),
      requestTimeout: config.requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, config.headersTimeoutMs),
    },
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    clientErrorHandler: answerClientError,
    routerOptions: { maxParamLength: 200 },
    // A malformed URL (bad %-escape) gets the contract's envelope, not fastify's own.
    frameworkErrors: (err, _req, reply) => {
      sendError(reply as unknown as FastifyReply, 400, { code: 'VALIDATION_ERROR', message: `Malformed URL (${err.code})` });
    },
  });

  limitConnections(app.server, { maxConnections: config.maxConnections, maxConnectionsPerIp: config.trustProxy ? 0 : config.maxConnectionsPerIp });

  // Bodies: strict (no coercion, no unknown fields). Query and params: coerced from text, but an
  // integer must be written as decimal digits (Number() would also take `1e3`, `0x10`, ` 5`).
  app.setValidatorCompiler(({ schema, httpPart }) =>
    httpPart === 'body' ? strictAjv.compile(schema) : decimalIntegers(schema as TSchema, coercingAjv.compile(schema), httpPart ?? 'querystring'),
  );
  app.setSchemaErrorFormatter((errors, dataVar) => new Error(describeErrors(errors, dataVar)));

  // JSON only; an empty body is an empty object so that optional bodies validate.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, parseJson(body as Buffer, {}));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
  app.addHook('preValidation', async (req) => {
    if (req.body === undefined && (req.method === 'POST' || req.method === 'PUT')) req.body = {};
  });

  app.setErrorHandler(async (err: FastifyError, req, reply) => {
    const appError = fromFastifyError(err);
    if (appError.code === 'INTERNAL_ERROR') req.log.error({ err: appError.cause ?? err, url: req.routeOptions.url }, 'request failed');
    if (appError.retryAfter !== undefined) void reply.header('Retry-After', String(appError.retryAfter));
    // Held, so that a loop on refusals waits instead of spinning the server (at most one held answer
    // per connection: HTTP/1.1 clients wait for it, and connections per address are capped).
    if (appError.code === 'RATE_LIMITED' && config.refusalDelayMs > 0) await setTimeout(config.refusalDelayMs);
    return sendError(reply, ERROR_CODES[appError.code].http, appError);
  });
  app.setNotFoundHandler((req, reply) => {
    sendError(reply, 404, { code: 'ROUTE_NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0]}` });
  });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: {
        title: 'GoChat API',
        version: '1.0.0',
        description: 'HTTP API of GoChat. The WebSocket protocol at /ws is described in docs/protocol.md.',
      },
      components: { securitySchemes: { bearerAuth: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    },
  });

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.get('/healthz', { schema: { hide: true } }, async () => ({ success: true, message: 'OK', data: { status: 'ok' } }));
  app.get('/readyz', { schema: { hide: true } }, async (_req, reply) => {
    try {
      await logic.ready();
      return { success: true, message: 'OK', data: { status: 'ready' } };
    } catch (err) {
      log.warn({ err }, 'not ready');
      return sendError(reply, 503, { code: 'SERVICE_UNAVAILABLE', message: 'Not ready' });
    }
  });

  registerRoutes(app, logic);
  await registerWebApp(app, config.webDir, log);
  return app;
}
