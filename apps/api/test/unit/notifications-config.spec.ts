import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/env.schema.js';

const SID = 'AC' + '0123456789abcdef'.repeat(2);
const MESSAGING_KEYS = /^(MESSAGE_|SMTP_|EMAIL_|TWILIO_)/;

/** The configuration issues about outbound messages (other modules' rules are ignored). */
function messagingIssues(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.issues.filter((issue) => MESSAGING_KEYS.test(issue));
  }
}

describe('outbound-message configuration', () => {
  it('defaults to the console channel for SMS and e-mail with the MiInventario sender', () => {
    const config = loadConfig({});
    expect(config.MESSAGE_SMS_CHANNEL).toBe('console');
    expect(config.MESSAGE_EMAIL_CHANNEL).toBe('console');
    expect(config.MESSAGE_CONSOLE_IN_PRODUCTION).toBe(false);
    expect(config.EMAIL_FROM).toBe('MiInventario <no-reply@miinventario.mx>');
  });

  it('refuses the smtp channel without a server', () => {
    expect(messagingIssues({ MESSAGE_EMAIL_CHANNEL: 'smtp' })).toEqual([
      'SMTP_HOST: MESSAGE_EMAIL_CHANNEL=smtp needs SMTP_URL or SMTP_HOST',
    ]);
    expect(messagingIssues({ MESSAGE_EMAIL_CHANNEL: 'smtp', SMTP_HOST: 'mail.example.mx', SMTP_USER: 'u' })).toEqual([
      'SMTP_PASSWORD: set SMTP_USER and SMTP_PASSWORD together',
    ]);
    expect(messagingIssues({ MESSAGE_EMAIL_CHANNEL: 'smtp', SMTP_URL: 'https://mail.example.mx' })).toEqual([
      expect.stringMatching(/^SMTP_URL: /),
    ]);
    expect(messagingIssues({ MESSAGE_EMAIL_CHANNEL: 'smtp', SMTP_URL: 'smtps://u:p@mail.example.mx:465' })).toEqual([]);
  });

  it('refuses the twilio channel without credentials and a sender', () => {
    const issues = messagingIssues({ MESSAGE_SMS_CHANNEL: 'twilio' });
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatch(/^TWILIO_ACCOUNT_SID: .*TWILIO_AUTH_TOKEN/);
    expect(issues[1]).toMatch(/^TWILIO_FROM: .*TWILIO_MESSAGING_SERVICE_SID/);
    expect(
      messagingIssues({
        MESSAGE_SMS_CHANNEL: 'twilio',
        TWILIO_ACCOUNT_SID: 'SK123',
        TWILIO_AUTH_TOKEN: 't',
        TWILIO_FROM: '5512345678',
      }),
    ).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^TWILIO_ACCOUNT_SID: /),
        expect.stringMatching(/^TWILIO_FROM: .*E\.164/),
      ]),
    );
    const ok = { MESSAGE_SMS_CHANNEL: 'twilio', TWILIO_ACCOUNT_SID: SID, TWILIO_AUTH_TOKEN: 'token' };
    expect(messagingIssues({ ...ok, TWILIO_FROM: '+15005550006' })).toEqual([]);
    expect(messagingIssues({ ...ok, TWILIO_MESSAGING_SERVICE_SID: 'MG' + 'a'.repeat(32) })).toEqual([]);
  });

  it('refuses the console channel in production unless explicitly accepted', () => {
    const issues = messagingIssues({ NODE_ENV: 'production' });
    expect(issues).toHaveLength(2);
    expect(issues[0]).toMatch(/^MESSAGE_SMS_CHANNEL: production sends no SMS/);
    expect(issues[1]).toMatch(/^MESSAGE_EMAIL_CHANNEL: production sends no e-mail/);
    expect(messagingIssues({ NODE_ENV: 'production', MESSAGE_CONSOLE_IN_PRODUCTION: 'true' })).toEqual([]);
    expect(
      messagingIssues({
        NODE_ENV: 'production',
        MESSAGE_SMS_CHANNEL: 'twilio',
        TWILIO_ACCOUNT_SID: SID,
        TWILIO_AUTH_TOKEN: 'token',
        TWILIO_FROM: '+15005550006',
        MESSAGE_EMAIL_CHANNEL: 'smtp',
        SMTP_HOST: 'mail.example.mx',
      }),
    ).toEqual([]);
  });
});
