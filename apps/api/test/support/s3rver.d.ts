/** Types of the parts of `s3rver` 3.7 (a CommonJS package without typings) the tests use. */
declare module 's3rver' {
  import type { RequestListener } from 'node:http';

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    /** Folder holding the buckets. */
    directory?: string;
    resetOnClose?: boolean;
    allowMismatchedSignatures?: boolean;
    vhostBuckets?: boolean;
    configureBuckets?: { name: string }[];
  }

  /** A Koa application speaking the S3 REST API over a folder. */
  export default class S3rver {
    constructor(options?: S3rverOptions);
    /** The request listener (Koa's `app.callback()`), to mount on one's own HTTP server. */
    callback(): RequestListener;
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
  }
}
