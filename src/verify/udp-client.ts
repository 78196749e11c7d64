import { createSocket, type Socket } from 'node:dgram';
import { isEncapsulationPort } from './encap-ports.js';

/**
 * A UDP client socket bound, before it sends anything, to a source port the kernel chose that is
 * none of the encapsulation ports the capture reader checks (encap-ports.ts).
 *
 * Why not rely on the reader's header checks alone: they cannot tell ESP from text, since ESP is
 * encrypted (an answer of 16 bytes sent to a client on 4500 passes for ESP), and a reachability
 * probe must never fail a capture check by the luck of its ephemeral port. Why port 0 and not a
 * port of our own: the kernel's choice never collides with another socket; a port it offers on
 * the list is kept bound (so it is not offered again) until a good one is found, then released.
 * Only UDP needs this: the reader looks for encapsulation in UDP only, so TCP probes keep theirs.
 */
export async function bindUdpClient(type: 'udp4' | 'udp6', avoid: (port: number) => boolean = isEncapsulationPort, tries = 16): Promise<Socket> {
  const rejected: Socket[] = [];
  try {
    for (let i = 0; i < tries; i++) {
      const sock = createSocket(type);
      await new Promise<void>((resolve, reject) => {
        sock.once('error', (err) => {
          sock.close();
          reject(err);
        });
        sock.bind(0, () => {
          sock.removeAllListeners('error');
          resolve();
        });
      });
      if (!avoid(sock.address().port)) return sock;
      rejected.push(sock);
    }
    throw new Error(`no UDP source port outside the encapsulation ports in ${tries} tries`);
  } finally {
    for (const s of rejected) s.close();
  }
}
