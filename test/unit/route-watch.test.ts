import { describe, expect, it } from 'vitest';
import { parseNsids } from '../../src/agent/route-watch.js';

describe('shared route watch: peer ids of the host namespaces', () => {
  it('reads `ip netns list-id`', () => {
    const out = 'nsid 0 (iproute2 netns name: csim_lab_h_host1)\nnsid 1 (iproute2 netns name: csim_lab_h_host2)\nnsid 7\n';
    expect([...parseNsids(out)]).toEqual([
      [0, 'csim_lab_h_host1'],
      [1, 'csim_lab_h_host2'],
    ]);
  });
});
