/**
 * Attachments: a tus 1.0.0 upload client
 * over `fetch`, so that the bearer header, the injected `fetch` and the errors work as in every
 * other SDK call (browsers and Node alike).
 */
import { ParleyError, isErrorCode } from '@parley/protocol';
import type { Attachment } from '@parley/protocol';
import { backoffDelay } from './backoff.js';
import { codeForStatus } from './status.js';

/** Options of `ParleyHttp.upload`. */
export interface UploadOptions {
  /** File name, sent as tus metadata `filename`. */
  name: string;
  /** Content type the client believes (the server sniffs the bytes anyway). */
  type?: string;
  /** Bytes the server has confirmed so far, and the total; called at 0 and after each piece. */
  onProgress?: (sent: number, total: number) => void;
  /** Aborting stops the upload and deletes it on the server; the promise rejects with the reason. */
  signal?: AbortSignal;
  /** Bytes per PATCH request. Default 1 MiB. */
  chunkSize?: number;
  /** Network failures in a row (without progress in between) before giving up. Default 5. */
  maxRetries?: number;
}

/** Options of `ParleyHttp.file`. */
export interface FileOptions {
  /** The thumbnail (images with `thumbnail: true`) instead of the file. */
  thumbnail?: boolean;
  /** Bytes `start` to `end` (inclusive; default: to the end): answered 206. */
  range?: { start: number; end?: number };
  /** The `ETag` of a copy already held: an unchanged file answers 304 with no body. */
  ifNoneMatch?: string;
  signal?: AbortSignal;
}

export const DEFAULT_UPLOAD_CHUNK_SIZE = 1024 * 1024;
const TUS_VERSION = '1.0.0';

/** What `upload` needs from `ParleyHttp`. */
export interface UploadTransport {
  baseUrl: string;
  token: string | undefined;
  fetch: (url: string, init: RequestInit) => Promise<Response>;
}

function base64Utf8(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin);
}

function isAbort(err: unknown, signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true || (err instanceof Error && err.name === 'AbortError');
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason as Error);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason as Error);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** The `ParleyError` of a failed response: the Parley error body when there is one. */
export async function responseError(res: Response, what: string): Promise<ParleyError> {
  let body: unknown;
  try {
    body = JSON.parse(await res.text());
  } catch {
    body = undefined;
  }
  const err = body as { code?: unknown; message?: unknown } | undefined;
  if (typeof err === 'object' && err !== null && isErrorCode(err.code)) {
    return new ParleyError(err.code, typeof err.message === 'string' ? err.message : undefined);
  }
  return new ParleyError(codeForStatus(res.status), `HTTP ${res.status} from ${what}`);
}

/** Worth another try after a HEAD: the server or the way to it failed, not the request. */
function retryableStatus(status: number): boolean {
  return status === 409 || status === 423 || status === 429 || status >= 500;
}

/**
 * A header value as the UTF-8 its bytes were: `fetch` gives header bytes as Latin-1
 * characters. ASCII (JSON with `\u` escapes) comes through unchanged.
 */
function utf8Header(value: string): string {
  const codes = Array.from(value, (c) => c.charCodeAt(0));
  if (codes.every((c) => c < 0x80) || codes.some((c) => c > 0xff)) return value;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(Uint8Array.from(codes));
  } catch {
    return value;
  }
}

function parseAttachment(header: string | null): Attachment | undefined {
  if (header === null) return undefined;
  try {
    const a = JSON.parse(utf8Header(header)) as Attachment;
    return typeof a === 'object' && a !== null && typeof a.id === 'string' ? a : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Upload `body` with tus 1.0.0: create (POST), then PATCH pieces; a network error or a 5xx
 * resumes from the offset the server reports (HEAD). Resolves with the processed attachment.
 */
export async function tusUpload(
  t: UploadTransport,
  body: Blob | Uint8Array,
  options: UploadOptions,
): Promise<Attachment> {
  const { signal } = options;
  const token = t.token;
  if (token === undefined) throw new ParleyError('unauthorized', 'No session token: call setToken()');
  signal?.throwIfAborted();
  const size = body instanceof Uint8Array ? body.byteLength : body.size;
  const chunkSize = Math.max(1, options.chunkSize ?? DEFAULT_UPLOAD_CHUNK_SIZE);
  const maxRetries = options.maxRetries ?? 5;
  const endpoint = `${t.baseUrl}/v1/uploads`;
  const auth = { authorization: `Bearer ${token}`, 'tus-resumable': TUS_VERSION };
  const slice = (start: number, end: number): Blob | Uint8Array<ArrayBuffer> =>
    body instanceof Uint8Array ? body.slice(start, end) : body.slice(start, end);

  const call = async (url: string, init: RequestInit): Promise<Response> => {
    try {
      return await t.fetch(url, { ...init, signal });
    } catch (err) {
      if (isAbort(err, signal)) throw signal?.reason ?? err;
      throw new ParleyError(
        'unavailable',
        `Network error: ${err instanceof Error ? err.message : String(err)}`,
      );
    }
  };

  let metadata = `filename ${base64Utf8(options.name)}`;
  if (options.type !== undefined && options.type !== '') metadata += `,filetype ${base64Utf8(options.type)}`;
  const created = await call(endpoint, {
    method: 'POST',
    headers: { ...auth, 'upload-length': String(size), 'upload-metadata': metadata },
  });
  if (created.status !== 201) throw await responseError(created, 'POST /v1/uploads');
  const location = created.headers.get('location');
  if (location === null) throw new ParleyError('internal', 'tus: no Location in the creation answer');
  const url = new URL(location, endpoint);
  // The bearer token goes to the server's own origin only.
  if (url.origin !== new URL(endpoint).origin) {
    throw new ParleyError('internal', 'tus: Location on another origin');
  }
  const uploadUrl = url.toString();
  const id = decodeURIComponent(url.pathname.slice(url.pathname.lastIndexOf('/') + 1));

  try {
    let offset = 0;
    let result: Attachment | undefined = parseAttachment(created.headers.get('parley-upload'));
    let failures = 0;
    options.onProgress?.(0, size);
    while (offset < size) {
      let res: Response | undefined;
      try {
        const end = Math.min(size, offset + chunkSize);
        res = await call(uploadUrl, {
          method: 'PATCH',
          headers: {
            ...auth,
            'upload-offset': String(offset),
            'content-type': 'application/offset+octet-stream',
          },
          body: slice(offset, end),
        });
        if (res.status === 204) {
          const next = Number(res.headers.get('upload-offset'));
          if (!Number.isInteger(next) || next <= offset || next > size) {
            throw new ParleyError('internal', 'tus: bad Upload-Offset in the PATCH answer');
          }
          offset = next;
          failures = 0;
          result = parseAttachment(res.headers.get('parley-upload')) ?? result;
          options.onProgress?.(offset, size);
          continue;
        }
        if (!retryableStatus(res.status)) throw await responseError(res, 'PATCH /v1/uploads/:id');
      } catch (err) {
        if (!(err instanceof ParleyError) || err.code !== 'unavailable') throw err;
      }
      // A network error, a 5xx or an offset conflict: ask where the server is and go on from there.
      if (++failures > maxRetries) throw new ParleyError('unavailable', 'Upload failed after retries');
      await sleep(backoffDelay(failures - 1), signal);
      try {
        const head = await call(uploadUrl, { method: 'HEAD', headers: auth });
        if (head.ok) {
          const at = Number(head.headers.get('upload-offset'));
          if (Number.isInteger(at) && at >= 0 && at <= size) offset = at;
        } else if (!retryableStatus(head.status)) {
          throw await responseError(head, 'HEAD /v1/uploads/:id');
        }
      } catch (err) {
        if (!(err instanceof ParleyError) || err.code !== 'unavailable') throw err;
      }
    }
    if (size === 0) options.onProgress?.(0, 0);
    return result ?? (await getUpload(t, id));
  } catch (err) {
    if (signal?.aborted === true) {
      // Termination: best effort, the server's sweep removes what is left anyway.
      void t.fetch(uploadUrl, { method: 'DELETE', headers: auth }).catch(() => undefined);
    }
    throw err;
  }
}

function checkId(id: string): void {
  if (id === '' || id === '.' || id === '..') throw new ParleyError('invalid_field', 'Invalid id');
}

async function get(t: UploadTransport, path: string, init: RequestInit): Promise<Response> {
  if (t.token === undefined) throw new ParleyError('unauthorized', 'No session token: call setToken()');
  const headers = { ...(init.headers as Record<string, string>), authorization: `Bearer ${t.token}` };
  try {
    return await t.fetch(t.baseUrl + path, { ...init, method: 'GET', headers });
  } catch (err) {
    if (isAbort(err, init.signal ?? undefined)) throw init.signal?.reason ?? err;
    throw new ParleyError(
      'unavailable',
      `Network error: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
}

/** `GET /v1/uploads/:id`: a finished upload of mine. */
export async function getUpload(t: UploadTransport, id: string): Promise<Attachment> {
  checkId(id);
  const res = await get(t, `/v1/uploads/${encodeURIComponent(id)}`, {
    headers: { accept: 'application/json' },
  });
  if (!res.ok) throw await responseError(res, 'GET /v1/uploads/:id');
  const a = parseAttachment(await res.text());
  if (a === undefined) throw new ParleyError('internal', 'GET /v1/uploads/:id: not an attachment');
  return a;
}

/** `fetch` a file or its thumbnail with the bearer header; the response when 2xx or 304. */
export async function fetchFile(
  t: UploadTransport,
  id: string,
  options: FileOptions = {},
): Promise<Response> {
  checkId(id);
  const headers: Record<string, string> = {};
  if (options.range !== undefined) {
    const { start, end } = options.range;
    headers.range = `bytes=${start}-${end ?? ''}`;
  }
  if (options.ifNoneMatch !== undefined) headers['if-none-match'] = options.ifNoneMatch;
  const path = `/v1/files/${encodeURIComponent(id)}${options.thumbnail === true ? '/thumbnail' : ''}`;
  const res = await get(t, path, { headers, signal: options.signal });
  if (!res.ok && res.status !== 304) throw await responseError(res, 'GET /v1/files/:id');
  return res;
}
