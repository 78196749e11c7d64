import { describe, expect, it } from 'vitest';
import { cellName, judgeExpectations, parseExpectations, pickEndpoints, probePairs, type ProbeEndpoint } from '../../src/verify/probe-plan.js';
import type { PairResult } from '../../src/verify/reachability.js';
import { InputError } from '../../src/util/errors.js';

const ep = (name: string, namespace = 'default', labels: Record<string, string> = {}): ProbeEndpoint => ({ name, netns: `ns-${name}`, ip: '198.19.0.1', namespace, labels });
const ALL = [ep('w1', 'tenant-a', { role: 'web' }), ep('w2', 'tenant-a', { role: 'db' }), ep('w3', 'tenant-b', { role: 'web' })];
const names = (xs: ProbeEndpoint[]) => xs.map((x) => x.name);

describe('probe: who probes whom', () => {
  it('names, a selector over labels and the namespace label, or everyone', () => {
    expect(names(pickEndpoints(ALL, undefined, '--from'))).toEqual(['w1', 'w2', 'w3']);
    expect(names(pickEndpoints(ALL, 'w3,w1', '--from'))).toEqual(['w3', 'w1']);
    expect(names(pickEndpoints(ALL, "role == 'web'", '--to'))).toEqual(['w1', 'w3']);
    expect(names(pickEndpoints(ALL, "projectcalico.org/namespace == 'tenant-a'", '--to'))).toEqual(['w1', 'w2']);
  });

  it('hosts by name only: never by a selector, never by default', () => {
    const hosts = [ep('host1', '', {}), ep('host2', '', { role: 'web' })];
    expect(names(pickEndpoints(ALL, 'host1,w2', '--to', hosts))).toEqual(['host1', 'w2']);
    expect(names(pickEndpoints(ALL, "role == 'web'", '--to', hosts))).toEqual(['w1', 'w3']);
    expect(names(pickEndpoints(ALL, undefined, '--to', hosts))).toEqual(['w1', 'w2', 'w3']);
  });

  it('a typo is bad input naming the flag and the workloads there are; a selector that picks nothing too', () => {
    expect(() => pickEndpoints(ALL, 'w9', '--from')).toThrow(InputError);
    expect(() => pickEndpoints(ALL, 'w9', '--from')).toThrow(/--from "w9": neither workload or host names \(no workload or host "w9"; workloads: w1, w2, w3\) nor a selector/);
    expect(() => pickEndpoints(ALL, 'w9', '--from', [ep('host1')])).toThrow(/\(no workload or host "w9"; workloads: w1, w2, w3; hosts: host1\)/);
    expect(() => pickEndpoints(ALL, "role == 'cache'", '--to')).toThrow(`--to "role == 'cache'" selects no workload`);
  });

  it('pairs of different workloads; a sample is that many distinct pairs', () => {
    expect(probePairs(ALL, ALL).map(([f, t]) => `${f.name}>${t.name}`)).toEqual(['w1>w2', 'w1>w3', 'w2>w1', 'w2>w3', 'w3>w1', 'w3>w2']);
    let x = 0;
    const seq = () => [0.9, 0.1, 0.5][x++ % 3]!;
    const s = probePairs(ALL, ALL, 3, seq).map(([f, t]) => `${f.name}>${t.name}`);
    expect(s).toHaveLength(3);
    expect(new Set(s).size).toBe(3);
    expect(probePairs(ALL, ALL, 100)).toHaveLength(6);
  });
});

const cell = (from: string, to: string, proto: PairResult['proto'], ok: boolean, port?: number): PairResult => ({ from, to, proto, family: 4, ip: '198.19.0.1', ok, ...(port ? { port } : {}) });

describe('probe --expect', () => {
  it('parses a list of expectations; a bad one names the file, the item and the field', () => {
    expect(parseExpectations([{ from: 'w1', to: 'w2', expect: 'blocked', proto: 'tcp', port: 80 }], 'e.yaml')).toHaveLength(1);
    expect(() => parseExpectations([{ from: 'w1', to: 'w2', expect: 'closed' }], 'e.yaml')).toThrow(/^e\.yaml: \[0\]\.expect: /);
    expect(() => parseExpectations([{ from: 'w1', to: 'w2', expect: 'open', colour: 'red' }], 'e.yaml')).toThrow(/^e\.yaml: \[0\]: .*colour/);
    expect(() => parseExpectations({ from: 'w1' }, 'e.yaml')).toThrow(/^e\.yaml: \(the whole file\): .*a list of \{from, to, expect: open\|blocked\}/);
    expect(() => parseExpectations([], 'e.yaml')).toThrow(InputError);
  });

  it('judges only the cells a line covers; a line that covers none is a mismatch, not a pass', () => {
    const cells = [cell('w1', 'w2', 'icmp', true), cell('w1', 'w2', 'tcp', false, 7777), cell('w2', 'w1', 'tcp', true, 7777)];
    expect(judgeExpectations(cells, [{ from: 'w2', to: 'w1', expect: 'open' }])).toEqual([]);
    expect(judgeExpectations(cells, [{ from: 'w1', to: 'w2', proto: 'tcp', expect: 'blocked' }])).toEqual([]);
    const wrong = judgeExpectations(cells, [{ from: 'w1', to: 'w2', expect: 'blocked' }]);
    expect(wrong).toHaveLength(1);
    expect(wrong[0]!.why).toBe('expected blocked, icmp v4 was open');
    expect(judgeExpectations(cells, [{ from: 'w1', to: 'w9', expect: 'open' }])[0]!.why).toMatch(/no probed cell matches it/);
    expect(cellName({ proto: 'udp', family: 6, port: 53 })).toBe('udp v6 :53');
  });
});
