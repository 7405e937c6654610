import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { ERRORS, ParleyError } from '@parley/protocol';
import type { ErrorBody, ErrorCode } from '@parley/protocol';
import type { Logger } from '../logger.js';
import type { Metrics } from '../metrics.js';

/** The one place where any thrown error becomes a registry code and an HTTP reply. */
export function toParleyError(err: unknown): ParleyError {
  if (err instanceof ParleyError) return err;
  const e = err as Partial<FastifyError> & { statusCode?: number };
  if (e.validation) return new ParleyError('invalid_field', e.message);
  if (e.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || e.statusCode === 413)
    return new ParleyError('body_too_large');
  if (e.statusCode === 429) return new ParleyError('rate_limited');
  if (
    err instanceof SyntaxError ||
    e.code === 'FST_ERR_CTP_INVALID_JSON_BODY' ||
    e.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' ||
    e.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' ||
    e.code === 'FST_ERR_CTP_INVALID_CONTENT_LENGTH'
  ) {
    return new ParleyError('invalid_json', e.message);
  }
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
    void reply.status(pe.status).send(body);
  };
}

export function errorBody(code: ErrorCode): ErrorBody {
  return { code, message: ERRORS[code].message, retryable: ERRORS[code].retryable };
}
