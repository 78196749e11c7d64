/**
 * Calico's reference-page samples (tigera/docs calico/reference/resources/*.mdx), verbatim in
 * test/fixtures/calico-samples/: ctl takes each unchanged.
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
  it.each(['ippool', 'bgpconfig', 'bgppeer', 'bgppeer-password', 'bgpfilter', 'networkpolicy', 'globalnetworkpolicy', 'tier', 'hostendpoint'])('%s: ctl takes it unchanged', (name) => {
    expect(problems(name)).toEqual([]);
  });

  it('IPPool: its ipipMode CrossSubnet is taken, Always is refused naming the reason', () => {
    const text = readFileSync(sample('ippool'), 'utf8').replace('ipipMode: CrossSubnet', 'ipipMode: Always');
    expect(() => parseResourceFile(text, 'ippool.yaml')).toThrow(/spec\.ipipMode: "Always" is not supported: this kernel has no IP-in-IP/);
  });
});
