import { BackendError } from '../util/errors.js';
import type { NodeRunner } from '../util/node-runner.js';

/** One iperf3 run, from its JSON (`-J`) output. */
export interface IperfResult {
  /** Goodput as the receiver saw it. */
  bitsPerSecond: number;
  /** TCP: segments retransmitted by the sender. */
  retransmits?: number;
  /** UDP: datagrams lost, in percent. */
  lostPercent?: number;
  /** CPU of the sender (host) and the receiver (remote), percent. */
  cpuSender: number;
  cpuReceiver: number;
}

interface IperfJson {
  error?: string;
  end?: {
    sum_received?: { bits_per_second: number };
    sum_sent?: { retransmits?: number };
    sum?: { bits_per_second: number; lost_percent?: number };
    cpu_utilization_percent?: { host_total: number; remote_total: number };
  };
}

/** Pure: the numbers that matter from `iperf3 -J` output (TCP or UDP). */
export function parseIperf(json: string): IperfResult {
  let j: IperfJson;
  try {
    j = JSON.parse(json) as IperfJson;
  } catch {
    throw new BackendError(`iperf3 printed no JSON: ${json.slice(0, 200)}`);
  }
  if (j.error) throw new BackendError(`iperf3: ${j.error}`);
  const end = j.end;
  if (!end?.sum_received || !end.cpu_utilization_percent) throw new BackendError('iperf3 JSON without end.sum_received');
  return {
    bitsPerSecond: end.sum_received.bits_per_second,
    ...(end.sum_sent?.retransmits !== undefined ? { retransmits: end.sum_sent.retransmits } : {}),
    ...(end.sum?.lost_percent !== undefined ? { lostPercent: end.sum.lost_percent } : {}),
    cpuSender: end.cpu_utilization_percent.host_total,
    cpuReceiver: end.cpu_utilization_percent.remote_total,
  };
}

/** Pure: every `time=…` of `ping` output, in milliseconds. */
export function parsePingTimes(out: string): number[] {
  return [...out.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1]));
}

/**
 * One iperf3 test: a one-off server in namespace `to`, the client (with `clientArgs`, e.g.
 * `-P 4` or `-u -b 0`) in namespace `from`, against `ip`; both started through the lab's backend.
 */
export async function runIperf(runner: NodeRunner, o: { from: string; to: string; ip: string; port: number; durationS: number; clientArgs?: string[] }): Promise<IperfResult> {
  const server = await runner.spawn(o.to, ['iperf3', '-s', '-1', '--forceflush', '-p', String(o.port)], { what: 'iperf3 server', ready: /listening/ });
  try {
    const args = ['-c', o.ip, '-p', String(o.port), '-t', String(o.durationS), '-J', ...(o.clientArgs ?? [])];
    const r = await runner.exec(o.from, ['iperf3', ...args], { timeoutMs: (o.durationS + 20) * 1000 });
    return parseIperf(r.stdout);
  } finally {
    await server.stop('SIGKILL');
  }
}
