import { createHash } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { Inject, Injectable, Logger, type OnApplicationBootstrap } from '@nestjs/common';
import { parse } from 'csv-parse';
import type { DataSource } from 'typeorm';
import { CLOCK, type Clock } from '../../common/time/clock.js';
import { APP_DATA_SOURCE } from '../../database/database.constants.js';
import { TransactionService } from '../../database/transaction.service.js';
import { isValidGtin, toGtin14 } from '../vision/gtin.js';
import { cleanProductName, decodeHtmlEntities, normalizeProductName } from './product-name.js';
import { CATALOG_SEED_SETTING, ProductsRepository, type CatalogRowInput } from './products.repository.js';

/** File name of the bundled catalogue (see apps/api/data/catalog/README.md). */
export const CATALOG_FILE_NAME = 'openfoodfacts_mx_lifyzer_2019.csv';

/** Rows per INSERT statement. */
const BATCH_SIZE = 500;

/** What one seeding run did. `read = inserted + invalid + duplicates`. */
export interface CatalogSeedResult {
  /** Data rows read from the file (header and empty lines excluded). */
  read: number;
  /** Global products inserted. */
  inserted: number;
  /** Rows skipped: barcode not an 8/12/13/14-digit GTIN with a valid check digit, or empty name. */
  invalid: number;
  /** Valid rows not inserted: their GTIN-14 was already in the catalogue or earlier in the file. */
  duplicates: number;
  /** true when the file (same SHA-256) was already seeded: nothing was read. */
  skipped: boolean;
  /** SHA-256 (hex) of the file. */
  sha256: string;
}

/** The marker written to `admin.settings` (key {@link CATALOG_SEED_SETTING}) after a seed. */
interface SeedMarker {
  file: string;
  sha256: string;
  read: number;
  inserted: number;
  invalid: number;
  duplicates: number;
  seededAt: string;
}

/**
 * The folder of the `@miinventario/api` package (the one with its package.json), found by
 * walking up from this file: the same answer from `src/` (tests, tsx) and from `dist/` (the
 * built app), whatever the working directory.
 *
 * @throws Error when no such package.json is found above this file.
 */
export function apiPackageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'package.json');
    if (existsSync(candidate)) {
      const pkg = JSON.parse(readFileSync(candidate, 'utf8')) as { name?: string };
      if (pkg.name === '@miinventario/api') return dir;
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the @miinventario/api package folder');
    dir = parent;
  }
}

/** Absolute path of the bundled catalogue CSV: `<api package>/data/catalog/<file>`. */
export function catalogFilePath(): string {
  return join(apiPackageRoot(), 'data', 'catalog', CATALOG_FILE_NAME);
}

async function sha256Of(file: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(file), hash);
  return hash.digest('hex');
}

function httpUrl(value: unknown): string | null {
  if (typeof value !== 'string' || value.trim() === '') return null;
  try {
    const url = new URL(value.trim());
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.toString() : null;
  } catch {
    return null;
  }
}

/**
 * Seeds the global products catalogue (`inventory.products`, `store_id` NULL, `source`
 * CATALOG) from the bundled Open Food Facts Mexico extract (apps/api/data/catalog, ODbL) when
 * the application starts (issue 6 "Products catalogue").
 *
 * - **Streams** the CSV with csv-parse (columns `barcode`, `product_name`, `image_url`; a BOM,
 *   stray quotes and extra or missing columns are tolerated; a quoted field that never closes
 *   stops the run with an error and nothing written).
 * - **Validates** each barcode with the GS1 check digit (`isValidGtin`: 8, 12, 13 or 14 digits)
 *   and stores it as a zero-padded GTIN-14; decodes the HTML entities the dump left in names
 *   (`&quot;`); normalises names (lower-case, no accents, collapsed spaces). Invalid rows are
 *   skipped and counted.
 * - **Inserts** in batches of 500 as SYSTEM with ON CONFLICT DO NOTHING (a barcode already in
 *   the catalogue keeps its row), all in one transaction, so a crash leaves nothing half done.
 * - **Idempotent and quick to skip**: the run ends by writing `admin.settings`
 *   `catalog_seed = { file, sha256, read, inserted, invalid, duplicates, seededAt }` in the same
 *   transaction. At the next start the file's SHA-256 (a few milliseconds) is compared with
 *   the marker: same file → nothing is read or written. A different file (a newer extract) is
 *   seeded again: new barcodes are added, existing rows are left as they are. Instances
 *   starting together serialise on an advisory lock, and the second one sees the marker.
 *
 * Skipped when the app's database is not connected (OpenAPI generation builds the app without one).
 */
@Injectable()
export class CatalogSeederService implements OnApplicationBootstrap {
  private readonly logger = new Logger('ProductsCatalog');

  constructor(
    private readonly products: ProductsRepository,
    private readonly transactions: TransactionService,
    @Inject(APP_DATA_SOURCE) private readonly dataSource: DataSource,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {}

  /**
   * Nest hook: seeds the catalogue before the app serves requests. A failure (file missing
   * from the package, malformed CSV, database error) is logged as an error and the app starts
   * anyway with the catalogue it has: matching then relies on store products and barcodes
   * stay unidentified, which loses no inventory; nothing half-seeded is kept (one transaction).
   */
  async onApplicationBootstrap(): Promise<void> {
    if (!this.dataSource.isInitialized) return;
    try {
      await this.seed();
    } catch (error) {
      this.logger.error(
        `catalogue seeding failed, the global catalogue was not updated: ${
          error instanceof Error ? error.message : String(error)
        }`,
      );
    }
  }

  /**
   * Seeds the catalogue from `file` (default: the bundled CSV, {@link catalogFilePath}).
   *
   * @param options.force seed even when the marker says this file was seeded (rows already
   *   present are still skipped, as duplicates).
   * @returns the counts of this run; logged at info level.
   * @throws Error when the file cannot be read, is not CSV (a quoted field never closed) or has
   *   no `barcode` / `product_name` column; nothing is written then.
   */
  async seed(options: { file?: string; force?: boolean } = {}): Promise<CatalogSeedResult> {
    const file = options.file ?? catalogFilePath();
    const sha256 = await sha256Of(file);
    const result = await this.transactions.runAsSystem(async () => {
      await this.products.lockCatalogSeed();
      const marker = (await this.products.readSetting(CATALOG_SEED_SETTING)) as Partial<SeedMarker> | undefined;
      if (!options.force && marker?.sha256 === sha256) {
        return { read: 0, inserted: 0, invalid: 0, duplicates: 0, skipped: true, sha256 };
      }
      const counts = await this.load(file);
      const value: SeedMarker = {
        file: file.split(/[\\/]/).pop() ?? file,
        sha256,
        ...counts,
        seededAt: this.clock.now().toISOString(),
      };
      await this.products.writeSetting(
        CATALOG_SEED_SETTING,
        value,
        'Last seeding of the global products catalogue (Open Food Facts Mexico, ODbL); written by the API at start.',
      );
      return { ...counts, skipped: false, sha256 };
    });
    if (result.skipped) {
      this.logger.log(`catalogue already seeded from this file (sha256 ${sha256.slice(0, 12)}…): skipped`);
    } else {
      this.logger.log(
        `catalogue seeded: read ${result.read}, inserted ${result.inserted}, invalid ${result.invalid}, ` +
          `duplicates ${result.duplicates}`,
      );
    }
    return result;
  }

  private async load(file: string): Promise<Omit<CatalogSeedResult, 'skipped' | 'sha256'>> {
    let read = 0;
    let invalid = 0;
    let inserted = 0;
    const invalidSamples: string[] = [];
    const parser = parse({
      bom: true,
      columns: (header: string[]) => {
        const names = header.map((column) => column.trim());
        for (const required of ['barcode', 'product_name']) {
          if (!names.includes(required)) throw new Error(`the catalogue file has no "${required}" column`);
        }
        return names;
      },
      // A stray quote inside a name, or a row with too few or too many columns, is tolerated
      // (the row is then judged on its barcode and name). What remains an error (a quoted
      // field never closed) would swallow the rows after it: the whole run stops instead.
      relax_quotes: true,
      relax_column_count: true,
      skip_empty_lines: true,
    });
    const source = createReadStream(file);
    // `pipe` does not forward a read error: hand it to the parser so the loop below ends with it.
    source.on('error', (error) => parser.destroy(error));
    source.pipe(parser);
    let batch: CatalogRowInput[] = [];
    try {
      for await (const record of parser as AsyncIterable<Record<string, string | undefined>>) {
        read += 1;
        const barcode = (record.barcode ?? '').trim();
        const name = cleanProductName(decodeHtmlEntities(record.product_name ?? ''));
        const gtin = isValidGtin(barcode) ? toGtin14(barcode) : null;
        if (!gtin || name.length === 0) {
          invalid += 1;
          if (invalidSamples.length < 10) invalidSamples.push(barcode || '(empty)');
          continue;
        }
        batch.push({
          gtin,
          name,
          normalizedName: normalizeProductName(name),
          imageUrl: httpUrl(record.image_url),
          externalRef: `openfoodfacts:${barcode}`,
        });
        if (batch.length >= BATCH_SIZE) {
          inserted += await this.products.insertCatalogRows(batch);
          batch = [];
        }
      }
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new Error(`the catalogue file ${file} cannot be read as CSV (nothing was seeded): ${reason}`, {
        cause: error,
      });
    } finally {
      source.destroy();
    }
    inserted += await this.products.insertCatalogRows(batch);
    if (invalid > 0) {
      // Expected with the bundled extract (28 truncated or mistyped barcodes): details at debug level.
      this.logger.debug(`catalogue: ${invalid} invalid rows skipped, e.g. barcodes ${invalidSamples.join(', ')}`);
    }
    return { read, inserted, invalid, duplicates: read - invalid - inserted };
  }
}
