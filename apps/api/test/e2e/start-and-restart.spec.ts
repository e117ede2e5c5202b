import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { migrations } from '../../src/database/migrations/index.js';

const MAIN = join(dirname(fileURLToPath(import.meta.url)), '../../dist/main.js');

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

interface Started {
  child: ChildProcess;
  output: () => string;
}

/** Starts the built API exactly as `npm start` does, on the embedded default (no DATABASE_URL). */
function startApi(env: Record<string, string>): Started {
  const childEnv: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
  const child = spawn(process.execPath, [MAIN], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function waitReady(port: number, started: Started, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (started.child.exitCode !== null) throw new Error(`API exited early:\n${started.output()}`);
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health/ready`);
      if (response.status === 200) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  throw new Error(`API not ready after ${timeoutMs} ms:\n${started.output()}`);
}

async function stop(started: Started, signal: NodeJS.Signals): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => started.child.once('exit', (code) => resolve(code)));
  started.child.kill(signal);
  return exited;
}

function logLines(output: string): Array<Record<string, unknown>> {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

describe('npm start on the embedded default', () => {
  let dataDir = '';

  afterAll(async () => {
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('creates and migrates the database, serves, stops cleanly, and restarts without re-running migrations', async () => {
    expect(existsSync(MAIN), 'apps/api/dist/main.js is missing: `npm test` builds it first').toBe(true);
    dataDir = await mkdtemp(join(tmpdir(), 'miinventario-start-'));
    await chmod(dataDir, 0o755);
    const env = {
      DATA_DIR: dataDir,
      PORT: String(await freePort()),
      EMBEDDED_PG_PORT: String(await freePort()),
      HOST: '127.0.0.1',
      LOG_LEVEL: 'info',
    };
    const port = Number(env.PORT);

    const first = startApi(env);
    await waitReady(port, first, 90_000);
    expect(first.output()).toContain(`MiInventario API   http://localhost:${port}/api/v1`);
    expect(first.output()).toContain(`OpenAPI docs       http://localhost:${port}/docs`);
    const firstApplied = logLines(first.output()).find((line) => line.msg === 'migrations applied');
    expect(firstApplied?.applied).toEqual(migrations.map((migration) => new migration().name ?? migration.name));
    expect(migrations.length).toBeGreaterThan(0);
    // Every request line carries the request id.
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`, {
      headers: { 'x-request-id': 'lifecycle-test-0001' },
    });
    expect(ready.headers.get('x-request-id')).toBe('lifecycle-test-0001');
    expect(await stop(first, 'SIGTERM')).toBe(0);
    expect(logLines(first.output()).some((line) => line.requestId === 'lifecycle-test-0001')).toBe(true);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid')), 'PostgreSQL was not stopped').toBe(false);

    const second = startApi(env);
    await waitReady(port, second, 60_000);
    const secondLines = logLines(second.output());
    expect(secondLines.some((line) => line.msg === 'migrations applied')).toBe(false);
    expect(secondLines.find((line) => line.msg === 'database schema is current')?.applied).toEqual([]);
    expect(await stop(second, 'SIGINT')).toBe(0);
    expect(existsSync(join(dataDir, 'postgres', 'postmaster.pid'))).toBe(false);
  }, 180_000);
});
