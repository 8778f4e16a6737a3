/**
 * The history and nemesis logs of a run: events kept in memory (for the checker) and
 * streamed to history.jsonl / nemesis.jsonl as JSON Lines (DESIGN.md section 8), with
 * time in ns since the run started on one monotonic clock (process.hrtime.bigint).
 */
import fs from 'node:fs';
import type { HistoryEvent, NemesisEvent } from './types.js';

/** The run's monotonic clock: ns and ms since it was created. */
export class RunClock {
  private readonly startNs = process.hrtime.bigint();

  /** ns since the run started. */
  nowNs(): number {
    return Number(process.hrtime.bigint() - this.startNs);
  }

  /** ms since the run started. */
  nowMs(): number {
    return this.nowNs() / 1e6;
  }
}

/** Appends JSON lines to a file through one buffered stream. */
class JsonlFile<T> {
  readonly events: T[] = [];
  private readonly stream: fs.WriteStream;

  constructor(file: string) {
    this.stream = fs.createWriteStream(file, { flags: 'w' });
  }

  add(event: T): void {
    this.events.push(event);
    this.stream.write(JSON.stringify(event) + '\n');
  }

  close(): Promise<void> {
    return new Promise((resolve, reject) => this.stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
  }
}

/** Records history events (invoke and completion) with their times. */
export class HistoryWriter {
  private readonly file: JsonlFile<HistoryEvent>;

  constructor(
    file: string,
    private readonly clock: RunClock,
  ) {
    this.file = new JsonlFile(file);
  }

  /** Every event so far, in order. */
  get events(): HistoryEvent[] {
    return this.file.events;
  }

  /** Records an event now; returns it. */
  record(e: Omit<HistoryEvent, 'time'>): HistoryEvent {
    // The contract's fields first (DESIGN.md section 8 order), then every optional one the
    // caller set. Listing the optional fields one by one dropped each new one in turn
    // (`anomaly`, then `ttlSec`), so nothing is listed.
    const { process, type, f, key, value, ...extra } = e;
    const event: HistoryEvent = { process, type, f, key, value, time: this.clock.nowNs(), ...definedOnly(extra) };
    this.file.add(event);
    return event;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/** Records fault events. */
export class NemesisLog {
  private readonly file: JsonlFile<NemesisEvent>;

  constructor(
    file: string,
    private readonly clock: RunClock,
  ) {
    this.file = new JsonlFile(file);
  }

  /** Every event so far, in order. */
  get events(): NemesisEvent[] {
    return this.file.events;
  }

  /** Records a fault start or stop now. */
  record(e: Omit<NemesisEvent, 'time'>): NemesisEvent {
    const { fault, phase, ...extra } = e;
    const event: NemesisEvent = { time: this.clock.nowNs(), fault, phase, ...definedOnly(extra) };
    this.file.add(event);
    return event;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}

/** `fields` without the ones set to undefined (an event carries only what is known). */
function definedOnly<T extends object>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}
