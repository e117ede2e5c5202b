import { DomainException } from '../../common/errors/domain.exception.js';

/** Longest key, in bytes: the S3 limit (https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-keys.html). */
export const MAX_OBJECT_KEY_BYTES = 1024;
/** Longest path segment, in bytes: NAME_MAX of common filesystems (the local adapter stores segments as names). */
export const MAX_OBJECT_KEY_SEGMENT_BYTES = 255;

/**
 * One key segment: starts with a letter or digit, then letters, digits, `.`, `_`, `-`.
 * Being URL-safe and free of `.`-leading names, a segment can never be `.`, `..` or a
 * hidden file, and needs no escaping in a URL or on disk.
 */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Thrown for a key or prefix outside the rules of {@link assertValidObjectKey}: 400 VALIDATION_FAILED. */
export class InvalidObjectKeyException extends DomainException {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super('VALIDATION_FAILED', `Invalid object key: ${reason}.`, [
      { field: 'key', message: reason, code: 'OBJECT_KEY_INVALID' },
    ]);
    this.name = 'InvalidObjectKeyException';
  }
}

function check(value: unknown, kind: 'key' | 'prefix'): string {
  if (typeof value !== 'string' || value.length === 0) {
    throw new InvalidObjectKeyException(String(value), `the ${kind} must be a non-empty string`);
  }
  const printable = JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  const fail = (reason: string): never => {
    throw new InvalidObjectKeyException(value, `${printable}: ${reason}`);
  };
  if (value.includes('\0')) fail('must not contain NUL');
  if (value.startsWith('/')) fail("must not start with '/'");
  if (Buffer.byteLength(value, 'utf8') > MAX_OBJECT_KEY_BYTES) fail(`longer than ${MAX_OBJECT_KEY_BYTES} bytes`);
  const segments = value.split('/');
  if (segments.includes('..') || segments.includes('.')) fail("must not contain '.' or '..' segments");
  // A prefix may end with '/' (its last, partial segment is then empty); a key may not.
  const last = segments.length - 1;
  segments.forEach((segment, index) => {
    if (kind === 'prefix' && index === last && segment === '') return;
    if (segment === '') fail(kind === 'key' && index === last ? "must not end with '/'" : "must not contain '//'");
    if (segment.length > MAX_OBJECT_KEY_SEGMENT_BYTES) fail(`a segment is longer than ${MAX_OBJECT_KEY_SEGMENT_BYTES}`);
    if (!SEGMENT.test(segment)) {
      fail('segments use letters, digits, ".", "_" and "-" only, and start with a letter or digit');
    }
  });
  return value;
}

/**
 * Checks an object key such as `stores/{storeId}/sessions/{sessionId}/frames/000012.jpg`
 * and returns it. Rules: 1–1024 bytes; `/`-separated segments of `[A-Za-z0-9._-]`, each
 * starting with a letter or digit (so no `.`/`..`, no hidden names) and at most 255 bytes;
 * no leading or trailing `/`, no `//`, no NUL. Both adapters accept exactly these keys,
 * they need no escaping in URLs, and they cannot leave the storage root on disk.
 *
 * @throws InvalidObjectKeyException (400 VALIDATION_FAILED, field `key`) otherwise.
 */
export function assertValidObjectKey(key: unknown): string {
  return check(key, 'key');
}

/**
 * Checks a key prefix for `deletePrefix` (`stores/{storeId}/sessions/{sessionId}/`): the
 * rules of {@link assertValidObjectKey}, except that it may end with `/`. Plain string
 * prefix semantics, as S3's ListObjectsV2 `Prefix`: `a/fr` matches `a/frames/1.jpg`.
 *
 * @throws InvalidObjectKeyException (400 VALIDATION_FAILED) otherwise (an empty prefix included:
 *   nothing deletes the whole bucket).
 */
export function assertValidObjectPrefix(prefix: unknown): string {
  return check(prefix, 'prefix');
}

const CONTENT_TYPES: Record<string, string> = {
  jpg: 'image/jpeg',
  jpeg: 'image/jpeg',
  png: 'image/png',
  webp: 'image/webp',
  gif: 'image/gif',
  pdf: 'application/pdf',
  json: 'application/json',
  csv: 'text/csv; charset=utf-8',
  txt: 'text/plain; charset=utf-8',
  xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  mp4: 'video/mp4',
  m4v: 'video/mp4',
  mov: 'video/quicktime',
  webm: 'video/webm',
  '3gp': 'video/3gpp',
};

/**
 * MIME type of a key from its extension (`frames/000012.jpg` → `image/jpeg`); anything
 * else is `application/octet-stream`. HTML, SVG and scripts are deliberately absent: a
 * signed URL never serves a document that could run in the API's origin.
 */
export function contentTypeForKey(key: string): string {
  const name = key.slice(key.lastIndexOf('/') + 1);
  const dot = name.lastIndexOf('.');
  if (dot <= 0) return 'application/octet-stream';
  return CONTENT_TYPES[name.slice(dot + 1).toLowerCase()] ?? 'application/octet-stream';
}

/**
 * `Content-Disposition: attachment` for a download name, per RFC 6266 with the RFC 8187
 * `filename*` parameter for non-ASCII names (`Inventario café.pdf`) and an ASCII
 * `filename` fallback. Control characters, quotes, `\`, `/` are dropped from the fallback.
 *
 * @throws DomainException 400 VALIDATION_FAILED (field `downloadName`) when the name is empty,
 *   longer than 255 characters or holds control characters.
 */
export function attachmentDisposition(downloadName: string): string {
  const name = downloadName.trim();
  const control = [...name].some((char) => char.charCodeAt(0) < 0x20 || char.charCodeAt(0) === 0x7f);
  if (name.length === 0 || name.length > 255 || control) {
    const message = 'must be 1–255 printable characters';
    throw new DomainException('VALIDATION_FAILED', `Invalid download name: ${message}.`, [
      { field: 'downloadName', message },
    ]);
  }
  const fallback = name.replace(/[^\x20-\x7e]|["\\/%]/g, '_');
  const encoded = encodeURIComponent(name).replace(
    /['()*]/g,
    (char) => `%${char.charCodeAt(0).toString(16).toUpperCase()}`,
  );
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
