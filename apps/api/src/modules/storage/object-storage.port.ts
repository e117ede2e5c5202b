import type { Readable } from 'node:stream';
import { DomainException } from '../../common/errors/domain.exception.js';

/** What {@link ObjectStorage.stat} knows about a stored object. */
export interface ObjectStat {
  /** Size in bytes. */
  sizeBytes: number;
  /** MIME type served with the object (`image/jpeg`). */
  contentType: string;
}

/** Options of {@link ObjectStorage.signedUrl}. */
export interface SignedUrlOptions {
  /** Seconds the URL stays valid; default `OBJECT_URL_TTL_SECONDS` (900). 1 – 604 800 (7 days, the SigV4 limit). */
  ttlSeconds?: number;
  /** When set, the response carries `Content-Disposition: attachment` with this file name (`inventario.pdf`). */
  downloadName?: string;
}

/** Thrown when an object does not exist: 404 NOT_FOUND. The key is kept off the response (it names ids). */
export class ObjectNotFoundException extends DomainException {
  constructor(readonly key: string) {
    super('NOT_FOUND', 'The object was not found.');
    this.name = 'ObjectNotFoundException';
  }
}

/**
 * Object storage port (DESIGN.md "Storage and uploads", CONVENTIONS #6): videos, frames,
 * thumbnails and exported reports. Two adapters chosen by configuration: the local
 * filesystem under `${DATA_DIR}/objects` (default) and S3 / MinIO when `S3_ENDPOINT` is set.
 * Both pass the same contract suite (test/integration/object-storage-contract.spec.ts).
 *
 * Keys look like `stores/{storeId}/sessions/{sessionId}/frames/000012.jpg`; every method
 * validates them (see `assertValidObjectKey`) and throws InvalidObjectKeyException
 * (400 VALIDATION_FAILED) on a bad one before touching storage. Bodies stream: no method
 * but {@link putBuffer} holds an object in memory. Writes replace an existing object
 * atomically: a reader sees the old bytes or the new ones, never a part.
 *
 * `contentType` is stored with the object by S3; the local adapter derives it from the
 * key's extension (`contentTypeForKey`), so name keys with the extension of their type.
 */
export interface ObjectStorage {
  /** Which adapter is active. */
  readonly backend: 'local' | 's3';

  /** Uploads a file from local disk (streamed; multipart on S3 for large files). */
  putFile(key: string, localPath: string, contentType: string): Promise<void>;

  /** Stores a small in-memory body (JPEG frames, thumbnails, JSON). */
  putBuffer(key: string, body: Buffer | Uint8Array, contentType: string): Promise<void>;

  /**
   * Stores a stream of unknown length (multipart on S3). A failing source stores nothing
   * and rejects with the source's error.
   */
  putStream(key: string, body: Readable, contentType: string): Promise<void>;

  /**
   * Opens the object for reading.
   *
   * @throws ObjectNotFoundException (404 NOT_FOUND) when it does not exist.
   */
  getStream(key: string): Promise<Readable>;

  /**
   * Writes the object to `localPath` (parent folders created; written to a temporary file
   * beside it, then renamed, so the path never holds a partial copy).
   *
   * @throws ObjectNotFoundException (404 NOT_FOUND) when it does not exist.
   */
  downloadToFile(key: string, localPath: string): Promise<void>;

  /** Size and type of the object, or `null` when it does not exist. */
  stat(key: string): Promise<ObjectStat | null>;

  /** Removes the object; removing a missing one is not an error (idempotent, like S3). */
  delete(key: string): Promise<void>;

  /**
   * Removes every object whose key starts with `prefix` (string prefix, as S3's `Prefix`:
   * `stores/a/sessions/b/`). Returns the number of objects removed.
   *
   * @throws InvalidObjectKeyException for an empty or malformed prefix.
   */
  deletePrefix(prefix: string): Promise<number>;

  /**
   * An absolute URL that serves the object without a bearer token until it expires, for
   * `<img>` tags in the apps and links in PDFs. Mint one only after the caller's access to
   * the store was checked: the URL is the access check. Local: the API's
   * `/api/v1/objects/<key>?expires=…&signature=…` (HMAC-SHA256); S3: a SigV4 presigned
   * GetObject URL. Neither checks that the object exists.
   *
   * @throws DomainException 400 VALIDATION_FAILED for a ttl outside 1 – 604 800 s or a bad downloadName.
   */
  signedUrl(key: string, options?: SignedUrlOptions): Promise<string>;
}

/** Injection token of the active {@link ObjectStorage} (provided globally by StorageModule). */
export const OBJECT_STORAGE = Symbol('OBJECT_STORAGE');

/** Largest ttl of a signed URL, seconds: 7 days, the SigV4 presigning limit. */
export const MAX_SIGNED_URL_TTL_SECONDS = 7 * 24 * 3600;

/**
 * The ttl to sign with: `requested` or `fallback` (OBJECT_URL_TTL_SECONDS), checked.
 *
 * @throws DomainException 400 VALIDATION_FAILED (field `ttlSeconds`) outside 1 – 604 800 s.
 */
export function resolveTtlSeconds(requested: number | undefined, fallback: number): number {
  const ttl = requested ?? fallback;
  if (!Number.isInteger(ttl) || ttl < 1 || ttl > MAX_SIGNED_URL_TTL_SECONDS) {
    const message = `must be an integer from 1 to ${MAX_SIGNED_URL_TTL_SECONDS} seconds`;
    throw new DomainException('VALIDATION_FAILED', `Invalid signed URL ttl: ${message}.`, [
      { field: 'ttlSeconds', message },
    ]);
  }
  return ttl;
}
