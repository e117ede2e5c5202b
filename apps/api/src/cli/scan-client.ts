import { randomUUID } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { basename, extname } from 'node:path';
import * as tus from 'tus-js-client';

/** A report line as `GET /inventory-sessions/{id}/report` returns it (the fields the CLIs use). */
export interface ScanLine {
  gtin: string | null;
  name: string;
  brand: string | null;
  quantity: number;
  confidence: number;
  needsReview: boolean;
  evidence: { url: string | null };
}

/** What one scan produced. */
export interface ScanResult {
  sessionId: string;
  state: 'READY' | 'FAILED';
  failureCode: string | null;
  report: {
    lines: ScanLine[];
    totals: { lines: number; units: number; linesToReview: number };
    session: { provider: string | null; model: string | null; framesUsed: number | null; resultMessage: string | null };
  } | null;
  /** Wall time from session start to READY/FAILED, milliseconds. */
  elapsedMs: number;
}

const MIME: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mov': 'video/quicktime',
  '.webm': 'video/webm',
  '.3gp': 'video/3gpp',
};

/**
 * A small client of the MiInventario API for the `scan` and `eval` CLIs: signs in with a
 * one-time code read from the dev outbox (console channel, loopback only), then drives a
 * session like the app does: store, session (402 → an admin top-up when allowed), tus upload,
 * wait, report. Uses only the public HTTP API.
 */
export class ScanClient {
  private token = '';
  private userId = '';
  private admin = false;

  /**
   * @param sessionFile where the CLI keeps its refresh token between runs (mode 600), so a run
   *   refreshes its session instead of asking for a new one-time code (codes are limited to one
   *   per minute and five per hour per identifier).
   */
  constructor(
    readonly baseUrl: string,
    private readonly identifier: string,
    private readonly log: (line: string) => void = () => undefined,
    private readonly sessionFile: string | null = null,
  ) {}

  /**
   * Signs in: refreshes the session saved in `sessionFile` when there is one, else signs in (or
   * up) with a code read from `GET /api/v1/dev/outbox`.
   */
  async signIn(): Promise<void> {
    if (await this.resume()) return;
    await this.call('POST', '/api/v1/auth/otp/request', { identifier: this.identifier }, [202]);
    const outbox = await this.call(
      'GET',
      `/api/v1/dev/outbox?to=${encodeURIComponent(this.identifier)}`,
      undefined,
      [200],
    );
    const code = (outbox as { items: Array<{ params: { code?: string } }> }).items[0]?.params.code;
    if (!code) throw new Error('No code in the dev outbox: the API must use the console message channel.');
    const verified = (await this.call(
      'POST',
      '/api/v1/auth/otp/verify',
      { identifier: this.identifier, code },
      [200, 201],
    )) as { accessToken: string; refreshToken: string; user: { id: string; role: string } };
    this.token = verified.accessToken;
    this.userId = verified.user.id;
    this.admin = verified.user.role === 'ADMIN';
    await this.save(verified.refreshToken);
  }

  /** Refreshes the saved session; false when there is none or it is no longer valid. */
  private async resume(): Promise<boolean> {
    if (!this.sessionFile) return false;
    let saved: Record<string, string>;
    try {
      saved = JSON.parse(await readFile(this.sessionFile, 'utf8')) as Record<string, string>;
    } catch {
      return false;
    }
    const refreshToken = saved[this.identifier];
    if (!refreshToken) return false;
    const response = await this.raw('POST', '/api/v1/auth/refresh', { refreshToken });
    if (response.status !== 200 && response.status !== 201) return false;
    const pair = (await response.json()) as { accessToken: string; refreshToken: string };
    this.token = pair.accessToken;
    await this.save(pair.refreshToken);
    const me = (await this.call('GET', '/api/v1/me', undefined, [200])) as { id: string; role: string };
    this.userId = me.id;
    this.admin = me.role === 'ADMIN';
    return true;
  }

  private async save(refreshToken: string): Promise<void> {
    if (!this.sessionFile) return;
    let saved: Record<string, string> = {};
    try {
      saved = JSON.parse(await readFile(this.sessionFile, 'utf8')) as Record<string, string>;
    } catch {
      // first run
    }
    saved[this.identifier] = refreshToken;
    await mkdir(dirname(this.sessionFile), { recursive: true });
    await writeFile(this.sessionFile, JSON.stringify(saved), { mode: 0o600 });
    await chmod(this.sessionFile, 0o600);
  }

  /** Sets the active vision provider (admin setting). */
  async setProvider(provider: string): Promise<void> {
    if (!this.admin) throw new Error(`--provider needs an ADMIN account (${this.identifier} is not one).`);
    await this.call('PUT', '/api/v1/admin/settings/vision_provider', { value: provider }, [200]);
  }

  /** The first store of the account, or a new one named `name`. */
  async store(name: string): Promise<string> {
    const stores = (await this.call('GET', '/api/v1/stores', undefined, [200])) as { items: Array<{ id: string }> };
    if (stores.items[0]) return stores.items[0].id;
    const created = (await this.call('POST', '/api/v1/stores', { name, giro: 'abarrotes' }, [201])) as { id: string };
    return created.id;
  }

  /** Uploads `file` as a new inventory session of `storeId` and waits for READY or FAILED. */
  async scan(storeId: string, file: string, options: { timeoutMs?: number } = {}): Promise<ScanResult> {
    const started = Date.now();
    const session = await this.startSession(storeId);
    const size = statSync(file).size;
    await new Promise<void>((resolve, reject) => {
      const upload = new tus.Upload(createReadStream(file), {
        endpoint: `${this.baseUrl}/api/v1/uploads`,
        headers: { authorization: `Bearer ${this.token}` },
        uploadSize: size,
        chunkSize: 16 * 1024 * 1024,
        metadata: {
          sessionId: session,
          filename: basename(file),
          filetype: MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
        },
        retryDelays: [0, 1000, 3000, 5000],
        onError: reject,
        onSuccess: () => resolve(),
      });
      upload.start();
    }).catch((error: unknown) => {
      // A refused upload (e.g. 415) has already failed the session: report it like any failure.
      this.log(`upload refused: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`);
    });
    const deadline = Date.now() + (options.timeoutMs ?? 10 * 60_000);
    let last = '';
    for (;;) {
      const state = (await this.call('GET', `/api/v1/inventory-sessions/${session}`, undefined, [200])) as {
        state: string;
        progress: number;
        failureCode: string | null;
      };
      const line = `${state.state} ${state.progress}%`;
      if (line !== last) this.log(line);
      last = line;
      if (state.state === 'READY' || state.state === 'FAILED') {
        const report =
          state.state === 'READY'
            ? ((await this.call(
                'GET',
                `/api/v1/inventory-sessions/${session}/report`,
                undefined,
                [200],
              )) as ScanResult['report'])
            : null;
        return {
          sessionId: session,
          state: state.state,
          failureCode: state.failureCode,
          report,
          elapsedMs: Date.now() - started,
        };
      }
      if (Date.now() > deadline) throw new Error(`session ${session} still ${state.state} after the timeout`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  private async startSession(storeId: string): Promise<string> {
    const path = `/api/v1/stores/${storeId}/inventory-sessions`;
    const key = randomUUID();
    let response = await this.raw('POST', path, { idempotencyKey: key });
    if (response.status === 402 && this.admin) {
      this.log('no credit left: an admin adjustment adds 1 credit (scan CLI)');
      await this.call(
        'POST',
        `/api/v1/admin/credits/wallets/${this.userId}/adjustments`,
        { credits: 1, reason: 'scan CLI top-up', idempotencyKey: `scan-topup-${key}` },
        [200, 201],
      );
      response = await this.raw('POST', path, { idempotencyKey: key });
    }
    if (response.status === 402) {
      throw new Error(
        `${this.identifier} has no credit left. Let the CLI top itself up by making it an admin of the API it talks ` +
          `to (ADMIN_IDENTIFIERS=${this.identifier} npm start), grant it credits (POST /api/v1/admin/credits/` +
          `wallets/${this.userId}/adjustments), or run without a server so the CLI starts its own.`,
      );
    }
    if (response.status !== 201) {
      throw new Error(`starting a session answered ${response.status}: ${await response.text()}`);
    }
    return ((await response.json()) as { id: string }).id;
  }

  private raw(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }

  private async call(method: string, path: string, body: unknown, expected: number[]): Promise<unknown> {
    const response = await this.raw(method, path, body);
    const text = await response.text();
    if (!expected.includes(response.status)) throw new Error(`${method} ${path} → ${response.status}: ${text}`);
    return text ? (JSON.parse(text) as unknown) : null;
  }
}
