import { spawn } from 'node:child_process';
import { MediaToolError } from './media-errors.js';

/** Limits of one run of a media tool. */
export interface RunToolOptions {
  /** Wall-clock limit, milliseconds; the process is killed (SIGKILL) when it is reached. */
  timeoutMs: number;
  /** Most stdout bytes kept; more kills the process (MediaToolError). Default 4 MiB. */
  maxStdoutBytes?: number;
  /** Most stderr bytes kept (the last ones); more is dropped, not an error. Default 64 KiB. */
  maxStderrBytes?: number;
  /** Aborting kills the process and rejects with MediaToolError. */
  signal?: AbortSignal;
  /**
   * Streams stdout to this function instead of collecting it (`ToolResult.stdout` is then empty
   * and `maxStdoutBytes` does not apply). While a promise it returns is pending, stdout is not
   * read (the tool blocks once the pipe is full); a thrown error or a rejection kills the process
   * and the run rejects with it.
   */
  onStdout?: (chunk: Buffer) => void | Promise<void>;
}

/** What a finished tool run produced. */
export interface ToolResult {
  /** Exit code (0 = success). */
  exitCode: number;
  stdout: Buffer;
  /** The last `maxStderrBytes` of stderr, UTF-8. */
  stderr: string;
}

/**
 * Runs `binary` with an argument array (never through a shell, so file names are never
 * interpreted) with stdin closed, and collects its output within bounds.
 *
 * Resolves with the exit code, even when it is not 0: the caller decides what a failure means.
 *
 * @throws MediaToolError when the binary cannot be started, is killed by a signal, runs longer
 *   than `timeoutMs`, writes more than `maxStdoutBytes` to stdout, or `signal` aborts; the error
 *   of `onStdout` when it fails.
 */
export function runTool(binary: string, args: readonly string[], options: RunToolOptions): Promise<ToolResult> {
  const maxStdout = options.maxStdoutBytes ?? 4 * 1024 * 1024;
  const maxStderr = options.maxStderrBytes ?? 64 * 1024;
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new MediaToolError(`${label(binary)} was aborted before it started`));
      return;
    }
    const child = spawn(binary, args, { stdio: ['ignore', 'pipe', 'pipe'], windowsHide: true });
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    let stderr = '';
    let failure: Error | null = null;
    const fail = (error: Error): void => {
      failure ??= error;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(
      () => fail(new MediaToolError(`${label(binary)} took longer than ${options.timeoutMs} ms and was stopped`)),
      options.timeoutMs,
    );
    const onAbort = (): void => fail(new MediaToolError(`${label(binary)} was aborted`));
    options.signal?.addEventListener('abort', onAbort, { once: true });

    const { onStdout } = options;
    child.stdout.on('data', (chunk: Buffer) => {
      if (onStdout) {
        if (failure) return;
        try {
          const pending = onStdout(chunk);
          if (pending) {
            child.stdout.pause();
            pending.then(
              () => child.stdout.resume(),
              (error: unknown) => fail(asError(error)),
            );
          }
        } catch (error) {
          fail(asError(error));
        }
        return;
      }
      stdoutBytes += chunk.length;
      if (stdoutBytes > maxStdout) {
        fail(new MediaToolError(`${label(binary)} wrote more than ${maxStdout} bytes of output and was stopped`));
        return;
      }
      stdout.push(chunk);
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      stderr += chunk;
      if (stderr.length > maxStderr) stderr = stderr.slice(stderr.length - maxStderr);
    });
    child.on('error', (error) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      reject(
        failure ??
          new MediaToolError(`${label(binary)} could not be started: ${error.message}`, null, '', { cause: error }),
      );
    });
    child.on('close', (code, killedBy) => {
      clearTimeout(timer);
      options.signal?.removeEventListener('abort', onAbort);
      if (failure instanceof MediaToolError) {
        reject(new MediaToolError(failure.message, code, stderr.trim()));
      } else if (failure) {
        reject(failure);
      } else if (code === null) {
        reject(new MediaToolError(`${label(binary)} was killed by ${killedBy ?? 'a signal'}`, null, stderr.trim()));
      } else {
        resolve({ exitCode: code, stdout: Buffer.concat(stdout), stderr });
      }
    });
  });
}

function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

/** The file name of a binary path, for messages. */
function label(binary: string): string {
  return binary.split(/[\\/]/).pop() ?? binary;
}
