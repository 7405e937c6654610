import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, ParleyError } from '@parley/protocol';
import type { ErrorBody, ErrorCode } from '@parley/protocol';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** Fastify errors with a code and message of their own; any other `FST_*` goes by its status. */
const FASTIFY_ERRORS: Record<string, { code: ErrorCode; message?: string }> = {
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'body_too_large' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'invalid_json', message: 'The body is empty' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { code: 'invalid_json', message: 'Content-Type must be application/json' },
  FST_ERR_NOT_FOUND: { code: 'not_found' },
  FST_ERR_MAX_PARAM_LENGTH: { code: 'invalid_field', message: 'A path parameter is too long' },
  FST_ERR_BAD_URL: { code: 'invalid_field', message: 'The URL is malformed' },
  FST_ERR_INVALID_URL: { code: 'invalid_field', message: 'The URL is malformed' },
};

/**
 * Fastify's own errors become registry codes and messages: Fastify's messages can quote the URL
 * or a header back, and its bodies lack `retryable`.
 */
function fromFastify(code: string, status: number | undefined): ParleyError {
  const known = FASTIFY_ERRORS[code];
  if (known) return new ParleyError(known.code, known.message);
  if (status === 503) return new ParleyError('unavailable');
  if (status === undefined || status < 400 || status >= 500) return new ParleyError('internal');
  // Content-type parsing: a body that is not JSON or does not match its Content-Length.
  return new ParleyError(code.startsWith('FST_ERR_CTP_') ? 'invalid_json' : 'invalid_field');
}

/** The one place where any thrown error becomes a registry code and an HTTP reply. */
export function toParleyError(err: unknown): ParleyError {
  if (err instanceof ParleyError) return err;
  const e = err as Partial<FastifyError> & { statusCode?: number };
  // Schema validation messages name the field and the rule, never the value.
  if (e.validation) return new ParleyError('invalid_field', e.message);
  if (typeof e.code === 'string' && e.code.startsWith('FST_')) return fromFastify(e.code, e.statusCode);
  if (e.statusCode === 413) return new ParleyError('body_too_large');
  if (e.statusCode === 429) return new ParleyError('rate_limited');
  if (err instanceof SyntaxError) return new ParleyError('invalid_json', e.message);
  if (e.statusCode === 404) return new ParleyError('not_found');
  if (e.statusCode !== undefined && e.statusCode >= 400 && e.statusCode < 500) {
    return new ParleyError('invalid_field', e.message);
  }
  return new ParleyError('internal');
}

export function errorHandler(log: Logger, metrics: Metrics) {
  return (err: unknown, _req: FastifyRequest, reply: FastifyReply): void => {
    const pe = toParleyError(err);
    if (pe.code === 'internal') log.error({ err }, 'unhandled error');
    metrics.errors.inc({ code: pe.code });
    const body: ErrorBody = pe.toBody();
    if (pe.retryAfter !== undefined)
      void reply.header('retry-after', String(Math.max(1, Math.ceil(pe.retryAfter))));
    void reply.status(pe.status).send(body);
  };
}

export function errorBody(code: ErrorCode): ErrorBody {
  return { code, message: ERRORS[code].message, retryable: ERRORS[code].retryable };
}

/**
 * Answers what Node rejects before Fastify sees a request (a malformed request line or
 * headers, headers too large, a request timeout), then closes the connection: a registry body
 * for a malformed request, a bare status line otherwise, never Fastify's own body.
 */
export function clientErrorHandler(err: Error & { code?: string }, socket: Socket): void {
  // A reset connection has nobody left to answer.
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  if (socket.writable) {
    if (err.code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      socket.write('HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
    } else if (err.code === 'HPE_HEADER_OVERFLOW') {
      socket.write(
        'HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
      );
    } else {
      const body = JSON.stringify(errorBody('invalid_field'));
      socket.write(
        `HTTP/1.1 400 Bad Request\r\nContent-Type: application/json; charset=utf-8\r\n` +
          `Content-Length: ${Buffer.byteLength(body)}\r\nCache-Control: no-store\r\n` +
          `X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n${body}`,
      );
    }
  }
  socket.destroy(err);
}
