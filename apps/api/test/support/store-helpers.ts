import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { CreditsService } from '../../src/modules/credits/credits.service.js';
import { bearer, signIn, uniquePhone, type SignedIn } from './auth-helpers.js';
import type { TestApp } from './test-app.js';

/**
 * A new account that owns a new store (`POST /api/v1/stores`, giro abarrotes) and has bought
 * `credits` credits on top of its welcome credit (a PURCHASE grant, as the payments issue makes).
 */
export async function ownerWithStore(
  api: TestApp,
  storeName: string,
  credits: number,
): Promise<{ owner: SignedIn; storeId: string }> {
  const owner = await signIn(api, uniquePhone());
  const store = await api.inject({
    method: 'POST',
    url: '/api/v1/stores',
    headers: bearer(owner),
    payload: { name: storeName, giro: 'abarrotes' },
  });
  expect(store.statusCode, store.body).toBe(201);
  const service = api.app.get(CreditsService);
  await service.grant({
    walletId: await service.walletForUser(owner.user.id),
    type: 'PURCHASE',
    credits,
    referenceId: randomUUID(),
    idempotencyKey: `test-purchase:${owner.user.id}`,
  });
  return { owner, storeId: store.json().id as string };
}
