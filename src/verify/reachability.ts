import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { run } from '../util/exec.js';
import { BackendError } from '../util/errors.js';

// The compiled prober, also when this module runs from source (tests).
const PROBE = fileURLToPath(new URL('../../dist/verify/tcp-probe.js', import.meta.url));
export const PROBE_PORT = 7777;

export interface Endpoint { name: string; netns: string; ip: string }
export interface PairResult {
  from: string;
  to: string;
  ip: string;
  ok: boolean;
  /** TCP only: the source address the server saw (equal to the client's own when nothing NATs). */
  seenAs?: string;
  detail?: string;
}

/**
 * ICMP from every endpoint to every other: one shell per source namespace running all its pings
 * at once, so a matrix costs N processes of `ip netns exec`, not N².
 */
export async function pingMatrix(eps: Endpoint[], timeoutS = 1, sources: Endpoint[] = eps): Promise<PairResult[]> {
  const rows = await Promise.all(sources.map(async (src) => {
    const dsts = eps.filter((d) => d !== src);
    if (dsts.length === 0) return [];
    const script = dsts.map((d) => `(ping -n -q -c 1 -W ${timeoutS} ${d.ip} >/dev/null 2>&1 && echo "${d.ip} ok" || echo "${d.ip} fail") &`).join('\n') + '\nwait\n';
    const out = await run('ip', ['netns', 'exec', src.netns, 'sh', '-c', script], { timeoutMs: (timeoutS + 10) * 1000 });
    const ok = new Set(out.split('\n').filter((l) => l.endsWith(' ok')).map((l) => l.split(' ')[0]));
    return dsts.map((d): PairResult => ({ from: src.name, to: d.name, ip: d.ip, ok: ok.has(d.ip), ...(ok.has(d.ip) ? {} : { detail: 'no echo reply' }) }));
  }));
  return rows.flat();
}

/**
 * TCP from every endpoint to every other: a server in each namespace answers with its own name
 * and the source address it saw; a pass needs the reply to name the intended workload (not just
 * any open port). `sources` (default: the endpoints themselves) connect to every endpoint.
 */
export async function tcpMatrix(eps: Endpoint[], timeoutMs = 2000, sources: Endpoint[] = eps): Promise<PairResult[]> {
  const servers: ChildProcess[] = [];
  try {
    await Promise.all(eps.map((e) => startServer(e, servers)));
    const rows = await Promise.all(sources.map(async (src) => {
      const dsts = eps.filter((d) => d !== src);
      if (dsts.length === 0) return [];
      const out = await run('ip', ['netns', 'exec', src.netns, process.execPath, PROBE, 'probe', String(timeoutMs), ...dsts.map((d) => `${d.ip}:${PROBE_PORT}`)], { timeoutMs: timeoutMs + 10_000 });
      const results = JSON.parse(out) as { target: string; ok: boolean; reply?: string; error?: string }[];
      return dsts.map((d, i): PairResult => {
        const r = results[i]!;
        const [name, seenAs] = (r.reply ?? '').split(' ');
        const ok = r.ok && name === d.name;
        return { from: src.name, to: d.name, ip: d.ip, ok, ...(seenAs ? { seenAs } : {}), ...(ok ? {} : { detail: r.error ?? `answered by "${name}"` }) };
      });
    }));
    return rows.flat();
  } finally {
    servers.forEach((s) => s.kill('SIGKILL'));
  }
}

function startServer(e: Endpoint, servers: ChildProcess[]): Promise<void> {
  const child = spawn('ip', ['netns', 'exec', e.netns, process.execPath, PROBE, 'serve', String(PROBE_PORT), e.name], { stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(child);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new BackendError(`TCP probe server in ${e.name} did not start`)), 10_000);
    createInterface({ input: child.stdout! }).once('line', () => { clearTimeout(timer); resolve(); });
    child.once('exit', (code) => { clearTimeout(timer); reject(new BackendError(`TCP probe server in ${e.name} exited (${code})`)); });
  });
}
