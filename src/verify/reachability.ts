import { fileURLToPath } from 'node:url';
import { execOk, type Helper, type NodeRunner } from '../util/node-runner.js';
import { pool } from '../util/pool.js';
import type { ProbeResult } from './probe.js';

// The compiled prober, also when this module runs from source (tests).
const PROBE = fileURLToPath(new URL('../../dist/verify/probe.js', import.meta.url));
/**
 * The probe servers' port. None of the encapsulation ports (encap-ports.ts), nor are the UDP
 * probes' source ports (udp-client.ts): a capture check never has to tell a probe from a tunnel.
 */
export const PROBE_PORT = 7777;
/** How many source namespaces probe at once: bounds processes and sockets on big labs. */
const CONCURRENCY = 16;

export type Proto = 'icmp' | 'tcp' | 'udp';
export type Family = 4 | 6;

export interface Endpoint {
  name: string;
  netns: string;
  ip: string;
  ip6?: string;
}

/** One cell of a reachability matrix. */
export interface PairResult {
  from: string;
  to: string;
  family: Family;
  proto: Proto;
  /** The address probed. */
  ip: string;
  /** TCP/UDP: the port probed. */
  port?: number;
  ok: boolean;
  rttMs?: number;
  /** TCP/UDP: the source address the server saw (the client's own when nothing NATs). */
  seenAs?: string;
  detail?: string;
}

export interface MatrixOptions {
  /** The lab's backend: how the probes reach the endpoints' namespaces. */
  runner: NodeRunner;
  /** Who is probed (and, by default, who probes). */
  endpoints: Endpoint[];
  /** Who probes: e.g. an outside client. Default: the endpoints themselves. */
  sources?: Endpoint[];
  protos?: Proto[];
  families?: Family[];
  /** TCP/UDP ports every endpoint serves and is probed on (default PROBE_PORT). */
  ports?: number[];
  timeoutMs?: number;
  /** Probe only the pairs this accepts (a sample); default every pair of different endpoints. */
  only?: (from: Endpoint, to: Endpoint) => boolean;
}

/** An endpoint's address of a family (`ip` may itself be IPv6, for IPv6-only callers). */
const addr = (e: Endpoint, f: Family) => (f === 4 ? (e.ip.includes(':') ? undefined : e.ip) : (e.ip6 ?? (e.ip.includes(':') ? e.ip : undefined)));

/**
 * Probes every (source, destination) pair with every protocol and address family both ends
 * have. One process per source namespace and protocol runs all that source's probes at once,
 * so a matrix costs O(N) processes, not O(N²); at most CONCURRENCY sources run together.
 */
export async function reachability(o: MatrixOptions): Promise<PairResult[]> {
  const protos = o.protos ?? ['icmp', 'tcp', 'udp'];
  const families = o.families ?? [4, 6];
  const timeoutMs = o.timeoutMs ?? 2000;
  const sources = o.sources ?? o.endpoints;
  const ports = o.ports ?? [PROBE_PORT];
  const servers: Helper[] = [];
  try {
    if (protos.some((p) => p !== 'icmp')) await Promise.all(o.endpoints.map(async (e) => servers.push(await startServer(o.runner, e, ports))));
    const jobs = sources.flatMap((src) =>
      protos.map((proto) => async () => {
        const targets = families.flatMap((f) =>
          o.endpoints.filter((d) => d !== src && d.name !== src.name && addr(d, f) && addr(src, f) && (o.only?.(src, d) ?? true)).map((d) => ({ d, f, ip: addr(d, f)! })),
        );
        if (targets.length === 0) return [];
        return proto === 'icmp'
          ? ping(o.runner, src, targets, timeoutMs)
          : probe(
              o.runner,
              src,
              proto,
              targets.flatMap((t) => ports.map((port) => ({ ...t, port }))),
              timeoutMs,
            );
      }),
    );
    return (await pool(jobs, CONCURRENCY)).flat();
  } finally {
    await Promise.all(servers.map((s) => s.stop('SIGKILL')));
  }
}

type Target = { d: Endpoint; f: Family; ip: string; port?: number };

/**
 * Two echo requests 0.2 s apart; any reply is a pass. The first packet to a neighbour not yet
 * resolved (IPv6 neighbour discovery on a fresh fabric) can be lost: that is not a blocked path.
 */
async function ping(runner: NodeRunner, src: Endpoint, targets: Target[], timeoutMs: number): Promise<PairResult[]> {
  const w = Math.max(1, Math.ceil(timeoutMs / 1000));
  const script = `${targets.map((t) => `(r=$(ping -n -c 2 -i 0.2 -W ${w} ${t.ip} 2>&1) && echo "${t.ip} ok $(echo "$r" | sed -n 's/.*time=\\([0-9.]*\\).*/\\1/p' | head -n 1)" || echo "${t.ip} fail") &`).join('\n')}\nwait\n`;
  const out = await execOk(runner, src.netns, ['sh', '-c', script], { timeoutMs: timeoutMs + 10_000 });
  const rtt = new Map(
    out
      .split('\n')
      .filter((l) => l.includes(' ok'))
      .map((l) => [l.split(' ')[0], Number(l.split(' ')[2])]),
  );
  return targets.map((t): PairResult => {
    const ok = rtt.has(t.ip);
    return { from: src.name, to: t.d.name, family: t.f, proto: 'icmp', ip: t.ip, ok, ...(ok ? { rttMs: rtt.get(t.ip) } : { detail: 'no echo reply' }) };
  });
}

/** A pass needs the reply to name the intended endpoint (not just any open port). */
async function probe(runner: NodeRunner, src: Endpoint, proto: 'tcp' | 'udp', targets: Target[], timeoutMs: number): Promise<PairResult[]> {
  const out = await execOk(runner, src.netns, [process.execPath, PROBE, 'probe', String(timeoutMs), ...targets.map((t) => `${proto}:${t.ip}:${t.port ?? PROBE_PORT}`)], {
    timeoutMs: timeoutMs + 10_000,
  });
  const results = JSON.parse(out) as ProbeResult[];
  return targets.map((t, i) => judgeProbe(src.name, addr(src, t.f), proto, { name: t.d.name, family: t.f, ip: t.ip, port: t.port ?? PROBE_PORT }, results[i]!));
}

/**
 * Pure: one TCP/UDP cell from a probe's result. A pass needs the intended endpoint to answer
 * (not just any open port) and to have seen our own address (nothing translated it).
 */
export function judgeProbe(from: string, own: string | undefined, proto: 'tcp' | 'udp', to: { name: string; family: Family; ip: string; port?: number }, r: ProbeResult): PairResult {
  const [name, seenAs] = (r.reply ?? '').split(' ');
  const ok = r.ok && name === to.name && seenAs === own;
  const detail = !r.ok ? r.error : name !== to.name ? `answered by "${name}"` : `seen as ${seenAs}, not ${own}: address translated`;
  return {
    from,
    to: to.name,
    family: to.family,
    proto,
    ip: to.ip,
    ...(to.port !== undefined ? { port: to.port } : {}),
    ok,
    ...(ok ? { rttMs: r.ms } : { detail }),
    ...(seenAs ? { seenAs } : {}),
  };
}

/** ICMP over IPv4 from every endpoint (or the given sources) to every other. */
export function pingMatrix(runner: NodeRunner, endpoints: Endpoint[], timeoutS = 1, sources?: Endpoint[]): Promise<PairResult[]> {
  return reachability({ runner, endpoints, sources, protos: ['icmp'], families: [familyOf(endpoints)], timeoutMs: timeoutS * 1000 });
}

/** TCP over IPv4 (or IPv6 when the endpoints' `ip` is IPv6) from every endpoint to every other. */
export function tcpMatrix(runner: NodeRunner, endpoints: Endpoint[], timeoutMs = 2000, sources?: Endpoint[]): Promise<PairResult[]> {
  return reachability({ runner, endpoints, sources, protos: ['tcp'], families: [familyOf(endpoints)], timeoutMs });
}

/** The callers of pingMatrix/tcpMatrix put the address to probe in `ip`, IPv4 or IPv6. */
function familyOf(eps: Endpoint[]): Family {
  return eps.some((e) => e.ip.includes(':')) ? 6 : 4;
}

/** The probe's echo server in an endpoint: answers with the endpoint's name and the source it saw. */
export function startServer(runner: NodeRunner, e: { name: string; netns: string }, ports: number[]): Promise<Helper> {
  return runner.spawn(e.netns, [process.execPath, PROBE, 'serve', ports.join(','), e.name], { what: `probe server in ${e.name}`, ready: /^/ });
}
