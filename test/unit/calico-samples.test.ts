/**
 * Calico's reference-page samples (tigera/docs calico/reference/resources/*.mdx), verbatim in
 * test/fixtures/calico-samples/: ctl takes each unchanged, or refuses it for a reason the README's
 * "Differences from Calico" lists (addresses outside the lab ranges, IP-in-IP).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseResourceFile } from '../../src/ctl/parse.js';

const sample = (name: string) => fileURLToPath(new URL(`../fixtures/calico-samples/${name}.yaml`, import.meta.url));
const problems = (name: string): string[] => {
  try {
    parseResourceFile(readFileSync(sample(name), 'utf8'), `${name}.yaml`);
    return [];
  } catch (err) {
    return (err as { problems?: string[] }).problems ?? [String(err)];
  }
};

describe("Calico's reference samples", () => {
  // ctl's parser and schemas (what `ctl apply` checks before writing); what each takes effect as is
  // proven in a lab by test/integration/{bgp-configuration,bgp-filter,tiers,host-endpoint}.test.ts.
  it.each(['bgpconfig', 'bgpfilter', 'networkpolicy', 'globalnetworkpolicy', 'tier', 'hostendpoint'])('%s: ctl takes it unchanged', (name) => {
    expect(problems(name)).toEqual([]);
  });

  it('IPPool: refused only for its address range and its IP-in-IP mode (allowedUses and assignmentMode are taken)', () => {
    expect(problems('ippool')).toEqual([
      'ippool.yaml: document 1 (IPPool my.ippool-1): spec.cidr: 10.1.0.0/16 is outside the lab address ranges (198.18.0.0/15, 2001:db8::/32)',
      'ippool.yaml: document 1 (IPPool my.ippool-1): spec.ipipMode: "CrossSubnet" is not supported: there is no IP-in-IP in this kernel, only Never is accepted',
    ]);
  });

  it("BGPPeer: refused only for its peer's address range", () => {
    expect(problems('bgppeer')).toEqual(['bgppeer.yaml: document 1 (BGPPeer some.name): spec.peerIP: 192.168.1.1 is outside the lab address ranges (198.18.0.0/15, 2001:db8::/32)']);
  });
});
