import { Controller, Get, Head, Inject, Param, Query, Res, StreamableFile } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { Public } from '../../common/auth/public.decorator.js';
import { DomainException } from '../../common/errors/domain.exception.js';
import { LocalObjectStorage, type SignedObject, type SignedObjectQuery } from './local-object.storage.js';
import { OBJECT_STORAGE, type ObjectStorage } from './object-storage.port.js';

/**
 * `GET` / `HEAD /api/v1/objects/<key>?expires=<unix s>&signature=<base64url>[&download=<name>]`:
 * serves an object of the local storage through a URL minted by `ObjectStorage.signedUrl`
 * (frames and thumbnails in `<img>` tags, PDF links). Public (no bearer token): the HMAC
 * signature is the access check, and URLs are minted only after the caller's store access
 * was checked.
 *
 * 200 streams the bytes with the type of the key's extension, `Content-Length`,
 * `Cache-Control: private, max-age=<seconds until expiry>`, `X-Content-Type-Options: nosniff`
 * and `Cross-Origin-Resource-Policy: cross-origin` (the web app may sit on another origin).
 * Errors are problem+json: 403 OBJECT_URL_INVALID (missing, malformed or forged signature),
 * 403 OBJECT_URL_EXPIRED, 404 NOT_FOUND (the object is gone). With the S3 adapter, signed URLs
 * point at S3 and this route answers 404 ROUTE_NOT_FOUND.
 *
 * Left out of the OpenAPI document: clients never build these URLs, they follow the ones
 * the API returns.
 */
@ApiExcludeController()
@Public()
@Controller('objects')
export class ObjectsController {
  constructor(@Inject(OBJECT_STORAGE) private readonly storage: ObjectStorage) {}

  @Head('*')
  async head(
    @Param('*') key: string,
    @Query() query: SignedObjectQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<StreamableFile> {
    return this.serve(reply, await this.local().openSigned(key, query, false));
  }

  @Get('*')
  async read(
    @Param('*') key: string,
    @Query() query: SignedObjectQuery,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<StreamableFile> {
    return this.serve(reply, await this.local().openSigned(key, query, true));
  }

  private local(): LocalObjectStorage {
    if (this.storage instanceof LocalObjectStorage) return this.storage;
    throw new DomainException('ROUTE_NOT_FOUND', 'No route matches this request.');
  }

  private serve(reply: FastifyReply, object: SignedObject): StreamableFile {
    void reply.headers({
      'cache-control': `private, max-age=${object.maxAgeSeconds}`,
      'x-content-type-options': 'nosniff',
      'cross-origin-resource-policy': 'cross-origin',
      ...(object.contentDisposition ? { 'content-disposition': object.contentDisposition } : {}),
    });
    // HEAD: an empty body; Nest keeps the Content-Length given here.
    const options = { type: object.contentType, length: object.sizeBytes };
    return object.body ? new StreamableFile(object.body, options) : new StreamableFile(new Uint8Array(0), options);
  }
}
