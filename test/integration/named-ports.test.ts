import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { down } from '../../src/sim/lab.js';
import { readLabState } from '../../src/sim/state.js';
import { inNetns } from '../../src/util/exec.js';
import { cli } from '../helpers/lab.js';

const LAB = 't-nport';
const dir = mkdtempSync(join(tmpdir(), 'csim-nport-'));
afterAll(async () => {
  await down(LAB);
  rmSync(dir, { recursive: true, force: true });
});

const EXPECT = 'examples/named-ports/expect.yaml';
const probe = (expect = EXPECT, ports = '6379,6380') => cli('probe', '--lab', LAB, '--from', 'client', '--port', ports, '--family', '4', '--expect', expect);
const file = (name: string, lines: string[]) => {
  const f = join(dir, name);
  writeFileSync(f, `${lines.join('\n')}\n`);
  return f;
};
const inHost = async (host: string, argv: string[]) => {
  const [cmd, ...args] = inNetns(readLabState(LAB).hosts.find((h) => h.name === host)!.netns, argv);
  return String((await execa(cmd!, args)).stdout);
};

describe('named ports (felix/calc/rule_scanner.go, felix/rules/policy.go): a port name in a rule is each endpoint’s port of that name', () => {
  it('one rule opens 6379 on the database and 6380 on the cache, in iptables and nftables; a workload added with --port joins the set', async () => {
    await down(LAB);
    expect((await cli('up', 'examples/named-ports/topology.yaml', '--lab', LAB)).code).toBe(0);
    // The endpoint records carry the topology's ports, as calicoctl shows a WorkloadEndpoint's.
    expect((await cli('ctl', 'get', 'workloadendpoints', '-o', 'yaml', '--lab', LAB)).stdout).toMatch(/ports:\n\s+- name: redis\n\s+protocol: TCP\n\s+port: 6380/);
    // Negative control: before the policy every port is open, so the expectations fail.
    const before = await probe();
    expect(before.code).toBe(1);
    expect(before.stdout).toMatch(/NOT AS EXPECTED: client → database: expected blocked, tcp v4 :6380 was open/);

    expect((await cli('ctl', 'apply', '-f', 'examples/named-ports/allow-redis.yaml', '--lab', LAB, '--wait')).code).toBe(0);
    const after = await probe();
    expect(after.stdout).toMatch(/all 5 expectations hold/);
    expect(after.code).toBe(0);
    // In the kernel: a hash:ip,port set of both workloads' redis ports, matched dst,dst.
    const ipset = await inHost('host2', ['ipset', 'list']);
    expect(ipset).toMatch(/Name: cali40n:\w+\nType: hash:ip,port/);
    expect(ipset).toMatch(/,tcp:6379$/m);
    expect(ipset).toMatch(/,tcp:6380$/m);
    expect(await inHost('host2', ['iptables-save', '-t', 'filter'])).toMatch(/-m set --match-set cali40n:\w+ dst,dst -j MARK --set-xmark 0x10000\/0x10000/);

    // nftables: the same answer from a `ipv4_addr . inet_proto . inet_service` set.
    const nft = file('nft.yaml', ['apiVersion: projectcalico.org/v3', 'kind: FelixConfiguration', 'metadata: {name: default}', 'spec: {nftablesMode: Enabled}']);
    expect((await cli('ctl', 'apply', '-f', nft, '--lab', LAB, '--wait')).code).toBe(0);
    expect((await probe()).stdout).toMatch(/all 5 expectations hold/);
    const ruleset = await inHost('host2', ['nft', 'list', 'table', 'ip', 'calico']);
    expect(ruleset).toMatch(/type ipv4_addr \. inet_proto \. inet_service/);
    // nft lists `th dport` as `tcp dport` once the protocol is known.
    expect(ruleset).toMatch(/ip daddr \. meta l4proto \. tcp dport @cali40n-\w+ meta mark set meta mark \| 0x00010000 return/);

    // A workload added with a port of that name is in the set at once: open on its own number only.
    const added = await cli('workload', 'add', 'cache2', '--host', 'host2', '--label', 'app=db', '--port', 'redis=6381', '--lab', LAB);
    expect(added.code).toBe(0);
    const more = await probe(
      file('more.yaml', ['- { from: client, to: cache2, proto: tcp, port: 6381, expect: open }', '- { from: client, to: cache2, proto: tcp, port: 6379, expect: blocked }']),
      '6379,6381',
    );
    expect(more.stdout).toMatch(/all 2 expectations hold/);
    // A bad port name changes nothing.
    const bad = await cli('workload', 'add', 'cache3', '--host', 'host2', '--port', 'Redis=6382', '--lab', LAB);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--port 1 \(Redis\): name: "Redis" is not a port name: must contain only alpha-numeric characters/);
    const weps = (await cli('ctl', 'get', 'workloadendpoints', '--lab', LAB)).stdout;
    expect(weps).toMatch(/cache2/);
    expect(weps).not.toMatch(/cache3/);
  }, 300_000);
});
