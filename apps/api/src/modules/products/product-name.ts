/**
 * Product-name normalisation and similarity (issue 6 "Products catalogue": "normalised
 * name/brand similarity for vision results"). Pure functions, no I/O.
 *
 * **Measure.** The Sørensen–Dice coefficient of the two names' trigram sets,
 * `2·|A∩B| / (|A| + |B|)`, 0–1. Trigrams are made as PostgreSQL's pg_trgm makes them
 * (https://www.postgresql.org/docs/current/pgtrgm.html): each word is padded with two spaces in
 * front and one behind, and every three consecutive characters form a trigram. Words are runs of
 * letters or runs of digits of the normalised text ("600ml" is "600" + "ml", so it equals
 * "600 ml"). Word order does not matter ("marinela pinguinos" = "pinguinos marinela"), one typo
 * costs only the trigrams around it, and extra words lower the score in proportion to their
 * length. Dice is used rather than pg_trgm's Jaccard `similarity()` because it is kinder to a
 * short vision name against a longer catalogue name (Dice = 2J / (1 + J)).
 *
 * **Containment guard.** Trigrams alone reward shared word beginnings ("tamal dulce" and "dulce
 * de tamarindo" share "dulce" and "  t", " ta", "tam", "ama": Dice 0.65). So a pair also needs
 * one name's words to be (nearly) all in the other: at least {@link MIN_WORD_CONTAINMENT} of the
 * characters of one side's words must belong to words that have a close counterpart on the other
 * side (word Dice ≥ {@link CLOSE_WORD_SIMILARITY}, which still forgives one typo or a plural in a
 * long word). A detection with extra words ("takis fuego 90 g bolsa") or a catalogue name with
 * the brand added ("pingüinos marinela") passes; two names that only share some words do not.
 *
 * **Threshold.** {@link NAME_MATCH_THRESHOLD} = 0.6 on the Dice score. Picked on the seeded
 * catalogue: sibling flavours of one brand stay apart ("boing mango" vs "boing fresa" = 0.50,
 * "takis original" vs "takis fuego" = 0.44), while the same product with its brand, a missing
 * accent or reordered words matches ("pinguinos" vs "pingüinos marinela" = 0.69, "takis
 * originales" vs "takis original" = 0.88). `test/unit/products-matching.spec.ts` pins these values.
 */

/** Lowest Dice score at which a name-only candidate matches a product. */
export const NAME_MATCH_THRESHOLD = 0.6;

/** Share (by characters) of one name's words that must have a close word in the other name. */
export const MIN_WORD_CONTAINMENT = 0.8;

/** Word-to-word Dice at or above which two words count as the same word. */
export const CLOSE_WORD_SIMILARITY = 0.7;

/** Longest name kept (characters); longer names are cut. */
export const MAX_PRODUCT_NAME_LENGTH = 200;

const NAMED_ENTITIES: Record<string, string> = {
  quot: '"',
  amp: '&',
  apos: "'",
  lt: '<',
  gt: '>',
  nbsp: ' ',
};

/**
 * Decodes the HTML character references the Open Food Facts dump left in names (`&quot;`,
 * `&amp;`, `&#39;`, `&#x27;`…): the five XML entities, `&nbsp;` and numeric references.
 * Anything else is left as it is.
 */
export function decodeHtmlEntities(value: string): string {
  return value.replace(/&(#x[0-9a-f]{1,6}|#[0-9]{1,7}|[a-z]{2,6});/gi, (match, body: string) => {
    if (body[0] === '#') {
      const code = body[1] === 'x' || body[1] === 'X' ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
      return code > 0 && code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff) ? String.fromCodePoint(code) : match;
    }
    return NAMED_ENTITIES[body.toLowerCase()] ?? match;
  });
}

/**
 * A display name as stored: control characters become spaces, runs of white space become one
 * space, trimmed, at most {@link MAX_PRODUCT_NAME_LENGTH} characters. Case and accents are kept.
 */
export function cleanProductName(value: string): string {
  return (
    value
      // eslint-disable-next-line no-control-regex
      .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
      .replace(/\s+/g, ' ')
      .trim()
      .slice(0, MAX_PRODUCT_NAME_LENGTH)
      .trim()
  );
}

/**
 * The searchable form of a name (`inventory.products.normalized_name`): lower-case, accents
 * and other combining marks removed (NFD, so "ñ" → "n", "ü" → "u"), white space collapsed,
 * trimmed. Punctuation is kept; similarity and search split words on it.
 */
export function normalizeProductName(value: string): string {
  return cleanProductName(value)
    .normalize('NFD')
    .replace(/\p{M}+/gu, '')
    .toLowerCase()
    .replace(/\s+/g, ' ')
    .trim();
}

/** The words of a normalised text: runs of letters, and runs of digits (everything else separates). */
export function nameWords(normalized: string): string[] {
  return normalized.match(/\p{L}+|\p{N}+/gu) ?? [];
}

/** pg_trgm-style trigrams of a normalised text (see the module comment). */
export function trigrams(normalized: string): Set<string> {
  const grams = new Set<string>();
  for (const word of nameWords(normalized)) {
    const padded = `  ${word} `;
    const chars = Array.from(padded);
    for (let i = 0; i + 3 <= chars.length; i += 1) grams.add(chars.slice(i, i + 3).join(''));
  }
  return grams;
}

/** Sørensen–Dice coefficient of two trigram sets, 0–1 (0 when both are empty). */
export function diceCoefficient(a: ReadonlySet<string>, b: ReadonlySet<string>): number {
  if (a.size === 0 || b.size === 0) return 0;
  let shared = 0;
  const [small, large] = a.size <= b.size ? [a, b] : [b, a];
  for (const gram of small) if (large.has(gram)) shared += 1;
  return (2 * shared) / (a.size + b.size);
}

/** Dice similarity of two names (normalised here), 0–1, without the containment guard. */
export function nameSimilarity(a: string, b: string): number {
  return diceCoefficient(trigrams(normalizeProductName(a)), trigrams(normalizeProductName(b)));
}

/**
 * Share of the characters of `words` that sit in words with a close counterpart in `others`
 * (same word, or word Dice ≥ {@link CLOSE_WORD_SIMILARITY}), 0–1.
 */
export function wordCoverage(words: string[], others: string[]): number {
  const total = words.reduce((sum, word) => sum + word.length, 0);
  if (total === 0) return 0;
  const otherGrams = others.map((other) => ({ other, grams: trigrams(other) }));
  let covered = 0;
  for (const word of words) {
    const grams = trigrams(word);
    const close = otherGrams.some(
      ({ other, grams: theirs }) => other === word || diceCoefficient(grams, theirs) >= CLOSE_WORD_SIMILARITY,
    );
    if (close) covered += word.length;
  }
  return covered / total;
}

/**
 * Similarity of two normalised names with the containment guard: their Dice score when one
 * name's words are at least {@link MIN_WORD_CONTAINMENT} covered by the other's, else 0.
 */
export function guardedSimilarity(a: string, b: string): number {
  const wordsA = nameWords(a);
  const wordsB = nameWords(b);
  if (Math.max(wordCoverage(wordsA, wordsB), wordCoverage(wordsB, wordsA)) < MIN_WORD_CONTAINMENT) return 0;
  return diceCoefficient(trigrams(a), trigrams(b));
}

/**
 * How well a detected `name` (+ optional `brand`) fits a product, 0–1: the best
 * {@link guardedSimilarity} among the pairings "name" / "brand name" of the detection against
 * "name" / "brand name" of the product. Catalogue names often carry the brand and vision
 * results often give it apart (or the other way round), so both forms are tried.
 */
export function productSimilarity(
  detection: { name: string; brand?: string | null },
  product: { normalizedName: string; brand: string | null },
): number {
  const name = normalizeProductName(detection.name);
  const brand = detection.brand ? normalizeProductName(detection.brand) : '';
  const queries = [name];
  if (brand && !name.includes(brand)) queries.push(`${brand} ${name}`);
  const targets = [product.normalizedName];
  const productBrand = product.brand ? normalizeProductName(product.brand) : '';
  if (productBrand && !product.normalizedName.includes(productBrand)) {
    targets.push(`${productBrand} ${product.normalizedName}`);
  }
  let best = 0;
  for (const query of queries) for (const target of targets) best = Math.max(best, guardedSimilarity(query, target));
  return best;
}

/**
 * Words of a detected name (+ brand) used to fetch a bounded set of candidate products by SQL
 * (`normalized_name LIKE '%word%'`): the distinct words of at least 3 characters (all words
 * when none is that long), longest first, at most `max`.
 */
export function searchWords(name: string, brand?: string | null, max = 6): string[] {
  const words = [...new Set(nameWords(normalizeProductName(`${brand ?? ''} ${name}`)))];
  const long = words.filter((word) => Array.from(word).length >= 3);
  return (long.length > 0 ? long : words).sort((a, b) => b.length - a.length || a.localeCompare(b)).slice(0, max);
}
