import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { LoggerService } from '@nestjs/common';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DomainException } from '../../src/common/errors/domain.exception.js';
import { MessageRenderer } from '../../src/modules/notifications/message-renderer.js';
import {
  TwilioMessageSender,
  type TwilioSenderOptions,
} from '../../src/modules/notifications/twilio-message.sender.js';

const ACCOUNT_SID = 'AC' + '0123456789abcdef'.repeat(2);
const AUTH_TOKEN = 'twilio-auth-token';
const SERVICE_SID = 'MG' + 'fedcba9876543210'.repeat(2);
const INVALID_NUMBER = '+525500000000';

/** One request as the fake Twilio API received it. */
interface Seen {
  method: string | undefined;
  path: string | undefined;
  authorization: string | undefined;
  contentType: string | undefined;
  form: Record<string, string>;
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

const silent: LoggerService = { log() {}, warn() {}, error() {} };

/**
 * A loopback server answering like Twilio's Messages API
 * (POST /2010-04-01/Accounts/{AccountSid}/Messages.json, HTTP basic auth, form body;
 * 201 with the message resource, or 4xx with {code, message, more_info, status}).
 */
describe('Twilio SMS channel against a loopback server speaking the Messages API', () => {
  let server: Server;
  let baseUrl: string;
  let seen: Seen[];

  beforeAll(async () => {
    server = createServer((request, response) => {
      void readBody(request).then((body) => {
        const form = Object.fromEntries(new URLSearchParams(body));
        seen.push({
          method: request.method,
          path: request.url,
          authorization: request.headers.authorization,
          contentType: request.headers['content-type'],
          form,
        });
        const json = (status: number, payload: unknown) => {
          response.writeHead(status, { 'content-type': 'application/json' });
          response.end(JSON.stringify(payload));
        };
        const expected = 'Basic ' + Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64');
        if (request.headers.authorization !== expected) {
          return json(401, {
            code: 20003,
            message: 'Authenticate',
            more_info: 'https://www.twilio.com/docs/errors/20003',
            status: 401,
          });
        }
        if (request.method !== 'POST' || request.url !== `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`) {
          return json(404, { code: 20404, message: 'Not found', status: 404 });
        }
        if (form.To === INVALID_NUMBER) {
          return json(400, {
            code: 21211,
            message: `Invalid 'To' Phone Number: ${INVALID_NUMBER}`,
            more_info: 'https://www.twilio.com/docs/errors/21211',
            status: 400,
          });
        }
        return json(201, {
          account_sid: ACCOUNT_SID,
          api_version: '2010-04-01',
          body: form.Body,
          date_created: 'Mon, 01 Dec 2025 18:00:00 +0000',
          date_sent: null,
          date_updated: 'Mon, 01 Dec 2025 18:00:00 +0000',
          direction: 'outbound-api',
          error_code: null,
          error_message: null,
          from: form.From ?? null,
          messaging_service_sid: form.MessagingServiceSid ?? null,
          num_media: '0',
          num_segments: '1',
          price: null,
          price_unit: 'USD',
          sid: 'SM' + 'a'.repeat(32),
          status: form.MessagingServiceSid ? 'accepted' : 'queued',
          subresource_uris: {},
          to: form.To,
          uri: `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/SM${'a'.repeat(32)}.json`,
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  beforeEach(() => {
    seen = [];
  });

  const sender = (overrides: Partial<TwilioSenderOptions> = {}) =>
    new TwilioMessageSender(
      { accountSid: ACCOUNT_SID, authToken: AUTH_TOKEN, from: '+15005550006', apiBaseUrl: baseUrl, ...overrides },
      new MessageRenderer(),
      silent,
    );

  it('posts the Spanish code SMS with basic auth, From, To, Body and the code validity', async () => {
    await sender().send({
      channel: 'SMS',
      to: '+525512345678',
      template: 'otp.login',
      params: { code: '482913', minutes: '10' },
    });
    expect(seen).toHaveLength(1);
    const [request] = seen as [Seen];
    expect(request.method).toBe('POST');
    expect(request.path).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
    expect(request.authorization).toBe('Basic ' + Buffer.from(`${ACCOUNT_SID}:${AUTH_TOKEN}`).toString('base64'));
    expect(request.contentType).toMatch(/^application\/x-www-form-urlencoded/);
    expect(request.form).toEqual({
      To: '+525512345678',
      From: '+15005550006',
      Body: 'MiInventario: tu codigo es 482913. Vence en 10 min. No lo compartas.',
      ValidityPeriod: '600',
    });
  });

  it('uses the messaging service instead of a From number when one is set', async () => {
    await sender({ from: undefined, messagingServiceSid: SERVICE_SID }).send({
      channel: 'SMS',
      to: '+525512345678',
      template: 'store.invitation',
      params: { storeName: 'Farmacia San José', role: 'OWNER', inviterName: 'Luis', acceptUrl: 'https://m.mx/i/7' },
    });
    expect(seen).toHaveLength(1);
    expect(seen[0]!.form).toEqual({
      To: '+525512345678',
      MessagingServiceSid: SERVICE_SID,
      Body: 'MiInventario: Luis te invito a la tienda Farmacia San José como Dueño. Acepta aqui: https://m.mx/i/7',
    });
  });

  it('fails with MESSAGE_DELIVERY_FAILED when Twilio answers 400 (invalid To)', async () => {
    const error = await sender()
      .send({ channel: 'SMS', to: INVALID_NUMBER, template: 'otp.login', params: { code: '482913', minutes: '10' } })
      .catch((caught: unknown) => caught);
    expect(seen).toHaveLength(1);
    expect(error).toBeInstanceOf(DomainException);
    expect(error).toMatchObject({ code: 'MESSAGE_DELIVERY_FAILED', status: 502 });
  });

  it('fails with MESSAGE_DELIVERY_FAILED on bad credentials (401) or an unreachable API', async () => {
    await expect(
      sender({ authToken: 'wrong' }).send({
        channel: 'SMS',
        to: '+525512345678',
        template: 'otp.login',
        params: { code: '482913', minutes: '10' },
      }),
    ).rejects.toMatchObject({ code: 'MESSAGE_DELIVERY_FAILED' });
    expect(seen).toHaveLength(1);

    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const closedUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await expect(
      sender({ apiBaseUrl: closedUrl }).send({
        channel: 'SMS',
        to: '+525512345678',
        template: 'otp.login',
        params: { code: '482913', minutes: '10' },
      }),
    ).rejects.toMatchObject({ code: 'MESSAGE_DELIVERY_FAILED' });
  });

  it('refuses e-mail: the Twilio channel only sends SMS', async () => {
    await expect(
      sender().send({
        channel: 'EMAIL',
        to: 'a@example.mx',
        template: 'otp.login',
        params: { code: '1234', minutes: '5' },
      }),
    ).rejects.toThrow(/cannot send EMAIL/);
    expect(seen).toHaveLength(0);
  });
});
