import { describe, expect, it } from 'vitest';
import { renderEtcHosts } from '../../src/sim/etc-hosts.js';

describe('the /etc/hosts of calico-sim exec', () => {
  it('loopback, the nodes, then each workload by name and name.namespace, one line per address (golden)', () => {
    expect(
      renderEtcHosts(
        [
          { name: 'host1', ip: '198.18.0.11' },
          { name: 'tor', ip: '198.18.0.2' },
        ],
        [
          { name: 'host1-w10', namespace: 'default', ips: ['198.19.0.9/32'] },
          { name: 'host1-w2', namespace: 'tenant-a', ips: ['198.19.0.1/32', '2001:db8:1::1/128'] },
        ],
      ),
    ).toBe(
      [
        '127.0.0.1\tlocalhost',
        '::1\tlocalhost ip6-localhost ip6-loopback',
        '',
        '# the lab (calico-sim exec)',
        '198.18.0.11\thost1',
        '198.18.0.2\ttor',
        '198.19.0.1\thost1-w2 host1-w2.tenant-a',
        '2001:db8:1::1\thost1-w2 host1-w2.tenant-a',
        '198.19.0.9\thost1-w10 host1-w10.default',
        '',
      ].join('\n'),
    );
  });
});
