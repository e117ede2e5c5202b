import { describe, expect, it } from 'vitest';
import {
  cleanProductName,
  decodeHtmlEntities,
  diceCoefficient,
  guardedSimilarity,
  NAME_MATCH_THRESHOLD,
  nameSimilarity,
  normalizeProductName,
  productSimilarity,
  searchWords,
  trigrams,
  wordCoverage,
} from '../../src/modules/products/product-name.js';
import { decodeProductCursor, encodeProductCursor } from '../../src/modules/products/products.dto.js';

describe('product names: normalisation', () => {
  it('lower-cases, removes accents and collapses spaces', () => {
    expect(normalizeProductName('  Pingüinos   MARINELA\t')).toBe('pinguinos marinela');
    expect(normalizeProductName('Jalapeños En Escabeche LA COSTEÑA')).toBe('jalapenos en escabeche la costena');
    expect(normalizeProductName('Café\u00a0de olla')).toBe('cafe de olla');
  });

  it('decodes the HTML entities the Open Food Facts dump left in names', () => {
    expect(decodeHtmlEntities('Queso Asadero &quot;Aguascalientes&quot;')).toBe('Queso Asadero "Aguascalientes"');
    expect(decodeHtmlEntities('Tom &amp; Jerry &#39;x&#39; &#x41;')).toBe("Tom & Jerry 'x' A");
    expect(decodeHtmlEntities('&unknown; &#xD800;')).toBe('&unknown; &#xD800;');
  });

  it('cleans control characters and caps the length of display names', () => {
    expect(cleanProductName('Takis\nFuego\u0000 ')).toBe('Takis Fuego');
    expect(cleanProductName('x'.repeat(500))).toHaveLength(200);
  });
});

describe('product names: similarity', () => {
  it('makes pg_trgm-style trigrams (two spaces before a word, one after)', () => {
    expect([...trigrams('ab')].sort()).toEqual(['  a', ' ab', 'ab '].sort());
    expect(trigrams('')).toEqual(new Set());
    expect(diceCoefficient(new Set(['a']), new Set())).toBe(0);
  });

  it('keeps sibling flavours apart and matches the same product written differently', () => {
    expect(nameSimilarity('boing mango', 'Boing Fresa')).toBeCloseTo(0.5, 2);
    expect(nameSimilarity('takis original', 'Takis Fuego')).toBeCloseTo(0.444, 2);
    expect(nameSimilarity('pinguinos', 'Pingüinos Marinela')).toBeCloseTo(0.69, 2);
    expect(nameSimilarity('takis originales', 'Takis Original')).toBeCloseTo(0.875, 2);
    expect(nameSimilarity('marinela pinguinos', 'Pingüinos Marinela')).toBe(1);
    expect(nameSimilarity('boing mango', 'Boing Fresa')).toBeLessThan(NAME_MATCH_THRESHOLD);
    expect(nameSimilarity('takis originales', 'Takis Original')).toBeGreaterThanOrEqual(NAME_MATCH_THRESHOLD);
  });

  it('needs one name to be (nearly) contained in the other, not only shared word beginnings', () => {
    // Dice alone would pass this pair (0.65): "tamal" and "tamarindo" start alike.
    expect(nameSimilarity('dulce de tamarindo', 'tamal dulce')).toBeGreaterThan(NAME_MATCH_THRESHOLD);
    expect(guardedSimilarity('dulce de tamarindo', 'tamal dulce')).toBe(0);
    // Extra words on one side are fine when the other side is all there.
    expect(guardedSimilarity('takis fuego 90 g bolsa', 'takis fuego')).toBeGreaterThanOrEqual(NAME_MATCH_THRESHOLD);
    expect(guardedSimilarity('pinguinos', 'pinguinos marinela')).toBeCloseTo(0.69, 2);
    // Letters and digits are separate words: "600ml" = "600 ml".
    expect(guardedSimilarity(normalizeProductName('Coca-Cola 600ml'), normalizeProductName('coca cola 600 ml'))).toBe(
      1,
    );
    expect(wordCoverage(['pinguino'], ['pinguinos', 'marinela'])).toBe(1);
    expect(wordCoverage(['tamarindo'], ['tamal'])).toBe(0);
  });

  it('tries the brand with the name on both sides', () => {
    const product = { normalizedName: 'pinguinos marinela', brand: null };
    expect(productSimilarity({ name: 'Pingüinos', brand: 'Marinela' }, product)).toBe(1);
    expect(productSimilarity({ name: 'Pingüinos' }, product)).toBeCloseTo(0.69, 2);
    const branded = { normalizedName: 'pan blanco', brand: 'Bimbo' };
    expect(productSimilarity({ name: 'Bimbo Pan Blanco' }, branded)).toBe(1);
  });

  it('picks the longest distinct words of name and brand for the SQL candidate set', () => {
    expect(searchWords('Papas Sabritas sal', 'Sabritas')).toEqual(['sabritas', 'papas', 'sal']);
    expect(searchWords('7 up')).toEqual(['up', '7']);
    expect(searchWords('Coca-Cola 600ml')).toEqual(['coca', 'cola', '600']);
  });
});

describe('product list cursor', () => {
  it('round-trips and refuses anything else', () => {
    const position = { global: true, normalizedName: 'takis original', id: '0b6f3c0e-1f5a-4c1e-9d1e-3f1c2a4b5c6d' };
    expect(decodeProductCursor(encodeProductCursor(position))).toEqual(position);
    expect(decodeProductCursor('not-a-cursor')).toBeNull();
    expect(decodeProductCursor(Buffer.from('[1,"x","nope"]').toString('base64url'))).toBeNull();
  });
});
