import { mkdirSync, writeFileSync } from 'node:fs';
import { resolveTopology } from '../topologies/index.js';
import { withLab } from '../sim/lab.js';
import { status, type LabStatus } from '../sim/status.js';
import { matrix, table } from '../util/table.js';
import { backendOf } from '../sim/backends/index.js';
import { pingMatrix, tcpMatrix, type PairResult } from '../verify/reachability.js';

export interface ScenarioResult {
  scenario: string;
  passed: boolean;
  summary: Record<string, string | number | boolean>;
  timings: Record<string, number>;
}

/**
 * The quickstart: bring up two hosts, show their BGP sessions and learned routes, prove every
 * workload reaches every other by ICMP and TCP, print a summary, tear down.
 */
export async function quickstart(opts: { name?: string; backend?: string; reportDir?: string; print: (s: string) => void }): Promise<ScenarioResult> {
  const { print } = opts;
  const plan = resolveTopology('two-host');
  const name = opts.name ?? 'quickstart';
  print(`== up: topology two-host as lab "${name}"`);
  let timings: Record<string, number> = {};
  const result = await withLab(plan, { name, backend: opts.backend, log: (l) => print(`   ${l}`) }, async (lab) => {
    const { state } = lab;
    timings = lab.timings;
    const st = await status(state);
    const runner = backendOf(state);
    print('\n== BGP sessions (from each BIRD control socket)');
    print(
      table(
        ['host', 'peer', 'peer ip', 'state', 'since'],
        st.bgp.map((b) => [b.host, b.peer, b.peerIp, b.state, b.since]),
      ),
    );
    print('\n== workloads');
    print(
      table(
        ['workload', 'host', 'ip', 'interface'],
        st.workloads.map((w) => [w.name, w.host, w.ip, w.interface]),
      ),
    );
    print("\n== routes, as on a Calico node: other hosts' blocks learned by BGP and this host's blocks' blackholes (proto bird, BIRD's), workload routes (the agent's: proto boot, not printed)");
    for (const h of state.hosts) {
      print(`-- ${h.name}`);
      print((await runner.exec(h.netns, ['ip', 'route', 'show'])).stdout.trimEnd());
    }
    const eps = st.workloads.map((w) => ({ name: w.name, netns: w.netns, ip: w.ip }));
    const t0 = performance.now();
    const [icmp, tcp] = [await pingMatrix(runner, eps), await tcpMatrix(runner, eps)];
    timings.matrix = Math.round(performance.now() - t0);
    const names = eps.map((e) => e.name);
    const okOf = (rs: PairResult[]) => (f: string, t: string) => rs.find((r) => r.from === f && r.to === t)?.ok;
    print('\n== ICMP (ping)');
    print(matrix(names, okOf(icmp)));
    print('\n== TCP (connect, reply must name the workload)');
    print(matrix(names, okOf(tcp)));
    return summarize(st, icmp, tcp, timings);
  });
  print('\n== summary');
  print(
    table(
      ['check', 'result'],
      Object.entries(result.summary).map(([k, v]) => [k, String(v)]),
    ),
  );
  print(`\nup (to all routes learned): ${timings.total} ms · reachability matrix: ${timings.matrix} ms · down: ${timings.down} ms`);
  print(result.passed ? 'QUICKSTART PASSED' : 'QUICKSTART FAILED');
  if (opts.reportDir) {
    mkdirSync(opts.reportDir, { recursive: true });
    writeFileSync(`${opts.reportDir}/quickstart.json`, JSON.stringify(result, null, 2));
  }
  return result;
}

function summarize(st: LabStatus, icmp: PairResult[], tcp: PairResult[], timings: Record<string, number>): ScenarioResult {
  const established = st.bgp.filter((b) => b.state === 'Established').length;
  const expectedSessions = st.hosts.length * (st.hosts.length - 1);
  const icmpOk = icmp.filter((r) => r.ok).length;
  const tcpOk = tcp.filter((r) => r.ok).length;
  const summary = {
    hosts: st.hosts.length,
    workloads: st.workloads.length,
    'BGP sessions established': `${established}/${expectedSessions}`,
    'agents alive': `${st.hosts.filter((h) => h.agent.alive).length}/${st.hosts.length}`,
    'ICMP pairs ok': `${icmpOk}/${icmp.length}`,
    'TCP pairs ok': `${tcpOk}/${tcp.length}`,
  };
  const passed = established === expectedSessions && icmpOk === icmp.length && tcpOk === tcp.length && icmp.length > 0;
  return { scenario: 'quickstart', passed, summary: { ...summary, passed }, timings };
}
