/**
 * The peer message checks accept everything a node itself sends (after a msgpack round
 * trip, as the transport delivers it) and refuse what a node must never step.
 */
import { describe, expect, it } from 'vitest';
import { encodeEntry } from '../../src/cache/op-codec.js';
import { encodeMetaCommand } from '../../src/membership/meta-state.js';
import { EntryType, MessageType, type Message } from '../../src/raft/types.js';
import { keyBytesMax } from '../../src/cache/item-table.js';
import { checkPeerMessage, checkPeerRequest } from '../../src/cluster/wire-check.js';
import { chunkSnapshot, encodeRaftMessage, snapshotChunkBytes } from '../../src/cluster/wire.js';
import { packr } from '../../src/transport/frame.js';

const roundTrip = <T>(v: T): T => packr.unpack(packr.pack(v)) as T;

function msg(over: Partial<Message>): Message {
  return { type: MessageType.Heartbeat, to: 2, from: 1, term: 3, logTerm: 0, index: 0, entries: [], commit: 0, reject: false, rejectHint: 0, ...over };
}

const confState = { voters: [1, 2, 3], learners: [], votersOutgoing: [], learnersNext: [], autoLeave: false };
const data = new Uint8Array([1, 2, 3]);

const sent: Array<[string, Message]> = [
  ['heartbeat', msg({ context: data })],
  ['append', msg({ type: MessageType.App, logTerm: 2, index: 7, commit: 7, entries: [{ term: 2, index: 8, type: EntryType.Normal, data }, { term: 3, index: 9, type: EntryType.ConfChange, data: new Uint8Array(0) }] })],
  ['append response', msg({ type: MessageType.AppResp, index: 9, reject: true, rejectHint: 4, logTerm: 2 })],
  ['vote', msg({ type: MessageType.PreVote, term: 4, logTerm: 3, index: 9 })],
  ['proposal', msg({ type: MessageType.Prop, term: 0, entries: [{ term: 0, index: 0, type: EntryType.Normal, data }] })],
  ['read index', msg({ type: MessageType.ReadIndex, term: 0, context: data })],
  ['snapshot', msg({ type: MessageType.Snap, snapshot: { meta: { index: 10, term: 3, confState }, data } })],
];

describe('peer message checks', () => {
  it.each(sent)('accept a %s as a node sends it', (_name, m) => {
    expect(checkPeerMessage(roundTrip(encodeRaftMessage(5, m)))).toBeNull();
  });

  it('accept the chunks of a large snapshot', () => {
    const big = new Uint8Array(snapshotChunkBytes * 2 + 5);
    const chunks = chunkSnapshot(5, msg({ type: MessageType.Snap, snapshot: { meta: { index: 10, term: 3, confState }, data: big } }), 77);
    expect(chunks).toHaveLength(3);
    for (const c of chunks) expect(checkPeerMessage(roundTrip(c))).toBeNull();
  });

  it('accept read rounds', () => {
    for (const t of [['rc', [1, 3, 9]], ['ra', [1, 3, 9, 1]], ['ri', [1, 3, 9, 2, 3, 10]], ['ia', [1, 9, -1, 2, 10, 55]]]) {
      expect(checkPeerMessage(roundTrip(t))).toBeNull();
    }
  });

  it('accept fetch marks, refuse malformed ones', () => {
    expect(checkPeerMessage(roundTrip(['fm', 3, [Buffer.from('k1'), Buffer.from('k2')]]))).toBeNull();
    expect(checkPeerMessage(roundTrip(['fm', 3, []]))).toBeNull();
    expect(checkPeerMessage(roundTrip(['fm', 3, [Buffer.alloc(0)]]))).toMatch(/bad fetch mark key/);
    expect(checkPeerMessage(roundTrip(['fm', 3, [Buffer.alloc(keyBytesMax + 1)]]))).toMatch(/bad fetch mark key/);
    expect(checkPeerMessage(roundTrip(['fm', -1, []]))).toMatch(/not a fetch marks message/);
    expect(checkPeerMessage(roundTrip(['fm', 3, 'k']))).toMatch(/not a fetch marks message/);
  });

  it('accept forwarded ops and meta commands, and decode the ops once', () => {
    const ops = [{ type: 'store' as const, mode: 'set' as const, key: Buffer.from('k'), flags: 0, exptime: 0, value: Buffer.from('v') },
      { type: 'arith' as const, key: Buffer.from('n'), incr: true, delta: 5n }];
    const check = checkPeerRequest(roundTrip({ t: 'ops', g: 3, d: encodeEntry({ nowMs: 1, ops }), k: 2 }));
    expect(check.why).toBeNull();
    expect(check.ops?.map((o) => o.type)).toEqual(['store', 'arith']);
    const meta = encodeMetaCommand({ type: 'register', id: 2, peer: 'h:1', client: 'h:2', admin: '' });
    expect(checkPeerRequest(roundTrip({ t: 'meta', d: meta })).why).toBeNull();
    expect(checkPeerRequest(roundTrip({ t: 'mv', g: 3, o: { op: 'cc', type: 0, node: 4 } })).why).toBeNull();
  });

  it('refuse what Raft or the state machines would trip on', () => {
    const snapNoSnapshot = encodeRaftMessage(5, msg({ type: MessageType.Snap }));
    expect(checkPeerMessage(roundTrip(snapNoSnapshot))).toMatch(/Snap without a snapshot/);
    const gap = encodeRaftMessage(5, msg({ type: MessageType.App, index: 7, entries: [{ term: 2, index: 9, type: EntryType.Normal, data }] }));
    expect(checkPeerMessage(roundTrip(gap))).toMatch(/not consecutive/);
    const longKey = encodeEntry({ nowMs: 1, ops: [{ type: 'touch', key: Buffer.alloc(70_000), exptime: 0 }] });
    expect(checkPeerRequest(roundTrip({ t: 'ops', g: 3, d: longKey })).why).toMatch(/bad touch/);
    expect(checkPeerRequest(roundTrip({ t: 'meta', d: encodeMetaCommand({ type: 'node-state', id: 2, state: 'bogus' as 'up' }) })).why).toMatch(/node-state/);
  });
});
