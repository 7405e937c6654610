/** Every error Fastify can raise becomes a registry code with a message that quotes nothing back. */
import { errorCodes } from 'fastify';
import { describe, expect, it } from 'vitest';
import { ERRORS } from '@parley/protocol';
import { toParleyError } from '../../../packages/server/src/http/errors.js';

const MARKER = '/v1/users/uuuuuuuuuuuu-marker';

const constructors = Object.entries(errorCodes).filter(
  ([code, ctor]) => code.startsWith('FST_') && typeof ctor === 'function',
);

describe('toParleyError of Fastify errors', () => {
  it('knows Fastify error codes', () => {
    expect(constructors.length).toBeGreaterThan(50);
  });

  it.each(constructors)('%s maps to a registry code without echoing its input', (code, ctor) => {
    const err = new (ctor as new (...args: string[]) => Error & { statusCode?: number })(
      MARKER,
      MARKER,
      MARKER,
    );
    const pe = toParleyError(err);
    expect(Object.keys(ERRORS)).toContain(pe.code);
    expect(pe.message).not.toContain('marker');
    const status = err.statusCode ?? 500;
    if (status === 503) expect(pe.code).toBe('unavailable');
    else if (status >= 500) expect(pe.code).toBe('internal');
    else expect(pe.status).toBeGreaterThanOrEqual(400);
    expect(pe.status < 500).toBe(status < 500);
  });

  it.each([
    ['FST_ERR_MAX_PARAM_LENGTH', 'invalid_field', 400],
    ['FST_ERR_BAD_URL', 'invalid_field', 400],
    ['FST_ERR_CTP_BODY_TOO_LARGE', 'body_too_large', 413],
    ['FST_ERR_CTP_INVALID_MEDIA_TYPE', 'invalid_json', 400],
    ['FST_ERR_CTP_INVALID_JSON_BODY', 'invalid_json', 400],
    ['FST_ERR_NOT_FOUND', 'not_found', 404],
  ] as const)('%s is %s (%i)', (code, parley, status) => {
    const Ctor = errorCodes[code] as unknown as new (...args: string[]) => Error;
    const pe = toParleyError(new Ctor(MARKER));
    expect(pe.code).toBe(parley);
    expect(pe.status).toBe(status);
  });
});
