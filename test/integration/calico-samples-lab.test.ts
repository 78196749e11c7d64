/**
 * Calico's IPPool and BGPPeer reference samples (test/fixtures/calico-samples/), applied unchanged
 * to a running lab, take effect: the pool's addresses (10.1.0.0/16, outside the lab's own plan)
 * are given to the workloads that ask for it, routed by BGP and masqueraded (natOutgoing); the
 * peer's fields — a port and a gateway (reachableBy) — reach BIRD and the kernel of the node it
 * names. Each with its negative control.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { birdc } from '../../src/bgp/bird.js';
import { down, up } from '../../src/sim/lab.js';
import { readLabState } from '../../src/sim/state.js';
import { netnsOf } from '../../src/sim/workloads.js';
import { resolveTopology } from '../../src/topologies/index.js';
import { inNetns } from '../../src/util/exec.js';
import { cli } from '../helpers/lab.js';

const LAB = 't-samples';
const SAMPLES = 'test/fixtures/calico-samples';
const dir = mkdtempSync(join(tmpdir(), 'csim-samples-'));
afterAll(async () => {
  await down(LAB);
  rmSync(dir, { recursive: true, force: true });
});
const inNs = async (netns: string, argv: string[]) => {
  const [cmd, ...args] = inNetns(netns, argv);
  return (await execa(cmd!, args, { reject: false })).stdout;
};
/** Polls `check` every 250 ms until it is true or `ms` have passed. */
async function eventually(check: () => Promise<boolean>, ms = 30_000): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 250))) if (await check()) return true;
  return check();
}

describe("Calico's IPPool and BGPPeer samples, applied unchanged to a lab, take effect", () => {
  it('IPPool my.ippool-1 (10.1.0.0/16, natOutgoing, ipipMode CrossSubnet): addresses for the workloads that ask, BGP routes, outgoing NAT', async () => {
    await down(LAB);
    await up(resolveTopology('two-host'), { name: LAB });
    const state = readLabState(LAB);
    const [h1, h2] = state.hosts;
    // Negative control: before the pool, no workload can ask for it and nothing masquerades it.
    const early = await cli('workload', 'add', 'w10', '--host', 'host1', '--ipv4-pools', 'my.ippool-1', '--lab', LAB);
    expect(early.code).not.toBe(0);
    expect(early.stderr).toMatch(/the given pool \(my\.ippool-1\) does not exist/);
    expect(await inNs(h1!.netns, ['iptables', '-t', 'nat', '-S'])).not.toContain('10.1.0.0/16');

    const applied = await cli('ctl', 'apply', '-f', `${SAMPLES}/ippool.yaml`, '--lab', LAB, '--wait');
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    // Calico's IPAM gives it only to the workloads that ask (the lab's first pool stays the default for the others).
    const added = await cli('workload', 'add', 'w10', '--host', 'host1', '--ipv4-pools', 'my.ippool-1', '--lab', LAB);
    expect(added.code).toBe(0);
    const ip = /: (10\.1\.\d+\.\d+)\/32/.exec(added.stdout)?.[1];
    expect(ip, added.stdout).toBeDefined();
    const block = `${ip!.split('.').slice(0, 3).join('.')}.${Math.floor(Number(ip!.split('.')[3]) / 64) * 64}/26`;
    // host1's block of the new pool reaches host2's kernel by BGP, as BIRD's route (no tunnel: one subnet).
    const learned = await eventually(async () => (await inNs(h2!.netns, ['ip', 'route', 'show', block])).includes(`via ${h1!.ip} dev eth0 proto bird`));
    expect(learned, await inNs(h2!.netns, ['ip', 'route'])).toBe(true);
    expect(await inNs(h2!.netns, ['ip', 'route', 'show', block])).not.toMatch(/tunl0|vxlan/);
    // w3 (host2, the lab's pool) reaches w10 (host1, Calico's sample pool) across the fabric.
    const w3 = await netnsOf(state, 'w3');
    const [pingCmd, ...pingArgs] = inNetns(w3, ['ping', '-c', '1', '-W', '2', ip!]);
    const ping = await execa(pingCmd!, pingArgs, { reject: false });
    expect(ping.exitCode, ping.stdout).toBe(0);
    // natOutgoing: traffic from the pool to outside every pool is masqueraded on each host.
    for (const h of [h1!, h2!]) expect(await inNs(h.netns, ['iptables', '-t', 'nat', '-S'])).toContain('-A cali-nat-outgoing -s 10.1.0.0/16 -j MASQUERADE');
    // No agent reports a problem: every node is in one subnet, where CrossSubnet needs no tunnel.
    const status = await cli('status', '--lab', LAB);
    expect(status.stdout).not.toMatch(/IP-in-IP CrossSubnet/);

    // The same pool in VXLAN CrossSubnet: the VXLAN device is made, and a block of a node in this
    // node's subnet is the agent's route to that node without encapsulation (Felix's noEncapRoute).
    const vxlan = join(dir, 'ippool-vxlan.yaml');
    writeFileSync(vxlan, readFileSync(`${SAMPLES}/ippool.yaml`, 'utf8').replace('ipipMode: CrossSubnet', 'ipipMode: Never\n  vxlanMode: CrossSubnet'));
    expect((await cli('ctl', 'apply', '-f', vxlan, '--lab', LAB, '--wait')).code).toBe(0);
    // (`ip route` leaves out the agent's `proto boot`; BIRD's route, metric 32, stays below it.)
    const noEncap = new RegExp(`^${block.replaceAll('.', '\\.')} via ${h1!.ip.replaceAll('.', '\\.')} dev eth0 onlink\\s*$`, 'm');
    const direct = await eventually(async () => noEncap.test(await inNs(h2!.netns, ['ip', 'route', 'show', block])));
    expect(direct, await inNs(h2!.netns, ['ip', 'route', 'show', block])).toBe(true);
    expect(await inNs(h2!.netns, ['ip', '-br', 'link', 'show', 'vxlan.calico'])).toMatch(/^vxlan\.calico/);
    const again = await execa(pingCmd!, pingArgs, { reject: false });
    expect(again.exitCode, again.stdout).toBe(0);
    // host2's BIRD learns that route from its kernel but does not announce host1's block as its own.
    expect(await birdc(h2!.bird.socket, `show route export Mesh_${h1!.ip.replaceAll('.', '_')}`)).not.toContain(block);
    // Back to IP-in-IP CrossSubnet (the sample as it is): the agent's route goes, BIRD's remains.
    expect((await cli('ctl', 'apply', '-f', `${SAMPLES}/ippool.yaml`, '--lab', LAB, '--wait')).code).toBe(0);
    const gone = await eventually(async () => !noEncap.test(await inNs(h2!.netns, ['ip', 'route', 'show', block])));
    expect(gone, await inNs(h2!.netns, ['ip', 'route', 'show', block])).toBe(true);
    expect(await inNs(h2!.netns, ['ip', 'route', 'show', block])).toContain(`via ${h1!.ip} dev eth0 proto bird`);
  }, 180_000);

  it("BGPPeer some.name applies unchanged (its node is not in the lab: no session anywhere); scoped to host1 with a port and reachableBy, it reaches host1's BIRD and kernel", async () => {
    const state = readLabState(LAB);
    const [h1, h2] = state.hosts;
    const applied = await cli('ctl', 'apply', '-f', `${SAMPLES}/bgppeer.yaml`, '--lab', LAB, '--wait');
    expect(applied.code).toBe(0);
    expect(applied.stdout).toContain('note: test/fixtures/calico-samples/bgppeer.yaml: document 1 (BGPPeer some.name): spec.node: no node "rack1-host1" in the datastore (nodes: host1, host2)');
    for (const h of [h1!, h2!]) expect(await birdc(h.bird.socket, 'show protocols')).not.toMatch(/192_168_1_1/);

    const scoped = join(dir, 'bgppeer-host1.yaml');
    const gw = state.fabric.gatewayIp;
    const sample = readFileSync(`${SAMPLES}/bgppeer.yaml`, 'utf8');
    writeFileSync(scoped, sample.replace('node: rack1-host1', 'node: host1').replace('peerIP: 192.168.1.1', `peerIP: 192.168.1.1:1791\n  reachableBy: ${gw}`));
    expect((await cli('ctl', 'apply', '-f', scoped, '--lab', LAB)).code).toBe(0);
    const reached = await eventually(async () => (await inNs(h1!.netns, ['ip', 'route', 'show', '192.168.1.1'])).includes(`192.168.1.1 via ${gw} dev eth0 proto bird`));
    expect(reached, await inNs(h1!.netns, ['ip', 'route'])).toBe(true);
    const protocol = await birdc(h1!.bird.socket, 'show protocols all Node_192_168_1_1_port_1791');
    expect(protocol).toMatch(/Neighbor address:\s+192\.168\.1\.1/);
    expect(protocol).toMatch(/Neighbor AS:\s+63400/);
    expect(await inNs(h2!.netns, ['ip', 'route', 'show', '192.168.1.1'])).toBe('');
    // Negative control: the peer deleted, its session and its route go.
    expect((await cli('ctl', 'delete', '-f', scoped, '--lab', LAB)).code).toBe(0);
    const gone = await eventually(async () => (await inNs(h1!.netns, ['ip', 'route', 'show', '192.168.1.1'])) === '');
    expect(gone).toBe(true);
    expect(await birdc(h1!.bird.socket, 'show protocols')).not.toMatch(/192_168_1_1/);

    // The BGPPeer with a password (Calico's "Secure BGP sessions" page), unchanged, with its
    // Secret: a global peer, so every node's BIRD has the session, with the password (TCP MD5).
    const secret = join(dir, 'secret.yaml');
    writeFileSync(secret, 'apiVersion: v1\nkind: Secret\nmetadata: {name: bgp-secrets, namespace: calico-system}\nstringData: {rr-password: very-secret}\n');
    expect((await cli('ctl', 'apply', '-f', secret, '--lab', LAB)).code).toBe(0);
    expect((await cli('ctl', 'apply', '-f', `${SAMPLES}/bgppeer-password.yaml`, '--lab', LAB)).code).toBe(0);
    const withPassword = /protocol bgp Global_192_20_30_40 from [^\n]*\n[\s\S]*?neighbor 192\.20\.30\.40 as 64567;[\s\S]*?password "very-secret";/;
    for (const h of [h1!, h2!]) expect(await eventually(async () => withPassword.test(readFileSync(h.bird.config, 'utf8')))).toBe(true);
    expect(await birdc(h2!.bird.socket, 'show protocols Global_192_20_30_40')).toMatch(/Global_192_20_30_40\s+BGP/);
    expect((await cli('ctl', 'delete', '-f', `${SAMPLES}/bgppeer-password.yaml`, '--lab', LAB)).code).toBe(0);
    for (const h of [h1!, h2!]) expect(await eventually(async () => !readFileSync(h.bird.config, 'utf8').includes('192_20_30_40'))).toBe(true);
  }, 120_000);
});
