import type { Clock } from '../../src/common/time/clock.js';

/** A clock tests move by hand (no sleeping). Starts at the real time unless told otherwise. */
export class FakeClock implements Clock {
  private current: number;

  constructor(start: Date = new Date()) {
    this.current = start.getTime();
  }

  now(): Date {
    return new Date(this.current);
  }

  advance(seconds: number): void {
    this.current += seconds * 1000;
  }
}
