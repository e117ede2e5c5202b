import { readFileSync } from 'node:fs';
import { createInstance, type i18n as I18n } from 'i18next';
import type { MessageChannel, MessageTemplate, MessageTemplates, OutboundMessage } from './message-sender.port.js';
import { toGsm7 } from './sms-encoding.js';

/** The locale of every outbound message (CONVENTIONS "Names": what a shop owner reads is es-MX). */
export const MESSAGE_LOCALE = 'es-MX';

/**
 * The parameters each template needs, checked at render time. A mapped type, so adding
 * a template to {@link MessageTemplates} without listing it here does not compile.
 */
export const TEMPLATE_PARAMS: { readonly [T in MessageTemplate]: readonly (keyof MessageTemplates[T])[] } = {
  'otp.login': ['code', 'minutes'],
  'otp.change-contact': ['code', 'minutes'],
  'store.invitation': ['storeName', 'role', 'inviterName', 'acceptUrl'],
};

/** Every template name, in declaration order. */
export const MESSAGE_TEMPLATES = Object.keys(TEMPLATE_PARAMS) as MessageTemplate[];

/** Store membership roles an invitation may carry; rendered as "Dueño" / "Operador". */
export const INVITATION_ROLES = ['OWNER', 'OPERATOR'] as const;

/** Longest parameter value kept (characters); longer free text (a store name) is cut. */
const MAX_PARAM_LENGTH = 200;

/** A message rendered to the exact text a channel sends. */
export interface RenderedMessage {
  channel: MessageChannel;
  to: string;
  template: MessageTemplate;
  /** E-mail subject (EMAIL only); never contains the one-time code. */
  subject?: string;
  /** SMS body (GSM-7-folded, see `toGsm7`) or e-mail plain-text part. */
  text: string;
  /** E-mail HTML part (EMAIL only); every parameter is HTML-escaped. */
  html?: string;
  /** The cleaned parameters the text was rendered from. */
  params: Record<string, string>;
}

function loadResource(): Record<string, unknown> {
  const url = new URL(`./i18n/${MESSAGE_LOCALE}.json`, import.meta.url);
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

function escapeHtml(value: string): string {
  return value
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Control characters (CR/LF included) become spaces so no parameter can add a header line or break a layout. */
function cleanParam(value: unknown): string {
  return (
    String(value ?? '')
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
      .trim()
      .slice(0, MAX_PARAM_LENGTH)
  );
}

/**
 * Renders an {@link OutboundMessage} into Spanish (es-MX) text with i18next, from the
 * resource file `i18n/es-MX.json` (keys `<template>.sms`, `<template>.email.subject`,
 * `<template>.email.text`, `<template>.email.html`, `role.<ROLE>`).
 *
 * - SMS: one short text, folded to the GSM-7 alphabet so a one-time-code message fits
 *   one 160-character segment (3GPP TS 23.038; see `sms-encoding.ts`).
 * - EMAIL: subject, plain text and a simple HTML part. The subject never carries the
 *   code (it shows in lock-screen previews and mailbox lists; OWASP ASVS 5.0 V6.6).
 *
 * The constructor checks that the resource has every key of every template and throws
 * `Error` when one is missing, so a broken translation file stops the boot.
 */
export class MessageRenderer {
  private readonly i18n: I18n;

  /** @param resource the translation tree; defaults to the bundled `i18n/es-MX.json`. */
  constructor(resource: Record<string, unknown> = loadResource()) {
    this.i18n = createInstance();
    void this.i18n.init({
      lng: MESSAGE_LOCALE,
      fallbackLng: false,
      initAsync: false,
      resources: { [MESSAGE_LOCALE]: { translation: resource } },
      // SMS and plain text are not HTML; the HTML part turns escaping back on.
      interpolation: { escapeValue: false },
      missingInterpolationHandler: (_text, match: RegExpExecArray) => {
        throw new Error(`message text uses {{${match[1]}}}, which its template does not provide`);
      },
    });
    this.assertComplete();
  }

  /**
   * Renders one message.
   *
   * @param message channel, recipient, template and its parameters (see {@link MessageTemplates}).
   * @returns the texts the channel sends; see {@link RenderedMessage}.
   * @throws Error for a programming error: a missing parameter, a code that is not 4–10 digits,
   *   an unknown role, an accept URL that is not http(s), or a subject that would show the code.
   */
  render(message: OutboundMessage): RenderedMessage {
    const params = this.cleanParams(message);
    const vars: Record<string, string> = { ...params };
    if (message.template === 'store.invitation') {
      vars.role = this.i18n.t(`role.${params.role}`);
      vars.roleDescription = this.i18n.t(`roleDescription.${params.role}`);
    }
    const base = message.template;
    const common = { channel: message.channel, to: message.to, template: message.template, params };
    if (message.channel === 'SMS') {
      return { ...common, text: toGsm7(this.i18n.t(`${base}.sms`, vars)) };
    }
    const subject = this.i18n.t(`${base}.email.subject`, vars);
    if (params.code && subject.includes(params.code)) {
      throw new Error(`the subject of ${base} would show the one-time code`);
    }
    const footer = this.i18n.t('email.footer');
    const text = `${this.i18n.t(`${base}.email.text`, vars)}\n\n--\n${footer}\n`;
    const body = this.i18n.t(`${base}.email.html`, { ...vars, interpolation: { escapeValue: true } });
    const html =
      `<!doctype html>\n<html lang="${MESSAGE_LOCALE}"><head><meta charset="utf-8">` +
      `<title>${escapeHtml(subject)}</title></head>` +
      '<body style="margin:0;padding:24px;background:#f5f5f4;font-family:Arial,Helvetica,sans-serif;color:#1c1917">' +
      '<div style="max-width:560px;margin:0 auto;padding:24px;background:#ffffff;border-radius:8px;font-size:16px;line-height:1.5">' +
      `${body}<hr style="border:none;border-top:1px solid #e7e5e4">` +
      `<p style="font-size:12px;color:#78716c">${escapeHtml(footer)}</p></div></body></html>\n`;
    return { ...common, subject, text, html };
  }

  private cleanParams(message: OutboundMessage): Record<string, string> {
    const names = TEMPLATE_PARAMS[message.template] as readonly string[] | undefined;
    if (!names) throw new Error(`unknown message template ${String(message.template)}`);
    const given = message.params as unknown as Record<string, unknown>;
    const params: Record<string, string> = {};
    for (const name of names) {
      const value = cleanParam(given[name]);
      if (value.length === 0) throw new Error(`message ${message.template} needs the parameter ${name}`);
      params[name] = value;
    }
    if (params.code !== undefined && !/^[0-9]{4,10}$/.test(params.code)) {
      throw new Error(`message ${message.template}: the code must be 4 to 10 digits`);
    }
    if (params.minutes !== undefined && !/^[0-9]{1,4}$/.test(params.minutes)) {
      throw new Error(`message ${message.template}: minutes must be a whole number`);
    }
    if (params.role !== undefined && !(INVITATION_ROLES as readonly string[]).includes(params.role)) {
      throw new Error(`message ${message.template}: role must be one of ${INVITATION_ROLES.join(', ')}`);
    }
    if (params.acceptUrl !== undefined) {
      let protocol = '';
      try {
        protocol = new URL(params.acceptUrl).protocol;
      } catch {
        // handled below
      }
      if (protocol !== 'https:' && protocol !== 'http:') {
        throw new Error(`message ${message.template}: acceptUrl must be an http(s) URL`);
      }
    }
    return params;
  }

  private assertComplete(): void {
    const missing: string[] = [];
    for (const template of MESSAGE_TEMPLATES) {
      for (const key of ['sms', 'email.subject', 'email.text', 'email.html']) {
        if (!this.i18n.exists(`${template}.${key}`)) missing.push(`${template}.${key}`);
      }
    }
    for (const role of INVITATION_ROLES) {
      for (const key of [`role.${role}`, `roleDescription.${role}`]) {
        if (!this.i18n.exists(key)) missing.push(key);
      }
    }
    if (!this.i18n.exists('email.footer')) missing.push('email.footer');
    if (missing.length > 0) {
      throw new Error(`the ${MESSAGE_LOCALE} message texts lack: ${missing.join(', ')}`);
    }
  }
}
