import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CLI_IDENTIFIER, cliSessionFile, connectOrStartApi } from './local-api.js';
import { ScanClient, type ScanResult } from './scan-client.js';

const USAGE = `Usage: npm run scan -- <video file> [--provider barcode|openai|anthropic|openai-compatible] [--json]
         [--api http://127.0.0.1:3142] [--as ${CLI_IDENTIFIER}]

Counts the products of a shelf video end to end: signs in to the running API (or starts the
embedded stack), creates a store and an inventory session, uploads the video with tus, waits for
the report and prints it.`;

/** Prints a report as an aligned table (Spanish headers, what a shop owner reads). */
export function formatReport(result: ScanResult): string {
  if (result.state === 'FAILED' || !result.report) {
    return `Inventario FALLIDO (${result.failureCode ?? 'sin código'}); el crédito fue devuelto.`;
  }
  const rows = result.report.lines.map((line) => [
    line.gtin ?? '—',
    line.name,
    String(line.quantity),
    `${Math.round(line.confidence * 100)} %`,
    line.needsReview ? 'revisar' : '',
  ]);
  const header = ['Código', 'Producto', 'Cantidad', 'Confianza', ''];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)));
  const format = (row: string[]) =>
    row
      .map((cell, column) =>
        column === 2 || column === 3 ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  const { totals, session } = result.report;
  return [
    format(header),
    format(widths.map((width) => '-'.repeat(width))),
    ...rows.map(format),
    '',
    `Productos: ${totals.lines}   Piezas: ${totals.units}   Por revisar: ${totals.linesToReview}`,
    `Proveedor: ${session.provider ?? '?'}${session.model ? ` (${session.model})` : ''}   Cuadros: ${session.framesUsed ?? 0}   Tiempo: ${(result.elapsedMs / 1000).toFixed(1)} s`,
    ...(session.resultMessage ? [session.resultMessage] : []),
  ].join('\n');
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      provider: { type: 'string' },
      json: { type: 'boolean', default: false },
      api: { type: 'string', default: 'http://127.0.0.1:3142' },
      as: { type: 'string', default: CLI_IDENTIFIER },
      help: { type: 'boolean', default: false },
    },
  });
  const file = positionals[0];
  if (values.help || !file) {
    process.stdout.write(`${USAGE}\n`);
    process.exit(file ? 0 : 64);
  }
  if (!existsSync(file)) {
    process.stderr.write(`No such file: ${file}\n`);
    process.exit(66);
  }
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const api = await connectOrStartApi(values.api!, log);
  try {
    const client = new ScanClient(api.baseUrl, values.as!, log, cliSessionFile());
    await client.signIn();
    if (values.provider) await client.setProvider(values.provider);
    const storeId = await client.store('Tienda de prueba (escaneo)');
    const result = await client.scan(storeId, file);
    process.stdout.write(`${values.json ? JSON.stringify(result, null, 2) : formatReport(result)}\n`);
    process.exitCode = result.state === 'READY' ? 0 : 1;
  } finally {
    await api.stop();
  }
}

main().then(
  () => process.exit(process.exitCode ?? 0),
  (error: unknown) => {
    process.stderr.write(`scan failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
