import 'reflect-metadata';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { toGtin14 } from '../modules/vision/gtin.js';
import { CLI_IDENTIFIER, cliSessionFile, connectOrStartApi } from './local-api.js';
import { ScanClient, type ScanResult } from './scan-client.js';

/** Per-video accuracy figures (issue 6 "Accuracy evaluation"). */
export interface EvalFigures {
  video: string;
  expectedItems: number;
  countedItems: number;
  lines: number;
  exactLines: number;
  missedItems: number;
  phantomItems: number;
  seconds: number;
}

/**
 * Compares a scan with the true counts (`expected`: GTIN-14 → units). A line is exact when its
 * count equals the truth; missed = Σ max(0, truth − count); phantom = Σ max(0, count − truth)
 * over every counted product (a product not in the truth is all phantom). Lines are the
 * expected products plus any phantom product.
 */
export function compareCounts(video: string, result: ScanResult, expected: Record<string, number>): EvalFigures {
  const counted = new Map<string, number>();
  for (const line of result.report?.lines ?? []) {
    const key = (line.gtin && toGtin14(line.gtin)) ?? `name:${line.name}`;
    counted.set(key, (counted.get(key) ?? 0) + line.quantity);
  }
  const keys = new Set([...Object.keys(expected), ...counted.keys()]);
  let exact = 0;
  let missed = 0;
  let phantom = 0;
  for (const key of keys) {
    const truth = expected[key] ?? 0;
    const count = counted.get(key) ?? 0;
    if (truth === count) exact += 1;
    missed += Math.max(0, truth - count);
    phantom += Math.max(0, count - truth);
  }
  return {
    video,
    expectedItems: Object.values(expected).reduce((sum, n) => sum + n, 0),
    countedItems: [...counted.values()].reduce((sum, n) => sum + n, 0),
    lines: keys.size,
    exactLines: exact,
    missedItems: missed,
    phantomItems: phantom,
    seconds: result.elapsedMs / 1000,
  };
}

function table(rows: EvalFigures[]): string {
  const header = ['video', 'expected', 'counted', 'exact lines', 'missed', 'phantom', 'time s'];
  const cells = rows.map((row) => [
    row.video,
    String(row.expectedItems),
    String(row.countedItems),
    `${row.exactLines}/${row.lines}`,
    String(row.missedItems),
    String(row.phantomItems),
    row.seconds.toFixed(1),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...cells.map((row) => row[column]!.length)));
  const format = (row: string[]) =>
    row
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!)))
      .join('  ');
  return [format(header), ...cells.map(format)].join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      api: { type: 'string', default: 'http://127.0.0.1:3142' },
      as: { type: 'string', default: CLI_IDENTIFIER },
      json: { type: 'boolean', default: false },
    },
  });
  const folder = positionals[0] ?? 'eval/videos';
  const expectedFile = JSON.parse(readFileSync(join(folder, 'expected.json'), 'utf8')) as Record<
    string,
    { counts: Record<string, number> }
  >;
  const videos = readdirSync(folder)
    .filter((name) => name in expectedFile)
    .sort();
  if (videos.length === 0) throw new Error(`no video of ${folder}/expected.json found in ${folder}`);
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const api = await connectOrStartApi(values.api!, log);
  const rows: EvalFigures[] = [];
  try {
    const client = new ScanClient(api.baseUrl, values.as!, () => undefined, cliSessionFile());
    await client.signIn();
    await client.setProvider('barcode').catch(() => log('(not an admin: evaluating the active provider)'));
    const storeId = await client.store('Tienda de evaluación');
    for (const video of videos) {
      log(`${video}…`);
      const expected = Object.fromEntries(
        Object.entries(expectedFile[video]!.counts).map(([code, n]) => [toGtin14(code) ?? code, n]),
      );
      rows.push(compareCounts(video, await client.scan(storeId, join(folder, video)), expected));
    }
  } finally {
    await api.stop();
  }
  const total: EvalFigures = rows.reduce(
    (sum, row) => ({
      video: 'TOTAL',
      expectedItems: sum.expectedItems + row.expectedItems,
      countedItems: sum.countedItems + row.countedItems,
      lines: sum.lines + row.lines,
      exactLines: sum.exactLines + row.exactLines,
      missedItems: sum.missedItems + row.missedItems,
      phantomItems: sum.phantomItems + row.phantomItems,
      seconds: sum.seconds + row.seconds,
    }),
    {
      video: 'TOTAL',
      expectedItems: 0,
      countedItems: 0,
      lines: 0,
      exactLines: 0,
      missedItems: 0,
      phantomItems: 0,
      seconds: 0,
    },
  );
  if (values.json) process.stdout.write(`${JSON.stringify({ videos: rows, total }, null, 2)}\n`);
  else {
    process.stdout.write(`${table([...rows, total])}\n`);
    process.stdout.write(
      `exact lines: ${((100 * total.exactLines) / Math.max(1, total.lines)).toFixed(1)} %   phantom items: ${total.phantomItems}\n`,
    );
  }
  process.exitCode = total.exactLines === total.lines && total.phantomItems === 0 ? 0 : 1;
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    process.stderr.write(`eval failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
