import type { IncomingMessage, ServerResponse } from 'node:http';
import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { Server } from '@tus/server';
import { Metadata, type Upload } from '@tus/utils';
import { DomainException, NotFoundDomainException } from '../../common/errors/domain.exception.js';
import { buildProblem, PROBLEM_CONTENT_TYPE } from '../../common/errors/problem-details.js';
import { currentContext, type RequestIdentity } from '../../common/http/request-context.js';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { APP_CONFIG } from '../../config/config.module.js';
import type { AppConfig } from '../../config/env.schema.js';
import { TransactionService } from '../../database/transaction.service.js';
import { InventorySessionService } from '../inventory/inventory-session.service.js';
import { UploadStoreService } from './upload-store.service.js';
import { VideoIntakeService } from './video-intake.service.js';
import { VideosRepository } from './videos.repository.js';

/** Path of the tus endpoint (DESIGN.md "API surface"). */
export const UPLOADS_PATH = '/api/v1/uploads';

/** What the pre-checks of a creation (POST) learnt, for the tus `onUploadCreate` hook. */
interface CreationContext {
  identity: RequestIdentity;
  sessionId: string;
  storeId: string;
  filename: string | null;
  filetype: string | null;
  length: number;
}

/** Extensions and MIME types of each accepted container. */
const CONTAINER_TYPES: Record<string, { extensions: string[]; mimeTypes: string[] }> = {
  mp4: { extensions: ['mp4', 'm4v'], mimeTypes: ['video/mp4', 'video/x-m4v'] },
  mov: { extensions: ['mov', 'qt'], mimeTypes: ['video/quicktime'] },
  webm: { extensions: ['webm'], mimeTypes: ['video/webm'] },
  '3gp': { extensions: ['3gp', '3gpp', '3g2'], mimeTypes: ['video/3gpp', 'video/3gpp2'] },
};

/**
 * Which accepted container a declared upload is (tus metadata `filetype` and/or `filename`),
 * or null when neither names an accepted one. A client that declares nothing is let through:
 * ffprobe decides when the upload finishes.
 */
export function declaredContainer(
  filename: string | null,
  filetype: string | null,
  allowed: readonly string[],
): string | null | 'UNDECLARED' {
  if (!filename && !filetype) return 'UNDECLARED';
  const extension = filename?.includes('.') ? filename.split('.').pop()!.toLowerCase() : null;
  const mime = filetype?.split(';')[0]!.trim().toLowerCase() ?? null;
  for (const container of allowed) {
    const types = CONTAINER_TYPES[container];
    if (!types) continue;
    const mimeOk = mime === null || mime === 'application/octet-stream' || types.mimeTypes.includes(mime);
    const extensionOk = extension === null || types.extensions.includes(extension);
    if (mimeOk && extensionOk && (mime !== null || extension !== null)) return container;
  }
  return null;
}

/**
 * Resumable video uploads with the tus 1.0 protocol (issue 5 "Resumable upload";
 * https://tus.io/protocols/resumable-upload): `POST /api/v1/uploads` with
 * `Upload-Metadata: sessionId <base64>, filename <base64>, filetype <base64>` and
 * `Upload-Length`, then `PATCH`/`HEAD` on the returned `Location`.
 *
 * - Authenticated with the same bearer token as the API; the session must be a CREATED
 *   session of a store the caller is an OWNER or OPERATOR of (404 otherwise, never 403), and
 *   gets one upload (409 UPLOAD_EXISTS for a second).
 * - A declared type that is not an accepted container (UPLOAD_ALLOWED_CONTAINERS) FAILS the
 *   session with UNSUPPORTED_FORMAT (its credit hold voided) and answers 415.
 * - Larger than UPLOAD_MAX_BYTES → 413 PAYLOAD_TOO_LARGE, nothing created.
 * - Bytes stream to the store (`@tus/file-store` under DATA_DIR/uploads, or `@tus/s3-store`
 *   when S3 is configured); no handler holds a video in memory. A PATCH at a wrong offset gets
 *   409 from tus and changes nothing.
 * - When the last byte arrives, {@link VideoIntakeService.finishUpload} validates the video
 *   (ffprobe) and queues it, before the final PATCH is answered.
 *
 * Protocol errors of tus itself (409 offset mismatch, 412 missing Tus-Resumable, 460 checksum)
 * keep tus's plain-text bodies: tus clients read the status only.
 *
 * One process serialises the requests of one upload with tus's in-memory locker; with several
 * API replicas a client resuming an upload may reach another replica — fine, as each request
 * reads the offset from the store (S3 in production), but two concurrent PATCHes of one upload
 * on two replicas are not serialised (tus clients never send them).
 */
@Injectable()
export class UploadsService implements OnModuleInit {
  private server!: Server;
  private readonly creations = new WeakMap<IncomingMessage, CreationContext>();
  private readonly problemResponses = new WeakSet<IncomingMessage>();

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    @Inject(CLOCK) private readonly clock: Clock,
    private readonly transactions: TransactionService,
    private readonly sessions: InventorySessionService,
    private readonly videos: VideosRepository,
    private readonly intake: VideoIntakeService,
    private readonly store: UploadStoreService,
  ) {}

  onModuleInit(): void {
    this.server = new Server({
      path: UPLOADS_PATH,
      datastore: this.store.datastore,
      relativeLocation: true,
      maxSize: this.config.UPLOAD_MAX_BYTES,
      disableTerminationForFinishedUploads: true,
      allowedOrigins: this.config.CORS_ORIGINS.length > 0 ? this.config.CORS_ORIGINS : [],
      onUploadCreate: (req, upload) => this.onUploadCreate(nodeRequest(req), upload),
      onResponseError: (req, error) => {
        const node = nodeRequest(req);
        if (node) this.problemResponses.add(node);
        const status = 'status_code' in error && typeof error.status_code === 'number' ? error.status_code : 500;
        const detail = 'body' in error && typeof error.body === 'string' ? error.body.trim() : '';
        if (detail.startsWith('{')) return { status_code: status, body: detail }; // already a problem (our hooks)
        return tusError(
          status,
          TUS_ERROR_CODES[status] ?? 'INTERNAL_ERROR',
          status >= 500 ? 'Internal error.' : detail,
        );
      },
      onUploadFinish: async (_req, upload) => {
        await this.intake.finishUpload(upload.id, upload.offset);
        return {};
      },
    });
  }

  /**
   * Handles one tus request of the caller (the global guard authenticated them): checks
   * access, then hands the raw request to tus, which streams the answer itself.
   *
   * @throws (as problem+json, before tus sees the request) UPLOAD_INVALID (400), NOT_FOUND (404),
   *   UPLOAD_EXISTS (409), UPLOAD_GONE (410, expired), PAYLOAD_TOO_LARGE (413), UNSUPPORTED_VIDEO_FORMAT (415).
   */
  async handle(
    method: string,
    uploadId: string | null,
    req: IncomingMessage,
    res: ServerResponse,
    hijack: () => void,
  ): Promise<void> {
    const identity = currentContext()?.identity;
    if (!identity) throw new DomainException('UNAUTHENTICATED', 'A valid bearer token is required.');
    if (method === 'POST') {
      this.creations.set(req, await this.checkCreation(identity, req));
    } else {
      if (!uploadId || !/^[A-Za-z0-9_-]{1,128}$/.test(uploadId)) throw new NotFoundDomainException('Upload');
      const video = await this.transactions.runAs(identity, () => this.videos.findByUploadId(uploadId));
      if (!video) throw new NotFoundDomainException('Upload');
      if (video.status === 'EXPIRED') {
        throw new DomainException('UPLOAD_GONE', 'This upload expired and was removed; start a new inventory session.');
      }
    }
    hijack();
    res.setHeader('x-request-id', currentContext()?.requestId ?? '');
    this.answerProblemsAsProblems(req, res);
    await this.server.handle(req, res);
  }

  /**
   * tus writes its error bodies as text; the ones mapped by `onResponseError` are our problem
   * documents, so their content type is corrected to application/problem+json as the head is
   * written. (Protocol checks tus answers before any handler — 412 without Tus-Resumable, 400
   * invalid headers — stay plain text.)
   */
  private answerProblemsAsProblems(req: IncomingMessage, res: ServerResponse): void {
    const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse;
    res.writeHead = ((status: number, ...rest: unknown[]) => {
      if (status >= 400 && this.problemResponses.has(req) && rest.length > 0) {
        rest[rest.length - 1] = withContentType(rest[rest.length - 1], PROBLEM_CONTENT_TYPE);
      }
      return writeHead(status, ...rest);
    }) as ServerResponse['writeHead'];
  }

  /** Validates a creation request against its session, before tus creates anything. */
  private async checkCreation(identity: RequestIdentity, req: IncomingMessage): Promise<CreationContext> {
    let metadata: Record<string, string | null>;
    try {
      metadata = Metadata.parse(header(req, 'upload-metadata') ?? undefined);
    } catch {
      throw new DomainException('UPLOAD_INVALID', 'Upload-Metadata is malformed (tus: "key base64value,…").');
    }
    const sessionId = (metadata.sessionId ?? metadata.sessionid ?? '').toLowerCase();
    if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/.test(sessionId)) {
      throw new DomainException(
        'UPLOAD_INVALID',
        'Upload-Metadata must name the inventory session: sessionId <uuid>.',
        [{ field: 'sessionId', message: 'a uuid is required' }],
      );
    }
    const lengthHeader = header(req, 'upload-length');
    if (!lengthHeader || !/^\d{1,15}$/.test(lengthHeader)) {
      throw new DomainException('UPLOAD_INVALID', 'Upload-Length (bytes) is required; deferred lengths are refused.');
    }
    const length = Number(lengthHeader);
    if (length > this.config.UPLOAD_MAX_BYTES) {
      throw new DomainException(
        'PAYLOAD_TOO_LARGE',
        `The video is ${length} bytes; the limit is ${this.config.UPLOAD_MAX_BYTES} bytes.`,
      );
    }
    const filename = metadata.filename ?? metadata.name ?? null;
    const filetype = metadata.filetype ?? metadata.type ?? null;
    for (const [field, value] of [
      ['filename', filename],
      ['filetype', filetype],
    ] as const) {
      // eslint-disable-next-line no-control-regex
      if (value !== null && (value.length > 255 || /[\u0000-\u001f\u007f]/.test(value))) {
        throw new DomainException('UPLOAD_INVALID', `Upload-Metadata ${field} is too long or has control characters.`, [
          { field, message: 'at most 255 printable characters' },
        ]);
      }
    }
    const session = await this.transactions.runAs(identity, () => this.sessions.get(identity.userId, sessionId));
    if (session.state !== 'CREATED') {
      throw new DomainException('UPLOAD_EXISTS', `The session is ${session.state}: it takes one upload, when CREATED.`);
    }
    const container = declaredContainer(filename, filetype, this.config.UPLOAD_ALLOWED_CONTAINERS);
    if (container === null) {
      await this.sessions.transition(sessionId, 'FAILED', {
        failureCode: 'UNSUPPORTED_FORMAT',
        failureDetail: `declared ${filetype ?? '?'} / ${filename ?? '?'}`,
      });
      throw new DomainException(
        'UNSUPPORTED_VIDEO_FORMAT',
        `Only ${this.config.UPLOAD_ALLOWED_CONTAINERS.join(', ')} videos are accepted; the session failed and its credit was released.`,
      );
    }
    return { identity, sessionId, storeId: session.storeId, filename, filetype, length };
  }

  /** tus `onUploadCreate`: records the video and moves the session to UPLOADING (one transaction). */
  private async onUploadCreate(
    req: IncomingMessage | null,
    upload: Upload,
  ): Promise<{ metadata?: Upload['metadata'] }> {
    const context = req ? this.creations.get(req) : undefined;
    if (!context) throw tusError(500, 'INTERNAL_ERROR', 'Upload creation without its checks.');
    const now = this.clock.now();
    const created = await this.transactions.runAsSystem(async () => {
      const video = await this.videos.insertUploading({
        storeId: context.storeId,
        sessionId: context.sessionId,
        createdBy: context.identity.userId,
        uploadId: upload.id,
        storageBackend: this.store.backend,
        storageKey: this.store.storageKey(upload.id),
        originalFilename: context.filename?.slice(0, 255) ?? null,
        contentType: context.filetype?.slice(0, 127) ?? null,
        sizeBytes: context.length,
        expiresAt: new Date(now.getTime() + this.config.UPLOAD_EXPIRY_HOURS * 3600 * 1000),
      });
      if (!video) return false;
      const moved = await this.sessions.transition(context.sessionId, 'UPLOADING');
      return moved.changed;
    });
    if (!created) throw tusError(409, 'UPLOAD_EXISTS', 'This inventory session already has its upload.');
    return { metadata: upload.metadata };
  }
}

/** Stable codes of the errors tus itself answers (tus 1.0 statuses). */
const TUS_ERROR_CODES: Record<number, string> = {
  400: 'UPLOAD_INVALID',
  403: 'UPLOAD_INVALID',
  404: 'NOT_FOUND',
  409: 'UPLOAD_OFFSET_CONFLICT',
  410: 'UPLOAD_GONE',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  460: 'UPLOAD_CHECKSUM_MISMATCH',
};

/** `headers` (object, flat array or array of pairs, as Node's writeHead takes them) with its content type replaced. */
function withContentType(headers: unknown, type: string): unknown {
  if (Array.isArray(headers)) {
    if (headers.every((entry) => Array.isArray(entry))) {
      return (headers as [string, string][]).map(([name, value]) =>
        name.toLowerCase() === 'content-type' ? [name, type] : [name, value],
      );
    }
    const flat = [...(headers as string[])];
    for (let i = 0; i + 1 < flat.length; i += 2) if (flat[i]!.toLowerCase() === 'content-type') flat[i + 1] = type;
    return flat;
  }
  if (headers && typeof headers === 'object') {
    const copy: Record<string, unknown> = {};
    for (const [name, value] of Object.entries(headers))
      copy[name] = name.toLowerCase() === 'content-type' ? type : value;
    return copy;
  }
  return headers;
}

function header(req: IncomingMessage, name: string): string | null {
  const value = req.headers[name];
  return (Array.isArray(value) ? value[0] : value) ?? null;
}

/** The Node request behind a tus (srvx) request. */
function nodeRequest(req: unknown): IncomingMessage | null {
  const runtime = (req as { runtime?: { node?: { req?: IncomingMessage } } }).runtime;
  return runtime?.node?.req ?? null;
}

/** An error tus answers with `status_code` and our problem+json body (as text). */
function tusError(status: number, code: string, detail: string): { status_code: number; body: string } {
  const requestId = currentContext()?.requestId ?? 'unknown';
  return { status_code: status, body: JSON.stringify(buildProblem({ status, code, detail, requestId })) };
}
