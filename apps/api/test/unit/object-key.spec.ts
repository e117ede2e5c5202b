import { describe, expect, it } from 'vitest';
import { DomainException } from '../../src/common/errors/domain.exception.js';
import {
  InvalidObjectKeyException,
  assertValidObjectKey,
  assertValidObjectPrefix,
  attachmentDisposition,
  contentTypeForKey,
} from '../../src/modules/storage/object-key.js';
import { resolveTtlSeconds } from '../../src/modules/storage/object-storage.port.js';

describe('object keys', () => {
  it.each([
    'stores/0b6f2c3e-8d1a-4c59-9a57-1f0e2d3c4b5a/sessions/7c1d9e2f-3a4b-4c5d-8e6f-7a8b9c0d1e2f/frames/000012.jpg',
    'a',
    'A-b_c.d/e.tar.gz',
    `${'a'.repeat(255)}/${'b'.repeat(255)}/${'c'.repeat(255)}/${'d'.repeat(255)}`, // 1023 bytes
  ])('accepts %s', (key) => {
    expect(assertValidObjectKey(key)).toBe(key);
  });

  it.each([
    ['..', 'stores/../x.jpg', "'.' or '..'"],
    ['leading slash', '/x.jpg', "start with '/'"],
    ['NUL', 'x\0.jpg', 'NUL'],
    ['trailing slash', 'stores/', "end with '/'"],
    ['double slash', 'a//b', "'//'"],
    ['segment over 255 bytes', `a/${'b'.repeat(256)}`, 'longer than 255'],
    ['over 1024 bytes', `${'a'.repeat(255)}/${'b'.repeat(255)}/${'c'.repeat(255)}/${'d'.repeat(255)}/e`, '1024 bytes'],
    ['charset', 'a/b?c', 'letters, digits'],
    ['not a string', 42, 'non-empty string'],
  ])('refuses a key with %s, naming the rule', (_label, key, rule) => {
    let caught: unknown;
    try {
      assertValidObjectKey(key);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(InvalidObjectKeyException);
    const exception = caught as InvalidObjectKeyException;
    expect(exception.code).toBe('VALIDATION_FAILED');
    expect(exception.status).toBe(400);
    expect(exception.fieldErrors?.[0]).toMatchObject({ field: 'key', code: 'OBJECT_KEY_INVALID' });
    expect(exception.detail).toContain(rule);
  });

  it('takes prefixes ending with / or inside a segment, never empty or escaping', () => {
    expect(assertValidObjectPrefix('stores/a/sessions/b/')).toBe('stores/a/sessions/b/');
    expect(assertValidObjectPrefix('stores/a/fr')).toBe('stores/a/fr');
    for (const prefix of ['', '/', '../', 'a//', 'a/../']) {
      expect(() => assertValidObjectPrefix(prefix), prefix).toThrow(InvalidObjectKeyException);
    }
  });
});

describe('content types by extension', () => {
  it.each([
    ['x/frame.jpg', 'image/jpeg'],
    ['x/FRAME.JPEG', 'image/jpeg'],
    ['x/thumb.png', 'image/png'],
    ['x/report.pdf', 'application/pdf'],
    ['x/report.json', 'application/json'],
    ['x/report.xlsx', 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet'],
    ['x/video.mp4', 'video/mp4'],
    ['x/video.mov', 'video/quicktime'],
    ['x/page.html', 'application/octet-stream'],
    ['x/image.svg', 'application/octet-stream'],
    ['x/noextension', 'application/octet-stream'],
    ['x.dir/noextension', 'application/octet-stream'],
  ])('%s → %s', (key, type) => {
    expect(contentTypeForKey(key)).toBe(type);
  });
});

describe('attachment Content-Disposition (RFC 6266, RFC 8187)', () => {
  it('keeps ASCII names and encodes the rest in filename*', () => {
    expect(attachmentDisposition('inventario.pdf')).toBe(
      `attachment; filename="inventario.pdf"; filename*=UTF-8''inventario.pdf`,
    );
    expect(attachmentDisposition(`Conteo "Doña" (1)'s.csv`)).toBe(
      `attachment; filename="Conteo _Do_a_ (1)'s.csv"; filename*=UTF-8''Conteo%20%22Do%C3%B1a%22%20%281%29%27s.csv`,
    );
  });

  it.each([[''], ['   '], ['a\r\nSet-Cookie: x=1'], ['x'.repeat(256)]])('refuses %j', (name) => {
    expect(() => attachmentDisposition(name)).toThrow(DomainException);
  });
});

describe('signed URL ttl', () => {
  it('defaults to the configured ttl and accepts 1 s – 7 days only', () => {
    expect(resolveTtlSeconds(undefined, 900)).toBe(900);
    expect(resolveTtlSeconds(1, 900)).toBe(1);
    expect(resolveTtlSeconds(604800, 900)).toBe(604800);
    for (const ttl of [0, 604801, 2.5, Number.NaN]) expect(() => resolveTtlSeconds(ttl, 900)).toThrow(DomainException);
  });
});
