import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { down, up, withDatastore } from '../../src/sim/lab.js';
import { readLabState } from '../../src/sim/state.js';
import { resolveTopology } from '../../src/topologies/index.js';
import { waitForAgents, waitForBgpSettled } from '../../src/sim/readiness.js';
import { Ctl } from '../../src/ctl/ctl.js';
import { parseResourceFile } from '../../src/ctl/parse.js';
import { cli } from '../helpers/lab.js';
import { waitFor } from '../../src/util/exec.js';

const LAB = 't-bgp-pw';
const dir = mkdtempSync(join(tmpdir(), 'csim-bgp-pw-'));
afterAll(async () => {
  await down(LAB);
  rmSync(dir, { recursive: true, force: true });
});

const V3 = 'apiVersion: projectcalico.org/v3';
/** Each host peers with the other (mesh off), each side's password from its own Secret key. */
const peers = (key1: string, key2: string) =>
  [
    'apiVersion: v1\nkind: Secret\nmetadata: {name: bgp-secrets, namespace: calico-system}\nstringData: {a: one-password, b: another-one, c: one-password}',
    `${V3}\nkind: BGPConfiguration\nmetadata: {name: default}\nspec: {nodeToNodeMeshEnabled: false}`,
    `${V3}\nkind: BGPPeer\nmetadata: {name: to-host2}\nspec: {node: host1, peerIP: 198.18.0.12, asNumber: 64512, password: {secretKeyRef: {name: bgp-secrets, key: ${key1}}}}`,
    `${V3}\nkind: BGPPeer\nmetadata: {name: to-host1}\nspec: {node: host2, peerIP: 198.18.0.11, asNumber: 64512, password: {secretKeyRef: {name: bgp-secrets, key: ${key2}}}}`,
  ].join('\n---\n');

describe("BGP passwords: Calico's secretKeyRef, rendered as BIRD's `password` (TCP MD5)", () => {
  it('the mesh comes back with the password; sessions whose passwords differ never establish, and do once they agree', async () => {
    await down(LAB);
    await up(resolveTopology('two-host'), { name: LAB });
    const applied = await cli('ctl', 'apply', '-f', 'examples/bgp-password/mesh-password.yaml', '--lab', LAB, '--wait');
    expect(applied.stderr).toBe('');
    expect(applied.code).toBe(0);
    const state = readLabState(LAB);
    for (const h of state.hosts) expect(readFileSync(h.bird.config, 'utf8')).toMatch(/protocol bgp Mesh_198_18_0_1\d from [\s\S]*?password "very-secret";/);
    expect((await cli('ctl', 'get', 'secrets', '-n', 'calico-system', '--lab', LAB)).stdout).toMatch(/calico-system\s+bgp-secrets\s+Opaque\s+1/);

    await withDatastore(state, async (ds) => {
      const ctl = new Ctl(ds);
      // Different passwords on the two ends: the kernel drops the other side's segments (bad MD5).
      await ctl.apply(parseResourceFile(peers('a', 'b'), 'peers.yaml'));
      await waitForAgents(ds, state, ctl.lastRevision!, 10_000);
      await expect(waitForBgpSettled(ds, state, 8_000)).rejects.toThrow(/not yet: host1 Node_198_18_0_12 (Active|Connect|Idle)/);
      // The same password (another key of equal value): established.
      await ctl.apply(parseResourceFile(peers('a', 'c'), 'peers.yaml'));
      await waitForAgents(ds, state, ctl.lastRevision!, 10_000);
      expect((await waitForBgpSettled(ds, state, 30_000)).sessions).toBe(2);
    });

    // A key the Secret lacks: the agent says so (status), and renders the session without a password.
    const missing = join(dir, 'missing.yaml');
    writeFileSync(missing, `${V3}\nkind: BGPPeer\nmetadata: {name: to-host1}\nspec: {node: host2, peerIP: 198.18.0.11, asNumber: 64512, password: {secretKeyRef: {name: bgp-secrets, key: nope}}}\n`);
    expect((await cli('ctl', 'apply', '-f', missing, '--lab', LAB)).code).toBe(0);
    const said = 'BGPPeer to-host1: password: no key \\"nope\\" in Secret calico-system/bgp-secrets: the session has no password';
    const st = await waitFor('the agent to report the missing key', async () => ((await cli('status', '--lab', LAB, '-o', 'json')).stdout.includes(said) ? true : undefined), 20_000, 500);
    expect(st).toBe(true);
    expect(readFileSync(state.hosts[1]!.bird.config, 'utf8')).not.toMatch(/password/);

    // A Secret is read and deleted in calico-node's namespace when the file names none.
    expect((await cli('ctl', 'get', 'secret', 'bgp-secrets', '-o', 'yaml', '--lab', LAB)).stdout).toMatch(/namespace: calico-system/);
    const secretFile = join(dir, 'secret.yaml');
    writeFileSync(secretFile, 'apiVersion: v1\nkind: Secret\nmetadata: {name: bgp-secrets}\n');
    const deleted = await cli('ctl', 'delete', '-f', secretFile, '--lab', LAB);
    expect(deleted.stderr).toBe('');
    expect(deleted.code).toBe(0);
    expect((await cli('ctl', 'get', 'secrets', '--lab', LAB)).stdout).not.toMatch(/bgp-secrets/);
  }, 120_000);
});
