import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createWriteStream, linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import {
  copyFile,
  mkdir,
  open,
  readdir,
  rename,
  rm,
  rmdir,
  stat,
  unlink,
  writeFile,
  type FileHandle,
} from 'node:fs/promises';
import { basename, dirname, join, resolve, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DomainException } from '../../common/errors/domain.exception.js';
import type { Clock } from '../../common/time/clock.js';
import type { AppConfig } from '../../config/env.schema.js';
import { publicBaseUrl } from '../../config/public-url.js';
import {
  InvalidObjectKeyException,
  assertValidObjectKey,
  assertValidObjectPrefix,
  attachmentDisposition,
  contentTypeForKey,
} from './object-key.js';
import {
  ObjectNotFoundException,
  resolveTtlSeconds,
  type ObjectStat,
  type ObjectStorage,
  type SignedUrlOptions,
} from './object-storage.port.js';

/** Path of the objects route under the API prefix; signed URLs point at it. */
export const OBJECTS_ROUTE = '/api/v1/objects';

/** File under DATA_DIR holding the generated signing key when OBJECT_URL_SECRET is not set. */
export const LOCAL_OBJECT_URL_SECRET_FILE = 'object-url-secret';

/**
 * The HMAC key of signed object URLs: `OBJECT_URL_SECRET`, or a random 32-byte key
 * generated once and kept in `${DATA_DIR}/object-url-secret` (mode 0600), like the JWT keys
 * of `auth/local-secrets.ts`. Creation is race-free between processes sharing DATA_DIR
 * (API and worker): the key is written to a temporary file and hard-linked into place, so
 * the first process wins and every other one reads the complete key.
 * Several machines must share OBJECT_URL_SECRET (or DATA_DIR).
 */
export function resolveObjectUrlSecret(config: Pick<AppConfig, 'OBJECT_URL_SECRET' | 'DATA_DIR'>): Buffer {
  if (config.OBJECT_URL_SECRET) return Buffer.from(config.OBJECT_URL_SECRET, 'utf8');
  const root = resolve(config.DATA_DIR);
  const file = join(root, LOCAL_OBJECT_URL_SECRET_FILE);
  const read = (): Buffer => {
    const secret = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64url');
    if (secret.length < 32)
      throw new Error(`${file} holds no 32-byte key: delete it (signed URLs then change) or set OBJECT_URL_SECRET`);
    return secret;
  };
  try {
    return read();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  mkdirSync(root, { recursive: true });
  const temporary = `${file}.${randomUUID()}.tmp`;
  writeFileSync(temporary, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  try {
    linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
  return read();
}

/** The query of a signed object URL, as received (any value may be missing or repeated). */
export interface SignedObjectQuery {
  expires?: unknown;
  signature?: unknown;
  download?: unknown;
}

/** An object opened through a signed URL, ready to be served. */
export interface SignedObject {
  /** The bytes; `null` when only the headers were asked for (HEAD). */
  body: Readable | null;
  sizeBytes: number;
  contentType: string;
  /** Seconds until the URL expires (> 0): the `Cache-Control` max-age. */
  maxAgeSeconds: number;
  /** `Content-Disposition` when the URL was minted with a download name. */
  contentDisposition?: string;
}

const EXPIRES = /^[0-9]{1,12}$/;
/** base64url of a 32-byte HMAC-SHA256, without padding. */
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * {@link ObjectStorage} on the local filesystem: object `a/b/c.jpg` is the file
 * `${DATA_DIR}/objects/a/b/c.jpg` (the embedded default, DESIGN.md "Storage and uploads").
 * Writes go to `${DATA_DIR}/objects/.tmp/` (same filesystem; no key can start with `.`) and
 * are renamed into place, so readers never see a partial object. Folders left empty by
 * deletions are removed. Content types come from the key's extension.
 *
 * Signed URLs point at the API's objects route ({@link OBJECTS_ROUTE}):
 * `${publicBaseUrl}/api/v1/objects/<key>?expires=<unix seconds>&signature=<base64url
 * HMAC-SHA256(key "\n" expires "\n" downloadName)>[&download=<name>]`, verified by
 * {@link openSigned} in constant time.
 *
 * A key that is also the folder of other keys (`a/b` and `a/b/c`) cannot exist on a
 * filesystem: such a write fails with 409 CONFLICT. Keys built as `…/{id}/{name}.{ext}` never
 * collide so.
 */
export class LocalObjectStorage implements ObjectStorage {
  readonly backend = 'local' as const;
  /** Absolute folder holding the objects. */
  readonly root: string;
  private readonly temporaryDir: string;
  /** Resolved on first use, so a process that never signs (OpenAPI generation) writes nothing. */
  private secret: Buffer | undefined;

  constructor(
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {
    this.root = resolve(config.DATA_DIR, 'objects');
    this.temporaryDir = join(this.root, '.tmp');
  }

  async putFile(key: string, localPath: string, _contentType: string): Promise<void> {
    await this.writeAtomically(key, (temporary) => copyFile(localPath, temporary));
  }

  async putBuffer(key: string, body: Buffer | Uint8Array, _contentType: string): Promise<void> {
    await this.writeAtomically(key, (temporary) => writeFile(temporary, body, { flag: 'wx' }));
  }

  async putStream(key: string, body: Readable, _contentType: string): Promise<void> {
    await this.writeAtomically(key, (temporary) => pipeline(body, createWriteStream(temporary, { flags: 'wx' })));
  }

  async getStream(key: string): Promise<Readable> {
    const handle = await this.openFile(key);
    return handle.createReadStream();
  }

  async downloadToFile(key: string, localPath: string): Promise<void> {
    const source = this.pathFor(key);
    if (!(await this.stat(key))) throw new ObjectNotFoundException(key);
    const target = resolve(localPath);
    await mkdir(dirname(target), { recursive: true });
    const temporary = join(dirname(target), `.${basename(target)}.${randomUUID()}.part`);
    try {
      await copyFile(source, temporary);
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      // Deleted meanwhile.
      if (isMissing(error) && !(await this.stat(key))) throw new ObjectNotFoundException(key);
      throw error;
    }
  }

  async stat(key: string): Promise<ObjectStat | null> {
    try {
      const info = await stat(this.pathFor(key));
      return info.isFile() ? { sizeBytes: info.size, contentType: contentTypeForKey(key) } : null;
    } catch (error) {
      if (isMissing(error)) return null;
      throw error;
    }
  }

  async delete(key: string): Promise<void> {
    const path = this.pathFor(key);
    try {
      await unlink(path);
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      // A folder (the key is only a prefix of other keys) is no object: nothing to delete.
      if (isMissing(error) || code === 'EISDIR' || code === 'EPERM') return;
      throw error;
    }
    await this.pruneEmptyFolders(dirname(path));
  }

  async deletePrefix(prefix: string): Promise<number> {
    assertValidObjectPrefix(prefix);
    const cut = prefix.lastIndexOf('/');
    const folder = cut < 0 ? this.root : this.pathFor(prefix.slice(0, cut), false);
    const partial = prefix.slice(cut + 1);
    let entries;
    try {
      entries = await readdir(folder, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    let removed = 0;
    for (const entry of entries) {
      // Names starting with '.' are never keys (the temporary folder lives at the root).
      if (entry.name.startsWith('.') || !entry.name.startsWith(partial)) continue;
      removed += await this.removeTree(join(folder, entry.name), entry.isDirectory());
    }
    await this.pruneEmptyFolders(folder);
    return removed;
  }

  async signedUrl(key: string, options: SignedUrlOptions = {}): Promise<string> {
    assertValidObjectKey(key);
    const ttl = resolveTtlSeconds(options.ttlSeconds, this.config.OBJECT_URL_TTL_SECONDS);
    if (options.downloadName !== undefined) attachmentDisposition(options.downloadName);
    const expires = Math.floor(this.clock.now().getTime() / 1000) + ttl;
    const query = new URLSearchParams({
      expires: String(expires),
      signature: this.sign(key, expires, options.downloadName),
    });
    if (options.downloadName !== undefined) query.set('download', options.downloadName);
    return `${publicBaseUrl(this.config)}${OBJECTS_ROUTE}/${key}?${query.toString()}`;
  }

  /**
   * Checks a signed URL's key, expiry and signature, then opens the object (GET) or only
   * reads its size (HEAD). The signature is compared in constant time and before the
   * expiry, so a forged URL is "invalid" whatever its date.
   *
   * @throws DomainException 403 OBJECT_URL_INVALID: malformed key, missing/malformed
   *   `expires` or `signature`, or a signature that does not match.
   * @throws DomainException 403 OBJECT_URL_EXPIRED: valid signature, `expires` reached.
   * @throws ObjectNotFoundException 404 NOT_FOUND: the URL is valid but the object is gone.
   */
  async openSigned(key: string, query: SignedObjectQuery, withBody: boolean): Promise<SignedObject> {
    const invalid = () => new DomainException('OBJECT_URL_INVALID', 'The object URL is not valid.');
    try {
      assertValidObjectKey(key);
    } catch (error) {
      if (error instanceof InvalidObjectKeyException) throw invalid();
      throw error;
    }
    const { expires, signature, download } = query;
    if (typeof expires !== 'string' || !EXPIRES.test(expires)) throw invalid();
    if (typeof signature !== 'string' || !SIGNATURE.test(signature)) throw invalid();
    if (download !== undefined && typeof download !== 'string') throw invalid();
    const expected = Buffer.from(this.sign(key, Number(expires), download), 'base64url');
    if (!timingSafeEqual(Buffer.from(signature, 'base64url'), expected)) throw invalid();
    const maxAgeSeconds = Number(expires) - Math.floor(this.clock.now().getTime() / 1000);
    if (maxAgeSeconds <= 0) throw new DomainException('OBJECT_URL_EXPIRED', 'The object URL has expired.');

    const contentType = contentTypeForKey(key);
    const contentDisposition = download === undefined ? undefined : attachmentDisposition(download);
    if (!withBody) {
      const info = await this.stat(key);
      if (!info) throw new ObjectNotFoundException(key);
      return { body: null, sizeBytes: info.sizeBytes, contentType, maxAgeSeconds, contentDisposition };
    }
    const handle = await this.openFile(key);
    const { size } = await handle.stat();
    return { body: handle.createReadStream(), sizeBytes: size, contentType, maxAgeSeconds, contentDisposition };
  }

  /** base64url HMAC-SHA256 of `key \n expires \n downloadName` (keys hold no newline). */
  private sign(key: string, expires: number, downloadName: string | undefined): string {
    this.secret ??= resolveObjectUrlSecret(this.config);
    return createHmac('sha256', this.secret)
      .update(`${key}\n${expires}\n${downloadName ?? ''}`)
      .digest('base64url');
  }

  /** Absolute path of a key (validated), checked to stay under the root. */
  private pathFor(key: string, validate = true): string {
    if (validate) assertValidObjectKey(key);
    const path = join(this.root, ...key.split('/'));
    if (!path.startsWith(this.root + sep)) throw new InvalidObjectKeyException(key, 'outside the storage root');
    return path;
  }

  /** Opens an existing regular file for reading. */
  private async openFile(key: string): Promise<FileHandle> {
    let handle: FileHandle;
    try {
      handle = await open(this.pathFor(key), 'r');
    } catch (error) {
      if (isMissing(error)) throw new ObjectNotFoundException(key);
      throw error;
    }
    if (!(await handle.stat()).isFile()) {
      await handle.close();
      throw new ObjectNotFoundException(key);
    }
    return handle;
  }

  /** Writes through `write(temporaryPath)`, then renames into place; nothing is left behind on failure. */
  private async writeAtomically(key: string, write: (temporary: string) => Promise<unknown>): Promise<void> {
    const target = this.pathFor(key);
    await mkdir(this.temporaryDir, { recursive: true });
    const temporary = join(this.temporaryDir, `${randomUUID()}.part`);
    try {
      await write(temporary);
      await this.moveIntoPlace(key, temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
  }

  private async moveIntoPlace(key: string, temporary: string, target: string): Promise<void> {
    const conflict = () =>
      new DomainException('CONFLICT', `Object key ${key} conflicts with an existing object used as its folder.`);
    for (let attempt = 0; ; attempt += 1) {
      try {
        await mkdir(dirname(target), { recursive: true });
        await rename(temporary, target);
        return;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === 'ENOTDIR' || code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTEMPTY') throw conflict();
        // A concurrent deletion pruned the folder between mkdir and rename: create it again.
        if (code === 'ENOENT' && attempt < 5) continue;
        throw error;
      }
    }
  }

  /** Deletes a file, or a folder's files and then the folder; returns the files removed. */
  private async removeTree(path: string, isFolder: boolean): Promise<number> {
    if (!isFolder) {
      try {
        await unlink(path);
        return 1;
      } catch (error) {
        if (isMissing(error)) return 0;
        throw error;
      }
    }
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (error) {
      if (isMissing(error)) return 0;
      throw error;
    }
    let removed = 0;
    for (const entry of entries) removed += await this.removeTree(join(path, entry.name), entry.isDirectory());
    await rmdir(path).catch((error: NodeJS.ErrnoException) => {
      // A write that landed meanwhile keeps its folder.
      if (!isMissing(error) && error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
    });
    return removed;
  }

  /** Removes `folder` and its parents while they are empty, stopping at the root. */
  private async pruneEmptyFolders(folder: string): Promise<void> {
    for (let current = folder; current.startsWith(this.root + sep); current = dirname(current)) {
      try {
        await rmdir(current);
      } catch (error) {
        if (isMissing(error)) continue;
        return; // ENOTEMPTY / EEXIST: still used.
      }
    }
  }
}
