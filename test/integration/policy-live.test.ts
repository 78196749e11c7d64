import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { spawn } from 'node:child_process';
import { keys } from '../../src/datastore/keys.js';
import type { AgentStatus } from '../../src/model/resources.js';
import { applyAndWait, policyScenario, scenarioPlan, scenarioPolicies } from '../../src/scenarios/policy.js';
import { down, up, withDatastore, type UpResult } from '../../src/sim/lab.js';
import { heal } from '../../src/sim/heal.js';
import { status } from '../../src/sim/status.js';
import { readLabState } from '../../src/sim/state.js';
import { waitFor } from '../../src/util/exec.js';
import { reachability } from '../../src/verify/reachability.js';
import { runner } from '../helpers/lab.js';
import { signalDaemon } from '../../src/sim/faults.js';

const sh = async (netns: string, cmd: string) => String((await execa('ip', ['netns', 'exec', netns, 'sh', '-c', cmd])).stdout);

/** A host's whole policy ruleset, with what legitimately differs between two writes removed. */
async function ruleset(netns: string, dataplane: 'iptables' | 'nftables'): Promise<string> {
  if (dataplane === 'iptables') {
    const rules = (await sh(netns, 'iptables-save -t filter; ip6tables-save -t filter'))
      .split('\n')
      .filter((l) => !l.startsWith('#'))
      .map((l) => l.replace(/\[\d+:\d+\]/g, '[0:0]'));
    // A hash set has no order: ipset lists members as they hash.
    const sets = (await sh(netns, 'ipset save'))
      .split('\n')
      .map((l) => l.replace(/ initval 0x[0-9a-f]+/, ''))
      .sort();
    return [...rules, ...sets].join('\n');
  }
  // nft lists sets and chains in creation order; a delta appends what it adds. Compare content:
  // the tables' top-level blocks (sets, maps, chains), each in order inside, sorted by table and name.
  const text = await sh(netns, 'nft list ruleset');
  const blocks: string[] = [];
  let table = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('table ')) table = line;
    else if (/^\t(set|map|chain) /.test(line)) blocks.push(`${table}${line}`);
    else if (blocks.length && line.startsWith('\t\t')) blocks[blocks.length - 1] += `\n${line}`;
  }
  return blocks.sort().join('\n');
}

for (const dataplane of ['iptables', 'nftables'] as const) {
  describe(`policy on a live lab (${dataplane})`, () => {
    const LAB = `t-pol-live-${dataplane.slice(0, 3)}`;
    const s = policyScenario('security-groups');
    let lab: UpResult;
    const ns = async (name: string) => (await status(lab.state)).workloads.find((w) => w.name === name)!;

    beforeAll(async () => {
      await down(LAB);
      lab = await up(scenarioPlan(s, dataplane), { name: LAB });
      await applyAndWait(lab.state, scenarioPolicies(s));
    }, 120_000);
    afterAll(async () => {
      await down(LAB);
    });

    it('policy changes do not disturb an established allowed flow', async () => {
      const [client, web1] = [await ns('client'), await ns('web1')];
      const server = spawn('ip', ['netns', 'exec', web1.netns, 'iperf3', '-s', '-1', '-p', '80'], { stdio: 'ignore' });
      try {
        await waitFor('iperf3 server', async () => (await execa('ip', ['netns', 'exec', web1.netns, 'ss', '-ltn', 'sport = :80'])).stdout.includes('LISTEN'), 5_000, 50);
        const flow = execa('ip', ['netns', 'exec', client.netns, 'iperf3', '-c', web1.ip, '-p', '80', '-t', '6', '-i', '0.5', '-J'], { reject: false });
        await new Promise((r) => setTimeout(r, 1000));
        const docs = scenarioPolicies(s);
        const web = docs.find((d) => (d.metadata as { name: string }).name === 'web')!;
        const widened = JSON.parse(JSON.stringify(web)) as { spec: { ingress: { destination: { ports: number[] } }[] } };
        widened.spec.ingress[0]!.destination.ports = [80, 443];
        const extra = {
          apiVersion: 'projectcalico.org/v3',
          kind: 'GlobalNetworkPolicy',
          metadata: { name: 'db-audit' },
          spec: { order: 50, selector: "role == 'db'", types: ['Ingress'], ingress: [{ action: 'Log', protocol: 'TCP' }] },
        };
        await applyAndWait(lab.state, [widened]);
        await applyAndWait(lab.state, [extra]);
        await applyAndWait(lab.state, [web]);
        const r = await flow;
        const j = JSON.parse(String(r.stdout)) as { error?: string; intervals: { sum: { bits_per_second: number } }[] };
        expect(j.error).toBeUndefined();
        const rates = j.intervals.map((i) => i.sum.bits_per_second / 1e9);
        const median = [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]!;
        console.log(`established flow during 3 policy changes (${dataplane}): ${rates.map((x) => x.toFixed(1)).join(' ')} Gbit/s per 0.5 s`);
        expect(Math.min(...rates)).toBeGreaterThan(median * 0.2);
      } finally {
        server.kill('SIGKILL');
      }
    }, 60_000);

    it('a restarted agent rebuilds exactly the same ruleset', async () => {
      const hosts = lab.state.hosts;
      const before = await Promise.all(hosts.map((h) => ruleset(h.netns, dataplane)));
      expect(before.every((b) => b.includes(dataplane === 'iptables' ? 'cali-FORWARD' : 'chain filter-cali-FORWARD'))).toBe(true);
      for (const h of hosts) signalDaemon(lab.state, { node: h.name, daemon: 'agent' });
      await waitFor('agents reported dead', async () => (await status(lab.state)).hosts.every((h) => !h.agent.alive), 5_000);
      expect((await heal(lab.state)).sort()).toEqual(hosts.map((h) => `agent@${h.name}`).sort());
      const pids = readLabState(LAB).hosts.map((h) => h.agent.pid);
      await waitFor(
        'restarted agents programmed',
        () =>
          withDatastore(lab.state, async (ds) => {
            const { items } = await ds.list<AgentStatus>(keys.agentStatuses);
            return items.filter((i) => pids.includes(i.value.pid) && i.value.lastReconcile && !i.value.lastReconcile.error).length === hosts.length;
          }),
        15_000,
      );
      const after = await Promise.all(hosts.map((h) => ruleset(h.netns, dataplane)));
      for (let i = 0; i < hosts.length; i++) expect(after[i], hosts[i]!.name).toBe(before[i]);
    }, 60_000);

    if (dataplane === 'iptables') {
      it('switching the lab to nftables (FelixConfiguration) moves the rules, and policy still holds', async () => {
        await applyAndWait(lab.state, [{ apiVersion: 'projectcalico.org/v3', kind: 'FelixConfiguration', metadata: { name: 'default' }, spec: { nftablesMode: 'Enabled' } }]);
        for (const h of lab.state.hosts) {
          // Felix's tables: one per family.
          expect(await sh(h.netns, 'nft list tables')).toMatch(/^table ip calico\ntable ip6 calico$/m);
          expect(await sh(h.netns, 'iptables-save -t filter; ip6tables-save -t filter; ipset list -n')).not.toMatch(/cali/);
        }
        const [client, web1, db1] = [await ns('client'), await ns('web1'), await ns('db1')];
        const cells = await reachability({
          runner,
          endpoints: [web1, db1].map((w) => ({ name: w.name, netns: w.netns, ip: w.ip })),
          sources: [{ name: client.name, netns: client.netns, ip: client.ip }],
          protos: ['tcp'],
          families: [4],
          ports: [80, 5432],
          timeoutMs: 1000,
        });
        expect(cells.map((c) => `${c.to}:${c.port} ${c.ok}`).sort()).toEqual(['db1:5432 false', 'db1:80 false', 'web1:5432 false', 'web1:80 true']);
      }, 60_000);
    }
  });
}
