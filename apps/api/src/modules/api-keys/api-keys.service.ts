import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable } from '@nestjs/common';
import { DomainException, NotFoundDomainException, ValidationException } from '../../common/errors/domain.exception.js';
import { currentContext } from '../../common/http/request-context.js';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { TransactionService } from '../../database/transaction.service.js';
import { AuditService } from '../audit/audit.service.js';
import type { ApiKeyScope } from './api-key-scopes.js';
import type { ApiKeyView, CreateApiKeyDto } from './api-keys.dto.js';
import { ApiKeysRepository, type ApiKeyRecord } from './api-keys.repository.js';

/** The key that authenticated a request. */
export interface ApiKeyPrincipal {
  id: string;
  name: string;
  scopes: ApiKeyScope[];
}

/** `mik_` + 12 hex (the stored, displayed prefix) + `_` + 43 base64url (256 random bits). */
const KEY_PATTERN = /^mik_([0-9a-f]{12})_[A-Za-z0-9_-]{43}$/;

const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest();

/**
 * API keys of internal services and webhook relays (issue 3): created by admins and
 * shown once, stored as a prefix plus the SHA-256 of the whole key (a 256-bit random
 * secret needs no slow hash), scoped, expirable, revocable, last use recorded.
 * Creation and revocation are audited (`api_key.created`, `api_key.revoked`).
 */
@Injectable()
export class ApiKeysService {
  constructor(
    private readonly keys: ApiKeysRepository,
    private readonly transactions: TransactionService,
    private readonly audit: AuditService,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Creates a key for the calling admin; the answer carries the secret `key`, which is
   * not stored and cannot be shown again.
   *
   * @throws ValidationException VALIDATION_FAILED (400) when `expiresAt` is not in the future.
   */
  async create(dto: CreateApiKeyDto): Promise<ApiKeyView & { key: string }> {
    const now = this.clock.now();
    const expiresAt = dto.expiresAt ? new Date(dto.expiresAt) : null;
    if (expiresAt && expiresAt.getTime() <= now.getTime()) {
      throw new ValidationException([{ field: 'expiresAt', message: 'Must be in the future.' }]);
    }
    const prefix = randomBytes(6).toString('hex');
    const key = `mik_${prefix}_${randomBytes(32).toString('base64url')}`;
    const record = await this.keys.insert({
      name: dto.name,
      prefix,
      keyHash: sha256(key).toString('hex'),
      scopes: dto.scopes,
      createdBy: currentContext()?.identity?.userId ?? null,
      createdAt: now,
      expiresAt,
    });
    await this.audit.record({
      action: 'api_key.created',
      targetType: 'api_key',
      targetId: record.id,
      metadata: { name: record.name, prefix, scopes: record.scopes, expiresAt: expiresAt?.toISOString() ?? null },
    });
    return { ...this.view(record, now), key };
  }

  /** Every key, newest first, without secrets. */
  async list(): Promise<ApiKeyView[]> {
    const now = this.clock.now();
    return (await this.keys.list()).map((record) => this.view(record, now));
  }

  /**
   * Revokes a key: it stops working at once. Revoking a revoked key changes nothing.
   *
   * @throws NotFoundDomainException NOT_FOUND (404) for an unknown id.
   */
  async revoke(id: string): Promise<void> {
    const revoked = await this.keys.revoke(id, this.clock.now());
    if (revoked) {
      await this.audit.record({
        action: 'api_key.revoked',
        targetType: 'api_key',
        targetId: id,
        metadata: { name: revoked.name, prefix: revoked.prefix },
      });
      return;
    }
    if (!(await this.keys.findById(id))) throw new NotFoundDomainException('API key');
  }

  /**
   * Checks a presented key (as SYSTEM, before the request's transaction) and that it
   * holds `scope`; records its use.
   *
   * @throws DomainException API_KEY_INVALID (401) for a malformed, unknown, revoked or
   *   expired key; FORBIDDEN (403) when it lacks `scope`.
   */
  async authenticate(presented: string, scope: ApiKeyScope): Promise<ApiKeyPrincipal> {
    const outcome = await this.transactions.runAsSystem(async (): Promise<ApiKeyPrincipal | DomainException> => {
      const invalid = new DomainException('API_KEY_INVALID', 'The API key is not valid.', undefined, {
        'www-authenticate': 'ApiKey header="x-api-key"',
      });
      const match = KEY_PATTERN.exec(presented);
      if (!match) return invalid;
      const record = await this.keys.findByPrefix(match[1]!);
      const expected = record ? Buffer.from(record.keyHash, 'hex') : Buffer.alloc(32);
      const matches = timingSafeEqual(sha256(presented), expected.length === 32 ? expected : Buffer.alloc(32));
      const now = this.clock.now();
      if (!record || !matches || this.status(record, now) !== 'ACTIVE') return invalid;
      if (!record.scopes.includes(scope)) {
        return new DomainException('FORBIDDEN', `This API key lacks the scope ${scope}.`);
      }
      await this.keys.touch(record.id, now);
      return { id: record.id, name: record.name, scopes: record.scopes as ApiKeyScope[] };
    });
    if (outcome instanceof DomainException) throw outcome;
    return outcome;
  }

  /** What `GET /internal/ping` answers: the calling key and the server time. */
  ping(key: ApiKeyPrincipal): { keyId: string; name: string; scopes: ApiKeyScope[]; time: string } {
    return { keyId: key.id, name: key.name, scopes: key.scopes, time: this.clock.now().toISOString() };
  }

  private status(record: ApiKeyRecord, now: Date): ApiKeyView['status'] {
    if (record.revokedAt) return 'REVOKED';
    if (record.expiresAt && record.expiresAt.getTime() <= now.getTime()) return 'EXPIRED';
    return 'ACTIVE';
  }

  private view(record: ApiKeyRecord, now: Date): ApiKeyView {
    return {
      id: record.id,
      name: record.name,
      prefix: `mik_${record.prefix}`,
      scopes: record.scopes as ApiKeyScope[],
      createdBy: record.createdBy,
      createdAt: record.createdAt.toISOString(),
      expiresAt: record.expiresAt?.toISOString() ?? null,
      lastUsedAt: record.lastUsedAt?.toISOString() ?? null,
      revokedAt: record.revokedAt?.toISOString() ?? null,
      status: this.status(record, now),
    };
  }
}
