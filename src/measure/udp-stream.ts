#!/usr/bin/env node
/**
 * A constant-rate UDP probe stream for data-plane convergence (RFC 6412): run inside lab
 * namespaces with `ip netns exec`.
 *   recv <port> <seconds>            collect sequence numbers; print `n <count>` every 100 ms (so
 *                                    the controller sees when traffic flows again), then
 *                                    {"received":[…]} at the end (after `seconds`, or on SIGTERM)
 *   send <ip> <port> <rate> <count>  send up to `count` datagrams (4-byte sequence numbers) at
 *                                    `rate`/s; a `stop <n>` line on stdin ends the stream once
 *                                    n datagrams are out (at once if they are); prints
 *                                    {"sent":n,"startUs":…} when done
 * Sending is paced by the clock, not by timers: a late tick sends what is due, so the rate holds.
 */
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { createInterface } from 'node:readline';

const [mode, ...args] = process.argv.slice(2);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);
/** Prints the last line and exits once it is written (stdout may be a pipe). */
const finalLine = (o: unknown) => process.stdout.write(`${JSON.stringify(o)}\n`, () => process.exit(0));

if (mode === 'recv') {
  const [port, seconds] = args.map(Number);
  const received: number[] = [];
  const sock = createSocket({ type: 'udp6', ipv6Only: false });
  sock.on('message', (m) => {
    if (m.length >= 4) received.push(m.readUInt32BE(0));
  });
  const progress = setInterval(() => process.stdout.write(`n ${received.length}\n`), 100);
  let finished = false;
  const finish = () => {
    if (finished) return;
    finished = true;
    clearInterval(progress);
    sock.close();
    finalLine({ received });
  };
  sock.bind(port!, '::', () => console.log('listening'));
  setTimeout(finish, seconds! * 1000);
  process.on('SIGTERM', finish);
} else if (mode === 'send') {
  const [ip, port, rate, count] = [args[0]!, ...args.slice(1).map(Number)] as [string, number, number, number];
  const sock = createSocket(isIPv6(ip) ? 'udp6' : 'udp4');
  const startUs = nowUs();
  const intervalUs = 1e6 / rate;
  let limit = count;
  let next = 0;
  createInterface({ input: process.stdin }).on('line', (l) => {
    const m = /^stop (\d+)$/.exec(l.trim());
    if (m) limit = Math.min(count, Math.max(next, Number(m[1])));
  });
  const tick = () => {
    const due = Math.min(limit, Math.floor((nowUs() - startUs) / intervalUs) + 1);
    for (; next < due; next++) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(next);
      sock.send(b, port, ip);
    }
    if (next >= limit) {
      setTimeout(() => {
        sock.close();
        finalLine({ sent: next, startUs });
      }, 50);
      return;
    }
    setImmediate(tick);
  };
  tick();
} else {
  console.error('usage: udp-stream recv <port> <seconds> | send <ip> <port> <rate> <count>');
  process.exit(2);
}
