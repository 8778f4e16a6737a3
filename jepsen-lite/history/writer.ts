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
    const event: HistoryEvent = { process: e.process, type: e.type, f: e.f, key: e.key, value: e.value, time: this.clock.nowNs() };
    if (e.node !== undefined) event.node = e.node;
    if (e.error !== undefined) event.error = e.error;
    // Without it checkReplies never saw a malformed reply of a live run (only of histories
    // built in tests): found while adding pipelines (issue 11).
    if (e.anomaly !== undefined) event.anomaly = e.anomaly;
    // Likewise the exptime: without it checkExpiry sees no expiring key and checkRegister
    // checks them as registers (found by the first live run with expiring keys).
    if (e.ttlSec !== undefined) event.ttlSec = e.ttlSec;
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
    const event: NemesisEvent = { time: this.clock.nowNs(), fault: e.fault, phase: e.phase };
    if (e.nodes !== undefined) event.nodes = e.nodes;
    if (e.detail !== undefined) event.detail = e.detail;
    if (e.offsetsMs !== undefined) event.offsetsMs = e.offsetsMs;
    this.file.add(event);
    return event;
  }

  close(): Promise<void> {
    return this.file.close();
  }
}
