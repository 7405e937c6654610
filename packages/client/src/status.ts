/** The error code for a failed HTTP answer whose body is not a Parley error (e.g. from a proxy). */
import type { ErrorCode } from '@parley/protocol';

export function codeForStatus(status: number): ErrorCode {
  switch (status) {
    case 400:
      return 'invalid_field';
    case 401:
      return 'unauthorized';
    case 403:
      return 'forbidden';
    case 404:
    case 410:
      return 'not_found';
    case 413:
      return 'body_too_large';
    case 416:
      return 'range_not_satisfiable';
    case 429:
      return 'rate_limited';
    default:
      // 502/503/504 from a proxy mean the server is not reachable right now: retryable.
      return status >= 500 ? 'unavailable' : 'internal';
  }
}
