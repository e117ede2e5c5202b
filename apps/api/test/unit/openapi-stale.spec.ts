import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import {
  TYPES_PATH,
  readCommittedSpec,
  renderClientTypes,
  renderOpenApiSpec,
} from '../../src/openapi/openapi-artifacts.js';

describe('committed OpenAPI spec and client types', () => {
  it('match what the code produces (run `npm run openapi` and commit when this fails)', async () => {
    const produced = await renderOpenApiSpec();
    const committed = await readCommittedSpec();
    expect(committed, 'packages/api-client/openapi.json is stale').toBe(produced);
    const types = await readFile(TYPES_PATH, 'utf8').catch(() => '');
    expect(types, 'packages/api-client/src/schema.ts is stale').toBe(await renderClientTypes(committed));
  });
});
