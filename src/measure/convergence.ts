/**
 * Pure convergence arithmetic (RFC 4098 / 6412 style): control-plane time from timestamped
 * route events per host, data-plane time from a constant-rate probe stream's losses.
 * Timer resolution: `ip -ts monitor` stamps microseconds; the probe stream's is its interval.
 */
import { summarize, type Summary } from './stats.js';

export interface RouteEvent {
  /** Which host's kernel (the monitor it came from). */
  host: string;
  /** Microseconds since the epoch. */
  atUs: number;
  kind: 'add' | 'del';
  /** The destination as `ip` prints it, with /32 or /128 added when it omits a host prefix. */
  dst: string;
  proto?: string;
}

/** Pure: `ip -ts monitor route` lines (`[2026-11-26T14:28:08.808530] [Deleted ]<route>`) to events. */
export function parseRouteMonitor(host: string, text: string): RouteEvent[] {
  const events: RouteEvent[] = [];
  for (const line of text.split('\n')) {
    const m = /^\[(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\.(\d{6})\] (Deleted )?(.*)$/.exec(line.trim());
    if (!m) continue;
    const words = m[4]!.trim().split(/\s+/);
    const types = new Set(['blackhole', 'unreachable', 'prohibit', 'local', 'broadcast', 'unicast']);
    const dstWord = types.has(words[0]!) ? words[1]! : words[0]!;
    if (!dstWord || (dstWord === 'default' && words.length < 2)) continue;
    const dst = dstWord.includes('/') || dstWord === 'default' ? dstWord : `${dstWord}/${dstWord.includes(':') ? 128 : 32}`;
    const protoAt = words.indexOf('proto');
    // The monitor prints local time without a zone, as the system clock reads it.
    const atUs = new Date(m[1]!).getTime() * 1000 + Number(m[2]);
    events.push({ host, atUs, kind: m[3] ? 'del' : 'add', dst, ...(protoAt >= 0 ? { proto: words[protoAt + 1] } : {}) });
  }
  return events;
}

export interface ConvergenceResult {
  /** Until the last host got there; undefined when some host never did. */
  convergedUs?: number;
  perHost: Record<string, number | undefined>;
  missing: string[];
}

/**
 * Pure: after an event at `eventAtUs`, how long until every host in `hosts` saw `kind` for `dst`
 * (its first such event at or after the event; earlier ones are history).
 */
export function routeConvergence(events: RouteEvent[], eventAtUs: number, dst: string, kind: 'add' | 'del', hosts: string[]): ConvergenceResult {
  const perHost: Record<string, number | undefined> = {};
  for (const h of hosts) {
    const first = events.filter((e) => e.host === h && e.dst === dst && e.kind === kind && e.atUs >= eventAtUs).sort((a, b) => a.atUs - b.atUs)[0];
    perHost[h] = first ? first.atUs - eventAtUs : undefined;
  }
  const missing = hosts.filter((h) => perHost[h] === undefined);
  return { ...(missing.length === 0 ? { convergedUs: Math.max(0, ...hosts.map((h) => perHost[h]!)) } : {}), perHost, missing };
}

export interface StreamLoss {
  sent: number;
  received: number;
  lost: number;
  /** RFC 6412 loss-derived convergence time: lost packets × the send interval. */
  lossDerivedMs: number;
  /** The longest run of consecutive lost packets, as time (× interval). */
  longestGapMs: number;
  /** Sequence numbers received twice or out of order (reordering is reported, not lost). */
  duplicates: number;
}

/** Pure: losses of a constant-rate stream of `sent` packets (seq 0…sent−1) at `rate` per second. */
export function streamLoss(receivedSeqs: number[], sent: number, rate: number): StreamLoss {
  const intervalMs = 1000 / rate;
  const seen = new Set<number>();
  let duplicates = 0;
  for (const s of receivedSeqs) {
    if (s < 0 || s >= sent) continue;
    if (seen.has(s)) duplicates++;
    seen.add(s);
  }
  let longest = 0;
  let run = 0;
  for (let s = 0; s < sent; s++) {
    run = seen.has(s) ? 0 : run + 1;
    longest = Math.max(longest, run);
  }
  const lost = sent - seen.size;
  return { sent, received: seen.size, lost, lossDerivedMs: lost * intervalMs, longestGapMs: longest * intervalMs, duplicates };
}

/** The receiver's count of packets so far, stamped on the controller's clock (ms). */
export interface RecvSample {
  atMs: number;
  received: number;
}

/**
 * Pure: when the stream counts as flowing again after an event that ended at `sinceMs`: the first
 * sample by which a whole window (≥ windowMs, entirely after sinceMs) saw at least `fraction` of
 * the packets the rate sends in it. undefined while it has not. This decides only when to stop
 * the stream; the loss itself is counted from sequence numbers.
 */
export function flowingAgainAt(samples: RecvSample[], sinceMs: number, ratePps: number, windowMs = 1000, fraction = 0.9): number | undefined {
  const after = samples.filter((s) => s.atMs >= sinceMs).sort((a, b) => a.atMs - b.atMs);
  for (let j = 0; j < after.length; j++) {
    const end = after[j]!;
    // The latest sample at least a window before this one.
    let i = -1;
    for (let k = j - 1; k >= 0; k--)
      if (end.atMs - after[k]!.atMs >= windowMs) {
        i = k;
        break;
      }
    if (i < 0) continue;
    const start = after[i]!;
    if (end.received - start.received >= (fraction * ratePps * (end.atMs - start.atMs)) / 1000) return end.atMs;
  }
  return undefined;
}

/** A stream's losses, and whether it flowed again before it was stopped. */
export type StreamResult = StreamLoss & {
  /** false: the stream hit its cap with traffic still not flowing; its loss is only a lower bound. */
  recovered: boolean;
};

/** One trial of a convergence event: the figures it measured, and what went wrong, if anything. */
export interface TrialResult {
  controlPlaneMs?: number;
  stream?: StreamResult;
  note?: string;
}

export interface TrialsSummary {
  controlPlaneMs?: Summary;
  /** Over the trials whose stream recovered: a capped stream's loss is not a measurement. */
  lossMs?: Summary;
  longestGapMs?: Summary;
  /** Trials whose stream did not flow again before its cap. */
  notRecovered?: number;
}

/** Pure: median, min and max of each figure over the trials that have it. */
export function summarizeTrials(rs: TrialResult[]): TrialsSummary {
  const cp = rs.flatMap((r) => (r.controlPlaneMs !== undefined ? [r.controlPlaneMs] : []));
  const ok = rs.flatMap((r) => (r.stream?.recovered ? [r.stream] : []));
  const notRecovered = rs.filter((r) => r.stream && !r.stream.recovered).length;
  return {
    ...(cp.length ? { controlPlaneMs: summarize(cp) } : {}),
    ...(ok.length ? { lossMs: summarize(ok.map((s) => s.lossDerivedMs)), longestGapMs: summarize(ok.map((s) => s.longestGapMs)) } : {}),
    ...(notRecovered ? { notRecovered } : {}),
  };
}
