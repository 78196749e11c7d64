#!/usr/bin/env node
/**
 * A tiny TCP prober that runs inside a workload's namespace (Node cannot enter a namespace, so
 * the verifier starts one of these per workload with `ip netns exec`).
 *   serve <port> <name>          answer every connection with "<name> <source address seen>\n"
 *                                (the seen address proves no NAT on the way), print "listening"
 *   probe <timeoutMs> <ip:port>… connect to all targets at once, print one JSON line of results
 */
import { connect, createServer } from 'node:net';

const [mode, ...args] = process.argv.slice(2);

if (mode === 'serve') {
  const [port, name] = args;
  const server = createServer((sock) => sock.end(`${name} ${sock.remoteAddress?.replace(/^::ffff:/, '')}\n`));
  server.listen(Number(port), '::', () => console.log('listening')); // IPv6 and IPv4 alike
  process.on('SIGTERM', () => server.close(() => process.exit(0)));
} else if (mode === 'probe') {
  const [timeoutMs, ...targets] = args;
  const results = await Promise.all(targets.map((t) => probe(t, Number(timeoutMs))));
  console.log(JSON.stringify(results));
} else {
  console.error('usage: tcp-probe serve <port> <name> | probe <timeoutMs> <ip:port>...');
  process.exit(2);
}

function probe(target: string, timeoutMs: number): Promise<{ target: string; ok: boolean; reply?: string; error?: string; ms: number }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(':')), Number(target.slice(target.lastIndexOf(':') + 1))];
  const t0 = performance.now();
  return new Promise((resolve) => {
    let reply = '';
    const sock = connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean, error?: string) => {
      sock.destroy();
      resolve({ target, ok, ...(ok ? { reply: reply.trim() } : { error }), ms: Math.round(performance.now() - t0) });
    };
    sock.on('data', (d) => { reply += d.toString(); });
    sock.on('end', () => done(reply.length > 0, 'closed without a reply'));
    sock.on('timeout', () => done(false, 'timeout'));
    sock.on('error', (e) => done(false, e.message));
  });
}
