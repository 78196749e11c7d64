import { describe, expect, it } from 'vitest';
import type { BgpSession } from '../../src/bgp/bird.js';
import { formatIpamShow, formatNodeStatus, ipamShowJson, nodeStatusJson } from '../../src/ctl/reports.js';
import type { AllocationBlock } from '../../src/model/resources.js';

const block = (cidr: string, host: string | null, used: number, size: number): AllocationBlock => ({
  cidr,
  affinity: host === null ? null : `host:${host}`,
  allocations: Array.from({ length: size }, (_, i) => (i < used ? 0 : null)),
  unallocated: Array.from({ length: size - used }, (_, i) => used + i),
  attributes: [{ handle_id: 'h' }],
});

const session = (name: string, ip: string, bgpState = 'Established'): BgpSession => ({
  name,
  state: bgpState === 'Established' ? 'up' : 'start',
  bgpState,
  neighborAddress: ip,
  neighborAs: 64512,
  since: '09:20:01',
  info: bgpState === 'Established' ? 'Established' : 'Connect',
});

describe('ctl ipam show', () => {
  // Address order, not text order: 198.19.0.128 comes after 198.19.0.64.
  const blocks = [block('198.19.0.128/26', 'host1', 1, 64), block('198.19.0.64/26', 'host1', 3, 64), block('198.19.0.0/26', 'host2', 0, 64), block('198.19.1.0/26', null, 2, 64)];

  it('-o json|yaml: blocks by host then address, with the totals (the documented contract)', () => {
    expect(ipamShowJson(blocks)).toEqual({
      blocks: [
        { host: null, cidr: '198.19.1.0/26', inUse: 2, size: 64 },
        { host: 'host1', cidr: '198.19.0.64/26', inUse: 3, size: 64 },
        { host: 'host1', cidr: '198.19.0.128/26', inUse: 1, size: 64 },
        { host: 'host2', cidr: '198.19.0.0/26', inUse: 0, size: 64 },
      ],
      inUse: 6,
      size: 256,
    });
  });

  it('the table says the same', () => {
    expect(formatIpamShow(blocks)).toBe(
      [
        'HOST    BLOCK            IN USE  USAGE',
        '------  ---------------  ------  -----',
        '(none)  198.19.1.0/26    2/64    3%',
        'host1   198.19.0.64/26   3/64    5%',
        'host1   198.19.0.128/26  1/64    2%',
        'host2   198.19.0.0/26    0/64    0%',
        '',
        '4 blocks, 6 of 256 addresses in use',
      ].join('\n'),
    );
  });
});

describe('ctl node status', () => {
  const sessions = [session('Node_198_18_0_1', '198.18.0.1', 'Active'), session('Mesh_198_18_0_12', '198.18.0.12')];

  it("-o json|yaml: each session with Calico's peer type and BIRD's states (the documented contract)", () => {
    expect(nodeStatusJson('host1', true, sessions)).toEqual({
      node: 'host1',
      birdRunning: true,
      sessions: [
        { peerAddress: '198.18.0.12', peerType: 'node-to-node mesh', protocol: 'Mesh_198_18_0_12', state: 'up', since: '09:20:01', bgpState: 'Established', info: 'Established' },
        { peerAddress: '198.18.0.1', peerType: 'node specific', protocol: 'Node_198_18_0_1', state: 'start', since: '09:20:01', bgpState: 'Active', info: 'Connect' },
      ],
    });
    expect(nodeStatusJson('host2', false, [])).toEqual({ node: 'host2', birdRunning: false, sessions: [] });
  });

  it("the table is calicoctl's; a dead BIRD says so and how to restart it", () => {
    expect(formatNodeStatus('host1', true, sessions)).toBe(
      [
        'Calico process is running.',
        '',
        'IPv4 BGP status',
        'PEER ADDRESS  PEER TYPE          STATE  SINCE     INFO',
        '------------  -----------------  -----  --------  --------------',
        '198.18.0.12   node-to-node mesh  up     09:20:01  Established',
        '198.18.0.1    node specific      start  09:20:01  Active Connect',
        '',
        'IPv6 BGP status',
        'No IPv6 peers found.',
      ].join('\n'),
    );
    // IPv6 sessions (between the nodes' IPv6 addresses) in a table of their own.
    expect(
      formatNodeStatus('host1', true, [session('Mesh_2001_db8_f__c', '2001:db8:f::c')])
        .split('\n')
        .slice(2),
    ).toEqual([
      'IPv4 BGP status',
      'No IPv4 peers found.',
      '',
      'IPv6 BGP status',
      'PEER ADDRESS   PEER TYPE          STATE  SINCE     INFO',
      '-------------  -----------------  -----  --------  -----------',
      '2001:db8:f::c  node-to-node mesh  up     09:20:01  Established',
    ]);
    expect(formatNodeStatus('host2', false, [])).toBe('Calico process is not running.\n(BIRD of host host2 is not running: calico-sim heal restarts it)');
  });
});
