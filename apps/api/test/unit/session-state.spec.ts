import { describe, expect, it } from 'vitest';
import { DomainException } from '../../src/common/errors/domain.exception.js';
import {
  assertTransition,
  canTransition,
  FAILURE_CODES,
  isFailureCode,
  SESSION_STATES,
  type SessionState,
} from '../../src/modules/inventory/session-state.js';

/**
 * The legal moves, written out here independently of the module's table (DESIGN.md "Video
 * pipeline", issue 5): the forward chain, FAILED from every non-final state, and
 * PROCESSING → QUEUED for a retry. Every other ordered pair must be refused.
 */
const LEGAL = new Set([
  'CREATED>UPLOADING',
  'UPLOADING>UPLOADED',
  'UPLOADED>QUEUED',
  'QUEUED>PROCESSING',
  'PROCESSING>READY',
  'PROCESSING>QUEUED',
  'CREATED>FAILED',
  'UPLOADING>FAILED',
  'UPLOADED>FAILED',
  'QUEUED>FAILED',
  'PROCESSING>FAILED',
]);

const PAIRS = SESSION_STATES.flatMap((from) => SESSION_STATES.map((to) => [from, to] as [SessionState, SessionState]));

function outcome(from: SessionState, to: SessionState): string {
  try {
    assertTransition(from, to);
    return 'allowed';
  } catch (error) {
    if (error instanceof DomainException) return `${error.code}/${error.status}`;
    throw error;
  }
}

describe('inventory session state machine', () => {
  it('knows the seven states of the migration’s CHECK constraint', () => {
    expect([...SESSION_STATES]).toEqual([
      'CREATED',
      'UPLOADING',
      'UPLOADED',
      'QUEUED',
      'PROCESSING',
      'READY',
      'FAILED',
    ]);
    expect(PAIRS).toHaveLength(49);
  });

  it.each(PAIRS)('%s → %s', (from, to) => {
    const legal = LEGAL.has(`${from}>${to}`);
    expect(outcome(from, to)).toBe(legal ? 'allowed' : 'INVALID_STATE_TRANSITION/409');
    expect(canTransition(from, to)).toBe(legal);
  });

  it('allows exactly the 11 listed moves, none out of READY or FAILED, none to CREATED or to the same state', () => {
    const allowed = PAIRS.filter(([from, to]) => outcome(from, to) === 'allowed').map(([f, t]) => `${f}>${t}`);
    expect(new Set(allowed)).toEqual(LEGAL);
    for (const [from, to] of PAIRS) {
      if (from === 'READY' || from === 'FAILED' || to === 'CREATED' || from === to) {
        expect(outcome(from, to)).not.toBe('allowed');
      }
    }
  });

  it('names the refused move in the detail', () => {
    expect(() => assertTransition('READY', 'FAILED')).toThrow(/from READY to FAILED \(READY is final\)/);
    expect(() => assertTransition('CREATED', 'QUEUED')).toThrow(/allowed: UPLOADING, FAILED/);
  });

  it('has the failure reason codes of issue 5 as a closed list', () => {
    for (const code of [
      'VIDEO_UNREADABLE',
      'VIDEO_TOO_SHORT',
      'VIDEO_TOO_LONG',
      'NO_VIDEO_STREAM',
      'PROCESSING_ERROR',
      'UPLOAD_EXPIRED',
    ]) {
      expect(isFailureCode(code)).toBe(true);
    }
    expect(new Set(FAILURE_CODES).size).toBe(FAILURE_CODES.length);
    expect(isFailureCode('SOMETHING_ELSE')).toBe(false);
    expect(isFailureCode(undefined)).toBe(false);
  });
});
