#!/usr/bin/env node
/**
 * A constant-rate UDP probe stream for data-plane convergence (RFC 6412): run inside lab
 * namespaces with `ip netns exec`.
 *   recv <port> <seconds>            collect sequence numbers; print {"received":[…]} at the end
 *   send <ip> <port> <rate> <count>  send `count` datagrams (4-byte sequence numbers) at `rate`/s,
 *                                    print {"sent":n,"startUs":…} when done
 * Sending is paced by the clock, not by timers: a late tick sends what is due, so the rate holds.
 */
import { createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';

const [mode, ...args] = process.argv.slice(2);
const nowUs = () => Number(process.hrtime.bigint() / 1000n);

if (mode === 'recv') {
  const [port, seconds] = args.map(Number);
  const received: number[] = [];
  const sock = createSocket({ type: 'udp6', ipv6Only: false });
  sock.on('message', (m) => { if (m.length >= 4) received.push(m.readUInt32BE(0)); });
  const finish = () => {
    sock.close();
    console.log(JSON.stringify({ received }));
    process.exit(0);
  };
  sock.bind(port!, '::', () => console.log('listening'));
  setTimeout(finish, seconds! * 1000);
  process.on('SIGTERM', finish);
} else if (mode === 'send') {
  const [ip, port, rate, count] = [args[0]!, ...args.slice(1).map(Number)] as [string, number, number, number];
  const sock = createSocket(isIPv6(ip) ? 'udp6' : 'udp4');
  const startUs = nowUs();
  const intervalUs = 1e6 / rate;
  let next = 0;
  const tick = () => {
    const due = Math.min(count, Math.floor((nowUs() - startUs) / intervalUs) + 1);
    for (; next < due; next++) {
      const b = Buffer.alloc(4);
      b.writeUInt32BE(next);
      sock.send(b, port, ip);
    }
    if (next >= count) {
      setTimeout(() => { sock.close(); console.log(JSON.stringify({ sent: count, startUs })); }, 50);
      return;
    }
    setImmediate(tick);
  };
  tick();
} else {
  console.error('usage: udp-stream recv <port> <seconds> | send <ip> <port> <rate> <count>');
  process.exit(2);
}
