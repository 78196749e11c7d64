import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { down } from '../../src/sim/lab.js';
import { readLabState } from '../../src/sim/state.js';
import { inNetns } from '../../src/util/exec.js';
import { cli } from '../helpers/lab.js';

const LAB = 't-hep';
const dir = mkdtempSync(join(tmpdir(), 'csim-hep-'));
afterAll(async () => {
  await down(LAB);
  rmSync(dir, { recursive: true, force: true });
});

const probe = (expect: string) => cli('probe', '--lab', LAB, '--from', 'client,host2,web', '--to', 'host1,web', '--port', '8080,22', '--family', '4', '--expect', expect);
const file = (name: string, lines: string[]) => {
  const f = join(dir, name);
  writeFileSync(f, `${lines.join('\n')}\n`);
  return f;
};

/** The example lab, host1's eth0 under its HostEndpoint and k8s-node-ingress. */
async function upWithHostEndpoint(): Promise<void> {
  await down(LAB);
  expect((await cli('up', 'examples/host-endpoint/topology.yaml', '--lab', LAB)).code).toBe(0);
  expect((await cli('ctl', 'apply', '-f', 'examples/host-endpoint/host1-eth0.yaml', '--lab', LAB, '--wait')).code).toBe(0);
}

/** Switches the lab to nftables, keeping its DefaultEndpointToHostAction Accept. */
async function toNftables(): Promise<void> {
  const nft = file('nft.yaml', ['apiVersion: projectcalico.org/v3', 'kind: FelixConfiguration', 'metadata: {name: default}', 'spec: {nftablesMode: Enabled, defaultEndpointToHostAction: Accept}']);
  expect((await cli('ctl', 'apply', '-f', nft, '--lab', LAB, '--wait')).code).toBe(0);
}

describe('host endpoints (felix/rules/static.go, endpoints.go): a HostEndpoint protects its host, failsafe ports stay open', () => {
  it('denies by default what its policy does not allow, keeps failsafe ports and BGP, leaves forwarded traffic alone; DefaultEndpointToHostAction Drop', async () => {
    await down(LAB);
    expect((await cli('up', 'examples/host-endpoint/topology.yaml', '--lab', LAB)).code).toBe(0);
    // Negative control: with no host endpoint the host is not policed, so the expectations fail.
    const before = await probe('examples/host-endpoint/expect.yaml');
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/NOT AS EXPECTED: host2 → host1: expected blocked, tcp v4 :8080 was open/);

    const applied = await cli('ctl', 'apply', '-f', 'examples/host-endpoint/host1-eth0.yaml', '--lab', LAB, '--wait');
    // --wait returns once both agents programmed it (host1's reaches etcd through failsafe 2379) and BGP settled (179).
    expect(applied.stdout).toMatch(/BGP settled .*2\/2 sessions Established/);
    expect(applied.code).toBe(0);
    const after = await probe('examples/host-endpoint/expect.yaml');
    expect(after.stdout).toMatch(/all 6 expectations hold/);
    expect(after.code).toBe(0);
    expect((await cli('ctl', 'get', 'hostendpoints', '--lab', LAB)).stdout).toMatch(/host1-eth0\s+host1\s+eth0/);

    // Felix's own default: a workload no longer reaches its host; others still do, as the policy says.
    expect((await cli('ctl', 'apply', '-f', 'examples/host-endpoint/endpoint-to-host-drop.yaml', '--lab', LAB, '--wait')).code).toBe(0);
    const dropped = await probe(
      file('drop.yaml', [
        '- { from: web, to: host1, proto: tcp, port: 8080, expect: blocked }',
        '- { from: web, to: host1, proto: icmp, expect: blocked }',
        '- { from: client, to: host1, proto: tcp, port: 8080, expect: open }',
        '- { from: client, to: web, proto: tcp, port: 8080, expect: open }',
      ]),
    );
    expect(dropped.stdout).toMatch(/all 4 expectations hold/);

    // Without the host endpoint the host is open again.
    const hep = file('hep.yaml', ['apiVersion: projectcalico.org/v3', 'kind: HostEndpoint', 'metadata: {name: host1-eth0}']);
    expect((await cli('ctl', 'delete', '-f', hep, '--lab', LAB, '--wait')).code).toBe(0);
    const open = await probe(file('open.yaml', ['- { from: host2, to: host1, proto: tcp, port: 8080, expect: open }']));
    expect(open.code).toBe(0);
  }, 180_000);

  it('applyOnForward: the host endpoint also polices what the host forwards to its workloads, in iptables and nftables', async () => {
    await upWithHostEndpoint();
    const expectations = file('forward-expect.yaml', [
      '- { from: client, to: web, proto: tcp, port: 8080, expect: blocked }',
      '- { from: client, to: web, proto: tcp, port: 22, expect: open }',
      '- { from: host2, to: web, proto: tcp, port: 8080, expect: open }',
      '- { from: client, to: host1, proto: tcp, port: 8080, expect: blocked }',
      '- { from: client, to: host1, proto: tcp, port: 22, expect: open }',
      // host1's own traffic is still its normal policy's: host2 does not reach 8080.
      '- { from: host2, to: host1, proto: tcp, port: 8080, expect: blocked }',
    ]);
    // Negative control: before the forward policy, host1 forwards the client's 8080 to web.
    const before = await probe(expectations);
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/NOT AS EXPECTED: client → web: expected blocked, tcp v4 :8080 was open/);
    expect((await cli('ctl', 'apply', '-f', 'examples/host-endpoint/forward.yaml', '--lab', LAB, '--wait')).code).toBe(0);
    const after = await probe(expectations);
    expect(after.stdout).toMatch(/all 6 expectations hold/);
    expect(after.code).toBe(0);
    const host1 = readLabState(LAB).hosts.find((h) => h.name === 'host1')!;
    const [cmd, ...args] = inNetns(host1.netns, ['iptables', '-S', 'cali-from-hep-forward']);
    expect((await execa(cmd!, args)).stdout).toMatch(/-A cali-from-hep-forward -i eth0 .*-g cali-fhfw-eth0/);
    // The same in nftables.
    await toNftables();
    expect((await probe(expectations)).stdout).toMatch(/all 6 expectations hold/);
    const [ncmd, ...nargs] = inNetns(host1.netns, ['nft', 'list', 'chain', 'ip', 'calico', 'filter-cali-fhfw-eth0']);
    expect((await execa(ncmd!, nargs)).stdout).toMatch(/jump filter-cali-pi-/);
  }, 180_000);

  it('preDNAT and doNotTrack: the mangle and raw tables decide before the normal policy, in iptables and nftables', async () => {
    await upWithHostEndpoint();
    const early = file('early-expect.yaml', [
      // host2 → host1:8080: dropped by the normal policy; allowed before it by pre-DNAT policy.
      '- { from: host2, to: host1, proto: tcp, port: 8080, expect: open }',
      // The client's 8080 denied before DNAT: forwarded to web, and to host1 (which the normal policy allows).
      '- { from: client, to: web, proto: tcp, port: 8080, expect: blocked }',
      '- { from: client, to: host1, proto: tcp, port: 8080, expect: blocked }',
      // A failsafe port is not subject to it.
      '- { from: client, to: web, proto: tcp, port: 22, expect: open }',
    ]);
    // Negative control: without the pre-DNAT policy host2 does not reach 8080, and the client does.
    const before = await probe(early);
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/NOT AS EXPECTED: host2 → host1: expected open, tcp v4 :8080 was blocked/);
    expect(before.stdout).toMatch(/NOT AS EXPECTED: client → web: expected blocked, tcp v4 :8080 was open/);
    expect((await cli('ctl', 'apply', '-f', 'examples/host-endpoint/pre-dnat.yaml', '--lab', LAB, '--wait')).code).toBe(0);
    const preDnat = await probe(early);
    expect(preDnat.stdout).toMatch(/all 4 expectations hold/);
    const host1 = readLabState(LAB).hosts.find((h) => h.name === 'host1')!;
    const inHost1 = async (argv: string[]) => {
      const [cmd, ...args] = inNetns(host1.netns, argv);
      return String((await execa(cmd!, args)).stdout);
    };
    expect(await inHost1(['iptables', '-t', 'mangle', '-S', 'cali-from-host-endpoint'])).toMatch(/-i eth0 .*-g cali-fh-eth0/);

    // doNotTrack instead: host2's 8080 allowed untracked — the raw table's NOTRACK rule counts its packets.
    const pre = file('pre.yaml', ['apiVersion: projectcalico.org/v3', 'kind: GlobalNetworkPolicy', 'metadata: {name: pre-dnat}']);
    expect((await cli('ctl', 'delete', '-f', pre, '--lab', LAB, '--wait')).code).toBe(0);
    const untracked = file('untracked-expect.yaml', ['- { from: host2, to: host1, proto: tcp, port: 8080, expect: open }', '- { from: client, to: host1, proto: tcp, port: 8080, expect: open }']);
    // Negative control: without either policy host2's 8080 is the normal policy's again: dropped.
    expect((await probe(untracked)).stdout).toMatch(/NOT AS EXPECTED: host2 → host1: expected open, tcp v4 :8080 was blocked/);
    expect((await cli('ctl', 'apply', '-f', 'examples/host-endpoint/untracked.yaml', '--lab', LAB, '--wait')).code).toBe(0);
    expect((await probe(untracked)).stdout).toMatch(/all 2 expectations hold/);
    const counted = (await inHost1(['iptables', '-t', 'raw', '-L', 'cali-fh-eth0', '-v', '-n', '-x'])).split('\n').find((l) => l.includes('NOTRACK'));
    expect(Number(counted?.trim().split(/\s+/)[0])).toBeGreaterThan(0);

    // The same in nftables: pre-DNAT again on top, both tables' chains in `table ip calico`.
    expect((await cli('ctl', 'apply', '-f', 'examples/host-endpoint/pre-dnat.yaml', '--lab', LAB, '--wait')).code).toBe(0);
    await toNftables();
    expect((await probe(early)).stdout).toMatch(/all 4 expectations hold/);
    const ruleset = await inHost1(['nft', 'list', 'table', 'ip', 'calico']);
    expect(ruleset).toMatch(/chain raw-cali-fh-eth0 \{[^}]*notrack/);
    expect(ruleset).toMatch(/chain mangle-cali-fh-eth0 \{/);
  }, 180_000);

  it('with VXLAN: the tunnel between hosts passes a "*" host endpoint with no policy (Felix allows VXLAN from and to known hosts first)', async () => {
    await down(LAB);
    const topo = file('vxlan.yaml', [
      'name: hep-vxlan',
      'pools: [{cidr: 198.19.0.0/16, vxlan: true}]',
      'hosts:',
      '  - {name: host1, workloads: [{name: web, labels: {role: web}}]}',
      '  - {name: host2, workloads: [{name: client, labels: {role: client}}]}',
    ]);
    expect((await cli('up', topo, '--lab', LAB)).code).toBe(0);
    const all = file('all.yaml', ['apiVersion: projectcalico.org/v3', 'kind: HostEndpoint', 'metadata: {name: host1-all}', 'spec: {node: host1, interfaceName: "*"}']);
    expect((await cli('ctl', 'apply', '-f', all, '--lab', LAB, '--wait')).code).toBe(0);
    const probed = await cli(
      'probe',
      '--lab',
      LAB,
      '--from',
      'client,host2',
      '--to',
      'web,host1',
      '--port',
      '8080',
      '--family',
      '4',
      '--proto',
      'tcp',
      '--expect',
      file('vxlan-expect.yaml', ['- { from: client, to: web, expect: open }', '- { from: host2, to: host1, expect: blocked }']),
    );
    expect(probed.stdout).toMatch(/all 2 expectations hold/);
    // Negative control: without the VXLAN rule in host1's cali-INPUT the tunnel is cut. The agent
    // writes deltas against what it applied, so the rule stays deleted while the probe runs.
    const host1 = readLabState(LAB).hosts.find((h) => h.name === 'host1')!;
    const [cmd, ...args] = inNetns(host1.netns, ['iptables', '-S', 'cali-INPUT']);
    const rule = (await execa(cmd!, args)).stdout.split('\n').find((l) => l.includes('VXLAN'))!;
    const [dcmd, ...dargs] = inNetns(host1.netns, ['sh', '-c', `iptables ${rule.replace(/^-A /, '-D ')}`]);
    await execa(dcmd!, dargs);
    const cut = await cli('probe', '--lab', LAB, '--from', 'client', '--to', 'web', '--port', '8080', '--family', '4', '--proto', 'tcp');
    expect(cut.stdout).toMatch(/0 open, 1 blocked/);
  }, 120_000);
});
