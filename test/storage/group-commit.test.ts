import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/storage/group-commit.js';

/** A persist function that records batches and completes each one when told to. */
function recorder() {
  const batches: number[][] = [];
  const syncs: boolean[] = [];
  const finish: Array<(err?: Error) => void> = [];
  const discarded: number[][] = [];
  const driver = {
    create: (): number[] => [],
    persist: (ops: number[], sync: boolean) =>
      new Promise<void>((resolve, reject) => {
        batches.push(ops);
        syncs.push(sync);
        finish.push((err) => (err === undefined ? resolve() : reject(err)));
      }),
    discard: (ops: number[]) => void discarded.push(ops),
  };
  return { batches, syncs, finish, driver, discarded };
}

/** Submits `ops` as one write. */
function submit(gc: GroupCommit<number[]>, ops: number[], sync = true): Promise<void> {
  return gc.submit((batch) => void batch.push(...ops), sync);
}

/** Lets queued microtasks and promise callbacks run. */
const settle = () => new Promise<void>((r) => setImmediate(r));

describe('GroupCommit', () => {
  it('merges submissions made while a batch is in flight into the next batch, in order', async () => {
    const r = recorder();
    const gc = new GroupCommit<number[]>(r.driver);
    const order: string[] = [];
    const a = submit(gc, [1]).then(() => order.push('a'));
    const b = submit(gc, [2]).then(() => order.push('b'));
    await settle();
    expect(r.batches).toEqual([[1, 2]]);
    const c = submit(gc, [3]).then(() => order.push('c'));
    const d = submit(gc, [4, 5]).then(() => order.push('d'));
    await settle();
    expect(r.batches.length).toBe(1);
    r.finish[0]!();
    await settle();
    expect(r.batches).toEqual([[1, 2], [3, 4, 5]]);
    expect(order).toEqual(['a', 'b']);
    r.finish[1]!();
    await Promise.all([a, b, c, d]);
    expect(order).toEqual(['a', 'b', 'c', 'd']);
    expect(gc.batchCount).toBe(2);
  });

  it('barrier waits for everything submitted before it', async () => {
    const r = recorder();
    const gc = new GroupCommit<number[]>(r.driver);
    await gc.barrier();
    let done = false;
    void submit(gc, [1]);
    await settle();
    void submit(gc, [2]);
    const barrier = gc.barrier().then(() => (done = true));
    r.finish[0]!();
    await settle();
    expect(done).toBe(false);
    r.finish[1]!();
    await barrier;
    expect(done).toBe(true);
  });

  it('a failed batch fails its writers, the queued ones and every later one', async () => {
    const r = recorder();
    const gc = new GroupCommit<number[]>(r.driver);
    const a = submit(gc, [1]);
    await settle();
    const b = submit(gc, [2]);
    r.finish[0]!(new Error('disk full'));
    await expect(a).rejects.toMatchObject({ code: 'STORAGE_WRITE_FAILED' });
    await expect(b).rejects.toMatchObject({ code: 'STORAGE_WRITE_FAILED' });
    await expect(submit(gc, [3])).rejects.toMatchObject({ code: 'STORAGE_WRITE_FAILED' });
    await expect(gc.barrier()).rejects.toMatchObject({ code: 'STORAGE_WRITE_FAILED' });
    expect(r.batches).toEqual([[1]]);
    expect(r.discarded).toEqual([[2]]);
    expect(gc.failed?.cause).toBeInstanceOf(Error);
  });

  it('syncs a batch when any of its writes wants sync, and only then', async () => {
    const r = recorder();
    const gc = new GroupCommit<number[]>(r.driver);
    void submit(gc, [1], false);
    await settle();
    void submit(gc, [2], false);
    void submit(gc, [3], true);
    r.finish[0]!();
    await settle();
    void submit(gc, [4], false);
    r.finish[1]!();
    await settle();
    r.finish[2]!();
    await gc.barrier();
    expect(r.batches).toEqual([[1], [2, 3], [4]]);
    expect(r.syncs).toEqual([false, true, false]);
  });
});
