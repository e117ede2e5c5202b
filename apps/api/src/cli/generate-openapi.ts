import 'reflect-metadata';
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { SPEC_PATH, TYPES_PATH, renderClientTypes, renderOpenApiSpec } from '../openapi/openapi-artifacts.js';

/**
 * `npm run openapi`: writes packages/api-client/openapi.json from the code and
 * regenerates the typed client's schema.ts from it. Commit both; a test fails
 * when they are stale.
 */
async function main(): Promise<void> {
  const spec = await renderOpenApiSpec();
  await mkdir(dirname(TYPES_PATH), { recursive: true });
  await writeFile(SPEC_PATH, spec);
  await writeFile(TYPES_PATH, await renderClientTypes(spec));
  process.stdout.write(`wrote ${SPEC_PATH}\nwrote ${TYPES_PATH}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
