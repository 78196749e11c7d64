#!/usr/bin/env node
/**
 * A tiny TCP/UDP prober that runs inside a lab namespace (Node cannot enter a namespace, so the
 * verifier starts one of these per namespace with `ip netns exec`).
 *   serve <port> <name>            answer every TCP connection and UDP datagram with
 *                                  "<name> <source address seen>" (the seen address proves no
 *                                  NAT on the way), then print "listening"
 *   probe <timeoutMs> <proto:ip:port>…   probe all targets at once (proto tcp or udp), print one
 *                                  JSON line of results
 */
import { createSocket } from 'node:dgram';
import { connect, createServer, isIPv6 } from 'node:net';

export interface ProbeResult { target: string; ok: boolean; reply?: string; error?: string; ms: number }

const [mode, ...args] = process.argv.slice(2);
const seen = (addr: string | undefined) => (addr ?? '').replace(/^::ffff:/, '');

if (mode === 'serve') {
  const [port, name] = args;
  const tcp = createServer((sock) => sock.end(`${name} ${seen(sock.remoteAddress)}\n`));
  const udp = createSocket({ type: 'udp6', ipv6Only: false });
  udp.on('message', (_msg, rinfo) => udp.send(`${name} ${seen(rinfo.address)}\n`, rinfo.port, rinfo.address));
  let ready = 0;
  const up = () => { if (++ready === 2) console.log('listening'); };
  tcp.listen(Number(port), '::', up); // IPv6 and IPv4 alike
  udp.bind(Number(port), '::', up);
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'probe') {
  const [timeoutMs, ...targets] = args;
  const results = await Promise.all(targets.map((t) => probe(t, Number(timeoutMs))));
  console.log(JSON.stringify(results));
} else {
  console.error('usage: probe serve <port> <name> | probe <timeoutMs> <tcp|udp>:<ip>:<port>...');
  process.exit(2);
}

function probe(target: string, timeoutMs: number): Promise<ProbeResult> {
  const proto = target.slice(0, target.indexOf(':'));
  const host = target.slice(proto.length + 1, target.lastIndexOf(':'));
  const port = Number(target.slice(target.lastIndexOf(':') + 1));
  const t0 = performance.now();
  return new Promise((resolve) => {
    let settled = false;
    const finish = (ok: boolean, reply: string, error?: string) => {
      if (settled) return;
      settled = true;
      resolve({ target, ok, ...(ok ? { reply: reply.trim() } : { error }), ms: Math.round((performance.now() - t0) * 1000) / 1000 });
    };
    if (proto === 'udp') {
      const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
      const timer = setTimeout(() => { sock.close(); finish(false, '', 'timeout'); }, timeoutMs);
      sock.on('message', (m) => { clearTimeout(timer); sock.close(); finish(true, m.toString()); });
      sock.on('error', (e) => { clearTimeout(timer); sock.close(); finish(false, '', e.message); });
      sock.send('probe', port, host);
      return;
    }
    let reply = '';
    const sock = connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean, error?: string) => { sock.destroy(); finish(ok, reply, error); };
    sock.on('data', (d) => { reply += d.toString(); });
    sock.on('end', () => done(reply.length > 0, 'closed without a reply'));
    sock.on('timeout', () => done(false, 'timeout'));
    sock.on('error', (e) => done(false, e.message));
  });
}
