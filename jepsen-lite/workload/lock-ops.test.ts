// The lock workload's meta replies and how they map to history completions.
import { describe, expect, it } from 'vitest';
import { parseLine } from './client.js';
import { classify } from './ops.js';

const line = (text: string) => parseLine(Buffer.from(text))!.reply;

describe('lock ops: meta replies', () => {
  it('parses meta status lines with their flags', () => {
    expect(line('HD c42\r\n')).toEqual({ kind: 'meta', code: 'HD', flags: { c: '42' } });
    expect(line('NS c0\r\n')).toEqual({ kind: 'meta', code: 'NS', flags: { c: '0' } });
    expect(line('EX\r\n')).toEqual({ kind: 'meta', code: 'EX', flags: {} });
    expect(line('NF\r\n')).toEqual({ kind: 'meta', code: 'NF', flags: {} });
  });

  it('acquire and renew are ok with the new CAS as the token; NS/EX/NF did nothing', () => {
    expect(classify('acquire', line('HD c42\r\n'), 'p1-1')).toEqual({ type: 'ok', value: ['p1-1', '42'] });
    expect(classify('acquire', line('NS c0\r\n'), 'p1-1')).toMatchObject({ type: 'fail', error: 'NS' });
    expect(classify('renew', line('HD c50\r\n'), ['p1-1', '42'])).toEqual({ type: 'ok', value: ['p1-1', '50'] });
    expect(classify('renew', line('EX c0\r\n'), ['p1-1', '42'])).toMatchObject({ type: 'fail', error: 'EX' });
    expect(classify('release', line('HD\r\n'), ['p1-1', '42'])).toEqual({ type: 'ok', value: ['p1-1', '42'] });
    expect(classify('release', line('NF\r\n'), ['p1-1', '42'])).toMatchObject({ type: 'fail', error: 'NF' });
  });

  it('an HD without a CAS, or an error that may have been applied, is unknown', () => {
    expect(classify('acquire', line('HD\r\n'), 'p1-1').type).toBe('info');
    expect(classify('acquire', line('SERVER_ERROR ERR_OUTCOME_UNKNOWN timed out\r\n'), 'p1-1').type).toBe('info');
    expect(classify('acquire', line('SERVER_ERROR ERR_NO_LEADER no leader\r\n'), 'p1-1').type).toBe('fail');
  });
});
