import { InitialSchema1764400000000 } from './1764400000000-initial-schema.js';
import { CreditsLedger1764400100000 } from './1764400100000-credits-ledger.js';
import { LedgerWritesSystemOnly1764400200000 } from './1764400200000-ledger-writes-system-only.js';
import { LedgerThroughput1764400300000 } from './1764400300000-ledger-throughput.js';
import { SessionSweeps1764400400000 } from './1764400400000-session-sweeps.js';

/** Every migration, oldest first. Add each new migration class at the end. */
export const migrations = [
  InitialSchema1764400000000,
  CreditsLedger1764400100000,
  LedgerWritesSystemOnly1764400200000,
  LedgerThroughput1764400300000,
  SessionSweeps1764400400000,
];
