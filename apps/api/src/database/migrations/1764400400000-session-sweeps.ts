import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 5 "Sweeper": a session stuck in UPLOADED, QUEUED or PROCESSING longer than
 * SWEEPER_STUCK_MINUTES is re-enqueued, and after SWEEPER_MAX_REQUEUES such rescues it FAILS
 * with PROCESSING_TIMEOUT. `sweeps` counts the rescues (processing `attempts` counts runs).
 * The index finds stuck sessions by the time they last showed life.
 */
export class SessionSweeps1764400400000 implements MigrationInterface {
  name = 'SessionSweeps1764400400000';

  async up(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query(
      `ALTER TABLE inventory.inventory_sessions
         ADD COLUMN sweeps integer NOT NULL DEFAULT 0,
         ADD CONSTRAINT inventory_sessions_sweeps_check CHECK (sweeps >= 0)`,
    );
    await queryRunner.query(
      `CREATE INDEX inventory_sessions_stuck_idx ON inventory.inventory_sessions
         (GREATEST(heartbeat_at, processing_at, queued_at, uploaded_at))
         WHERE state IN ('UPLOADED', 'QUEUED', 'PROCESSING')`,
    );
  }

  async down(queryRunner: QueryRunner): Promise<void> {
    await queryRunner.query('DROP INDEX inventory.inventory_sessions_stuck_idx');
    await queryRunner.query(
      `ALTER TABLE inventory.inventory_sessions DROP CONSTRAINT inventory_sessions_sweeps_check, DROP COLUMN sweeps`,
    );
  }
}
