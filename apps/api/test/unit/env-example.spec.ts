import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { envSchema } from '../../src/config/env.schema.js';

const ENV_EXAMPLE = join(dirname(fileURLToPath(import.meta.url)), '../../../../.env.example');

describe('.env.example', () => {
  it('documents exactly the variables of the environment schema', async () => {
    const text = await readFile(ENV_EXAMPLE, 'utf8');
    const documented = [...text.matchAll(/^([A-Z][A-Z0-9_]*)=/gm)].map((match) => match[1]).sort();
    expect(documented).toEqual(Object.keys(envSchema.shape).sort());
  });
});
