import { createSocket, type Socket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { isEncapsulationPort } from '../../src/verify/encap-ports.js';
import { PROBE_PORT } from '../../src/verify/reachability.js';
import { bindUdpClient } from '../../src/verify/udp-client.js';

/** True if `port` can be bound again (a rejected socket was released). */
function free(port: number): Promise<boolean> {
  const s = createSocket('udp4');
  return new Promise((resolve) => {
    s.once('error', () => {
      s.close();
      resolve(false);
    });
    s.bind(port, () => {
      s.close();
      resolve(true);
    });
  });
}

describe('UDP probe clients keep their source port off the encapsulation ports', () => {
  it('the encapsulation ports are the ones the capture reader checks; the probe port is not one', () => {
    expect([4789, 8472, 6081, 51820, 4500].every(isEncapsulationPort)).toBe(true);
    expect(isEncapsulationPort(PROBE_PORT)).toBe(false);
    expect(isEncapsulationPort(51821)).toBe(false);
  });

  it('a port the kernel offers that is to be avoided is not used, and released once another is found', async () => {
    const offered: number[] = [];
    const sock: Socket = await bindUdpClient('udp4', (port) => {
      offered.push(port);
      return offered.length === 1; // the first offer stands for 51820
    });
    try {
      expect(offered).toHaveLength(2);
      expect(sock.address().port).toBe(offered[1]);
      expect(offered[1]).not.toBe(offered[0]);
      expect(await free(offered[0]!)).toBe(true);
    } finally {
      sock.close();
    }
  });

  it('the default avoids the encapsulation ports; a list that excludes every port is an error after the tries', async () => {
    const sock = await bindUdpClient('udp4');
    expect(isEncapsulationPort(sock.address().port)).toBe(false);
    sock.close();
    const offered: number[] = [];
    await expect(
      bindUdpClient(
        'udp4',
        (port) => {
          offered.push(port);
          return true;
        },
        3,
      ),
    ).rejects.toThrow('no UDP source port outside the encapsulation ports in 3 tries');
    expect(new Set(offered).size).toBe(3);
    for (const port of offered) expect(await free(port)).toBe(true);
  });
});
