import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseIperf, parsePingTimes } from '../../src/measure/iperf.js';
import { quantile, summarize } from '../../src/measure/stats.js';
import { throughputMarkdown, type ThroughputResults } from '../../src/report/throughput-report.js';

const fixture = (f: string) => readFileSync(new URL(`./fixtures/${f}`, import.meta.url), 'utf8');

describe('measurement parsing (on real iperf3 3.12 and ping output)', () => {
  it('TCP: receiver goodput, retransmits, CPU of both ends', () => {
    const r = parseIperf(fixture('iperf3-tcp.json'));
    const j = JSON.parse(fixture('iperf3-tcp.json'));
    expect(r.bitsPerSecond).toBe(j.end.sum_received.bits_per_second);
    expect(r.retransmits).toBe(j.end.sum_sent.retransmits);
    expect(r.lostPercent).toBeUndefined();
    expect(r.cpuSender).toBeGreaterThan(0);
  });
  it('UDP: receiver goodput and loss', () => {
    const r = parseIperf(fixture('iperf3-udp.json'));
    expect(r.lostPercent).toBe(JSON.parse(fixture('iperf3-udp.json')).end.sum.lost_percent);
  });
  it('an iperf3 error or garbage is an error, not a zero', () => {
    expect(() => parseIperf('{"error": "unable to connect to server: Connection refused"}')).toThrow(/unable to connect/);
    expect(() => parseIperf('iperf3: error')).toThrow(/no JSON/);
  });
  it('ping times', () => {
    const out = '64 bytes from 198.19.0.1: icmp_seq=1 ttl=62 time=0.158 ms\n64 bytes from 198.19.0.1: icmp_seq=2 ttl=62 time=1.5 ms\n';
    expect(parsePingTimes(out)).toEqual([0.158, 1.5]);
  });
});

describe('statistics', () => {
  it('quantiles interpolate between ranks; the summary has median, min, max', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.5)).toBe(3);
    expect(
      quantile(
        Array.from({ length: 101 }, (_, i) => i),
        0.99,
      ),
    ).toBe(99);
    expect(summarize([3, 1, 2])).toEqual({ n: 3, median: 2, min: 1, max: 3 });
  });
});

describe('the throughput report', () => {
  it('shows the medians, the ranges and the ratios it was given', () => {
    const res = {
      schema: 'calico-sim/results/v1',
      kind: 'bench-throughput',
      runId: 'r',
      startedAt: '2026-11-26T14:00:00.000Z',
      finishedAt: '2026-11-26T14:05:00.000Z',
      machine: { hostname: 'vm', kernel: 'k', cpus: 2, cpuModel: 'AMD EPYC', memoryBytes: 2 ** 30 },
      versions: { node: 'v20', calicoSim: '0.1.0', bird: '2', etcd: '3.4', iperf3: '3.12', iptables: '1.8.9', nft: '1.0.6', kernel: 'k' },
      topology: { name: 'two-host', hosts: 2, workloads: 3 },
      parameters: { trials: 5, durationS: 3, modes: ['tcp-1'], pingsPerTrial: 200, pingIntervalMs: 5 },
      results: {
        paths: [{ id: 'l3', describe: 'L3' }],
        throughput: [{ path: 'l3', mode: 'tcp-1', trials: [], gbps: { n: 5, median: 14.03, min: 12.5, max: 15.1 }, retransmits: 45, cpuSender: 79, cpuReceiver: 76 }],
        latency: [{ path: 'l3', samples: 1000, p50Ms: 0.09, p99Ms: 0.163, p50Trials: { n: 5, median: 0.091, min: 0.085, max: 0.1 }, p99Trials: { n: 5, median: 0.16, min: 0.15, max: 0.2 } }],
        ratios: { 'l3/host-host': 0.898 },
      },
    } as ThroughputResults;
    const md = throughputMarkdown(res);
    expect(md).toMatch(/l3\s+tcp-1\s+14\.03\s+12\.50–15\.10\s+45\s+79\/76/);
    expect(md).toContain('- l3/host-host: 89.8 %');
    expect(md).toMatch(/l3\s+0\.090\s+0\.085–0\.100\s+0\.163\s+0\.150–0\.200\s+1000/);
    expect(md).toContain('5 trials of 3 s per path and mode, alternating; labs on the netns backend; 2 CPUs (AMD EPYC)');
  });
});
