import { expect } from 'vitest';
import type { TestApp } from './test-app.js';

/** Tokens and account returned by `POST /auth/otp/verify`. */
export interface SignedIn {
  accessToken: string;
  refreshToken: string;
  sessionId: string;
  user: { id: string; phone: string | null; email: string | null; role: string };
  isNewUser: boolean;
}

let phoneCounter = 0;

/** A distinct valid Mexican mobile number per call (E.164 without spaces is accepted too). */
export function uniquePhone(): string {
  phoneCounter += 1;
  const suffix = String((process.pid * 7919 + phoneCounter * 104729 + Date.now()) % 1e8).padStart(8, '0');
  return `+5255${suffix}`;
}

/** The newest code the console channel sent to `to`, read from the dev outbox. */
export async function readCode(testApp: TestApp, to: string): Promise<string> {
  const response = await testApp.app.inject({ method: 'GET', url: `/api/v1/dev/outbox?to=${encodeURIComponent(to)}` });
  expect(response.statusCode).toBe(200);
  const items = response.json().items as Array<{ params: Record<string, string> }>;
  const code = items[0]?.params.code;
  if (!code) throw new Error(`no code in the outbox for ${to}`);
  return code;
}

/** Asks for a code for `identifier` (expects 202). */
export async function requestCode(testApp: TestApp, identifier: string): Promise<void> {
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/api/v1/auth/otp/request',
    payload: { identifier },
  });
  expect(response.statusCode, response.body).toBe(202);
}

/** Full sign-in through HTTP: ask for a code, read it from the outbox, verify it. */
export async function signIn(
  testApp: TestApp,
  identifier: string = uniquePhone(),
  referralCode?: string,
): Promise<SignedIn> {
  await requestCode(testApp, identifier);
  const code = await readCode(testApp, identifier);
  const response = await testApp.app.inject({
    method: 'POST',
    url: '/api/v1/auth/otp/verify',
    payload: { identifier, code, ...(referralCode ? { referralCode } : {}) },
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as SignedIn;
}

/** `Authorization` header for a signed-in person. */
export function bearer(session: { accessToken: string }): Record<string, string> {
  return { authorization: `Bearer ${session.accessToken}` };
}
