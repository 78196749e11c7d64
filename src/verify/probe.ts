#!/usr/bin/env node
/**
 * A tiny TCP/UDP prober that runs inside a lab namespace (Node cannot enter a namespace, so the
 * verifier starts one of these per namespace with `ip netns exec`).
 *   serve <port[,port…]> <name>     answer every TCP connection and UDP datagram with
 *                                  "<name> <source address seen>" (the seen address proves no
 *                                  NAT on the way), then print "listening"
 *   probe <timeoutMs> <proto:ip:port>…   probe all targets at once (proto tcp or udp), print one
 *                                  JSON line of results
 *   until <deadlineMs> <ip:port>…  when each target first answers TCP (epoch ms; enforcement times)
 *   connects <n> <ip:port>         n sequential TCP connects, each one's time (new-flow latency)
 */
import { createSocket } from 'node:dgram';
import { connect, createServer, isIPv6 } from 'node:net';
import { bindUdpClient } from './udp-client.js';

export interface ProbeResult {
  target: string;
  ok: boolean;
  reply?: string;
  error?: string;
  ms: number;
}

const [mode, ...args] = process.argv.slice(2);
const seen = (addr: string | undefined) => (addr ?? '').replace(/^::ffff:/, '');

if (mode === 'serve') {
  const [ports, name] = args;
  const list = ports!.split(',').map(Number);
  let ready = 0;
  const up = () => {
    if (++ready === 2 * list.length) console.log('listening');
  };
  for (const port of list) {
    const tcp = createServer((sock) => {
      sock.on('error', () => undefined); // a client that resets must not take the server down
      sock.end(`${name} ${seen(sock.remoteAddress)}\n`);
    });
    const udp = createSocket({ type: 'udp6', ipv6Only: false });
    udp.on('message', (_msg, rinfo) => udp.send(`${name} ${seen(rinfo.address)}\n`, rinfo.port, rinfo.address));
    tcp.listen(port, '::', up); // IPv6 and IPv4 alike
    udp.bind(port, '::', up);
  }
  process.on('SIGTERM', () => process.exit(0));
} else if (mode === 'probe') {
  const [timeoutMs, ...targets] = args;
  const results = await Promise.all(targets.map((t) => probe(t, Number(timeoutMs))));
  console.log(JSON.stringify(results));
} else if (mode === 'until') {
  // Print "ready", then start a TCP connect to every target every 10 ms (each attempt waits up
  // to 300 ms) until one succeeds; print each target's first success as epoch milliseconds.
  const [deadlineMs, ...targets] = args;
  console.log('ready');
  const firsts = await Promise.all(targets.map((t) => firstSuccess(t, Number(deadlineMs))));
  console.log(JSON.stringify(firsts));
} else if (mode === 'connects') {
  // n sequential TCP connects (each a new flow through the rules): each one's time in ms.
  const [n, target] = args;
  const times: number[] = [];
  for (let i = 0; i < Number(n); i++) {
    const r = await probe(`tcp:${target}`, 2000);
    if (r.ok) times.push(r.ms);
  }
  console.log(JSON.stringify(times));
} else {
  console.error('usage: probe serve <port[,port...]> <name> | probe <timeoutMs> <tcp|udp>:<ip>:<port>... | until <deadlineMs> <ip:port>... | connects <n> <ip:port>');
  process.exit(2);
}

/** Epoch ms of the first TCP connect to `target` (ip:port) that gets a reply; null at the deadline. */
function firstSuccess(target: string, deadlineMs: number): Promise<number | null> {
  return new Promise((resolve) => {
    let done = false;
    const end = (v: number | null) => {
      if (!done) {
        done = true;
        clearInterval(timer);
        clearTimeout(giveUp);
        resolve(v);
      }
    };
    const timer = setInterval(
      () =>
        void probe(`tcp:${target}`, 300).then((r) => {
          if (r.ok) end(Date.now());
        }),
      10,
    );
    const giveUp = setTimeout(() => end(null), deadlineMs);
  });
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
      // The source port is kept off the encapsulation ports: see bindUdpClient.
      bindUdpClient(isIPv6(host) ? 'udp6' : 'udp4').then(
        (sock) => {
          const timer = setTimeout(() => {
            sock.close();
            finish(false, '', 'timeout');
          }, timeoutMs);
          sock.on('message', (m) => {
            clearTimeout(timer);
            sock.close();
            finish(true, m.toString());
          });
          sock.on('error', (e) => {
            clearTimeout(timer);
            sock.close();
            finish(false, '', e.message);
          });
          sock.send('probe', port, host);
        },
        (e: Error) => finish(false, '', e.message),
      );
      return;
    }
    let reply = '';
    const sock = connect({ host, port, timeout: timeoutMs });
    const done = (ok: boolean, error?: string) => {
      sock.destroy();
      finish(ok, reply, error);
    };
    sock.on('data', (d) => {
      reply += d.toString();
    });
    sock.on('end', () => done(reply.length > 0, 'closed without a reply'));
    sock.on('timeout', () => done(false, 'timeout'));
    sock.on('error', (e) => done(false, e.message));
  });
}
