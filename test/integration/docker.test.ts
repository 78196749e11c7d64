import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LABELS } from '../../src/sim/backends/docker.js';
import { STATE_ROOT } from '../../src/sim/names.js';
import { cli, labNamespaces, netSnapshot } from '../helpers/lab.js';

/** The docker backend, end to end: `bash scripts/setup.sh --docker` (npm test) starts the engine. */
const docker = async (...args: string[]) => {
  const r = await execa('docker', args, { reject: false });
  return { code: r.exitCode ?? -1, stdout: String(r.stdout).trim(), stderr: String(r.stderr).trim() };
};
const containersOf = async (lab: string) => (await docker('ps', '-a', '--filter', `label=${LABELS.lab}=${lab}`, '--format', '{{.Names}}')).stdout.split('\n').filter(Boolean).sort();
const LABS = ['t-dock', 't-dock-lim', 't-dock-kill', 't-dock-clash'];

describe('the docker backend', () => {
  let before: string;
  beforeAll(async () => {
    expect((await docker('info', '--format', '{{.ServerVersion}}')).code, 'a Docker engine answers (bash scripts/setup.sh --docker starts one)').toBe(0);
    for (const lab of LABS) await cli('down', '--lab', lab);
    before = await netSnapshot();
  });
  afterAll(async () => {
    for (const lab of LABS) await cli('down', '--lab', lab);
  });

  it('two hosts as containers: BIRD and the agent run inside them, workloads are containers, names resolve, heal restarts inside', async () => {
    const up = await cli('up', 'two-host', '--backend', 'docker', '--lab', 't-dock');
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    const st = JSON.parse((await cli('status', '--lab', 't-dock', '-o', 'json')).stdout);
    expect(st).toMatchObject({ backend: 'docker', phase: 'ready', healthy: true });
    expect(st.bgp.map((b: { state: string }) => b.state)).toEqual(['Established', 'Established']);
    expect(await containersOf('t-dock')).toEqual(['csim_t-dock_fabric', 'csim_t-dock_h_host1', 'csim_t-dock_h_host2', 'csim_t-dock_w_w1', 'csim_t-dock_w_w2', 'csim_t-dock_w_w3', 'csim_t-dock_w_w4']);
    // status names each node's container; BIRD and the agent are processes of the host's container.
    const host1 = st.hosts.find((h: { name: string }) => h.name === 'host1');
    expect(host1.container).toMatch(/^[0-9a-f]{12}$/);
    expect(st.workloads.every((w: { container?: string }) => /^[0-9a-f]{12}$/.test(w.container ?? ''))).toBe(true);
    const top = (await docker('top', 'csim_t-dock_h_host1', '-o', 'pid,args')).stdout;
    expect(top).toMatch(new RegExp(`^\\s*${host1.bird.pid}\\s+bird -f`, 'm'));
    expect(top).toMatch(new RegExp(`^\\s*${host1.agent.pid}\\s+\\S*node \\S*dist/agent/main\\.js --host host1`, 'm'));
    // A workload is a real container a user can docker exec into: its /32, its gateway.
    const w1 = st.workloads.find((w: { name: string }) => w.name === 'w1');
    expect((await docker('exec', 'csim_t-dock_w_w1', 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0')).stdout).toContain(`${w1.ip}/32`);
    expect((await docker('exec', 'csim_t-dock_w_w1', 'ip', 'route')).stdout).toMatch(/^default via 169\.254\.1\.1 dev eth0/m);
    // exec: inside the container, the lab's names resolve.
    const ping = await cli('exec', '--lab', 't-dock', 'w1', '--', 'ping', '-c1', '-W2', 'w4');
    expect(ping.code).toBe(0);
    expect(ping.stdout).toContain(`PING w4 (${st.workloads.find((w: { name: string }) => w.name === 'w4').ip})`);
    // kill -9 of a BIRD in its container: heal starts it again there.
    process.kill(host1.bird.pid, 'SIGKILL');
    expect((await cli('heal', '--lab', 't-dock')).stdout).toBe('restarted: bird@host1');
    const healed = JSON.parse((await cli('status', '--lab', 't-dock', '-o', 'json')).stdout);
    const bird = healed.hosts.find((h: { name: string }) => h.name === 'host1').bird;
    expect((await docker('top', 'csim_t-dock_h_host1', '-o', 'pid,args')).stdout).toMatch(new RegExp(`^\\s*${bird.pid}\\s+bird -f .* -R$`, 'm'));
    // workload add and del make and remove a container.
    expect((await cli('workload', 'add', 'w9', '--host', 'host2', '--lab', 't-dock')).code).toBe(0);
    expect(await containersOf('t-dock')).toContain('csim_t-dock_w_w9');
    expect((await cli('exec', '--lab', 't-dock', 'w1', '--', 'ping', '-c1', '-W2', 'w9')).code).toBe(0);
    expect((await cli('workload', 'del', 'w9', '--lab', 't-dock')).code).toBe(0);
    expect(await containersOf('t-dock')).not.toContain('csim_t-dock_w_w9');

    const down = await cli('down', '--lab', 't-dock');
    expect(down.stdout).toMatch(/lab "t-dock" removed: 7 namespaces/);
    expect(await containersOf('t-dock')).toEqual([]);
    expect(labNamespaces('t-dock')).toEqual([]);
    expect(existsSync(`${STATE_ROOT}/t-dock`)).toBe(false);
    expect(await netSnapshot()).toBe(before);
  });

  it("a topology's backend and host resource limits: the container has them, and its BIRD runs under them", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'csim-dock-'));
    try {
      const topo = join(dir, 'small.yaml');
      writeFileSync(topo, 'backend: docker\nhosts:\n  - { name: small, resources: { cpus: 0.5, memoryMiB: 256 }, workloads: [a] }\n  - { name: big, workloads: [b] }\n');
      expect((await cli('up', topo, '--lab', 't-dock-lim')).code).toBe(0);
      const st = JSON.parse((await cli('status', '--lab', 't-dock-lim', '-o', 'json')).stdout);
      expect(st.backend).toBe('docker');
      const limits = JSON.parse((await docker('inspect', '--format', '{{json .HostConfig}}', 'csim_t-dock-lim_h_small')).stdout);
      expect(limits).toMatchObject({ NanoCpus: 500_000_000, Memory: 256 * 1024 * 1024, NetworkMode: 'none' });
      expect(JSON.parse((await docker('inspect', '--format', '{{json .HostConfig}}', 'csim_t-dock-lim_h_big')).stdout)).toMatchObject({ NanoCpus: 0, Memory: 0 });
      // The daemon is in the container's memory cgroup: the limit is its.
      const id = st.hosts.find((h: { name: string }) => h.name === 'small').container;
      expect(readFileSync(`/proc/${st.hosts.find((h: { name: string }) => h.name === 'small').bird.pid}/cgroup`, 'utf8')).toMatch(new RegExp(`memory:.*${id}`));
      expect((await cli('exec', '--lab', 't-dock-lim', 'a', '--', 'ping', '-c1', '-W2', 'b')).code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await cli('down', '--lab', 't-dock-lim');
    }
  });

  it('run quickstart and the conformance suite (with a negative control) pass on containers', async () => {
    const q = await cli('run', 'quickstart', '--backend', 'docker', '--lab', 't-dock');
    expect(q.stdout).toContain('QUICKSTART PASSED');
    expect(q.code).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'csim-dock-conf-'));
    try {
      const c = await cli('conformance', 'two-host', 'control-nat', '--backend', 'docker', '--report-dir', dir);
      expect(c.stdout).toMatch(/^conformance: \d+ passed, 0 failed/m);
      expect(c.code).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(await containersOf('t-dock')).toEqual([]);
  });

  it('a policy scenario (nftables inside the containers) and a convergence benchmark with faults through the backend', async () => {
    const p = await cli('run', 'tenant-isolation', '--backend', 'docker', '--dataplane', 'nftables', '--lab', 't-dock');
    expect(p.stdout).toMatch(/^(\d+)\/\1 cells as expected/m);
    expect(p.code).toBe(0);
    const dir = mkdtempSync(join(tmpdir(), 'csim-dock-bench-'));
    try {
      const b = await cli('bench', 'convergence', '--backend', 'docker', '--trials', '1', '--events', 'link-flap,bird-restart', '--timers', 'tuned', '--report-dir', dir);
      expect(b.code, b.stderr).toBe(0);
      const report = b.stdout.match(/^report: (.*)\/report\.md$/m)![1]!;
      const results = JSON.parse(readFileSync(join(report, 'results.json'), 'utf8'));
      expect(results.topology.backend).toBe('docker');
      expect(results.results.measurements.map((m: { event: string; trials: unknown[] }) => [m.event, m.trials.length])).toEqual([
        ['link-flap', 1],
        ['bird-restart', 1],
      ]);
      expect(readFileSync(join(report, 'report.md'), 'utf8')).toContain('labs on the docker backend');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('kill -9 of up halfway, state directory gone: down finds every container by its label and leaves nothing', async () => {
    const child = execa(process.execPath, ['bin/calico-sim.js', 'up', 'mesh', '--hosts', '4', '--backend', 'docker', '--lab', 't-dock-kill'], { reject: false });
    // Until it has made containers, then no further.
    for (let i = 0; i < 200 && (await containersOf('t-dock-kill')).length < 3; i++) await new Promise((r) => setTimeout(r, 25));
    child.kill('SIGKILL');
    await child;
    expect((await containersOf('t-dock-kill')).length).toBeGreaterThanOrEqual(3);
    rmSync(`${STATE_ROOT}/t-dock-kill`, { recursive: true, force: true });
    expect(JSON.parse((await cli('ls', '-o', 'json')).stdout)).toContainEqual(expect.objectContaining({ lab: 't-dock-kill', backend: 'docker' }));
    expect((await cli('down', '--lab', 't-dock-kill')).code).toBe(0);
    expect(await containersOf('t-dock-kill')).toEqual([]);
    expect(labNamespaces('t-dock-kill')).toEqual([]);
    expect(await netSnapshot()).toBe(before);
  });

  it('bad input: a container of that name that is not ours, or no engine: one line, exit 2, nothing made, the other container untouched', async () => {
    const image = (await docker('images', '--format', '{{.Repository}}:{{.Tag}}', 'calico-sim-node')).stdout.split('\n')[0]!;
    expect((await docker('run', '-d', '--name', 'csim_t-dock-clash_h_host2', '--network', 'none', image, 'sleep', 'infinity')).code).toBe(0);
    try {
      const r = await cli('up', 'two-host', '--backend', 'docker', '--lab', 't-dock-clash');
      expect(r.code).toBe(2);
      expect(r.stderr).toBe("calico-sim: a container named csim_t-dock-clash_h_host2 exists and is not calico-sim's: remove it (docker rm -f csim_t-dock-clash_h_host2) or choose another lab name");
      expect(await containersOf('t-dock-clash')).toEqual([]);
      expect(labNamespaces('t-dock-clash')).toEqual([]);
      expect((await docker('inspect', '--format', '{{.State.Running}}', 'csim_t-dock-clash_h_host2')).stdout).toBe('true');
    } finally {
      await docker('rm', '-f', 'csim_t-dock-clash_h_host2');
    }
    const none = await execa(process.execPath, ['bin/calico-sim.js', 'up', 'two-host', '--backend', 'docker', '--lab', 't-dock-clash'], {
      reject: false,
      env: { DOCKER_HOST: 'unix:///run/calico-sim-no-such-docker.sock' },
    });
    expect(none.exitCode).toBe(2);
    expect(String(none.stderr)).toMatch(/^calico-sim: the docker backend needs a running Docker engine, and none answers \(.*\): install and start it with: bash scripts\/setup\.sh --docker$/);
    expect(labNamespaces('t-dock-clash')).toEqual([]);
    expect(existsSync(`${STATE_ROOT}/t-dock-clash`)).toBe(false);
  });
});
