import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { configureOutcome, parseBgpSessions, parseProtocols } from '../../src/bgp/bird.js';
import { BackendError } from '../../src/util/errors.js';

/**
 * Fixtures: real `birdc` output of BIRD 2.0.12 (two throwaway BIRDs peering over loopback with
 * birdc-capture-a.conf / birdc-capture-b.conf), except birdc-show-protocols-all-mesh-handmade.txt,
 * written in the same format for a lab-style mesh with an Established and a Connect session.
 */
const fixture = (name: string) => readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8');

describe('parseProtocols', () => {
  it('parses rows with empty info and long names (real, Established)', () => {
    expect(parseProtocols(fixture('birdc-show-protocols-established.txt'))).toEqual([
      { name: 'device1', proto: 'Device', table: '---', state: 'up', since: '13:02:41.215', info: '' },
      { name: 'direct1', proto: 'Direct', table: '---', state: 'up', since: '13:02:41.215', info: '' },
      { name: 'kernel1', proto: 'Kernel', table: 'master4', state: 'down', since: '13:02:41.215', info: '' },
      { name: 'calico_blocks', proto: 'Static', table: 'master4', state: 'up', since: '13:02:41.215', info: '' },
      { name: 'Mesh_127_0_0_2', proto: 'BGP', table: '---', state: 'up', since: '13:02:42.128', info: 'Established' },
      { name: 'Mesh_198_18_255_99', proto: 'BGP', table: '---', state: 'start', since: '13:02:41.215', info: 'Passive' },
    ]);
  });

  it('keeps info with spaces (real, Active with a socket error)', () => {
    const rows = parseProtocols(fixture('birdc-show-protocols-refused.txt'));
    expect(rows.find((r) => r.name === 'Mesh_127_0_0_2')).toEqual({
      name: 'Mesh_127_0_0_2',
      proto: 'BGP',
      table: '---',
      state: 'start',
      since: '13:03:15.938',
      info: 'Active        Socket: Connection refused',
    });
    expect(parseProtocols(fixture('birdc-show-protocols-reset.txt')).at(-2)?.info).toBe('Active        Socket: Connection reset by peer');
  });

  it('skips the detail lines of `show protocols all`', () => {
    const rows = parseProtocols(fixture('birdc-show-protocols-all-established.txt'));
    expect(rows.map((r) => r.name)).toEqual(['device1', 'direct1', 'kernel1', 'calico_blocks', 'Mesh_127_0_0_2', 'Mesh_198_18_255_99']);
  });

  it('accepts rows without trailing spaces and a date-time `since`', () => {
    const out = [
      'BIRD 2.0.12 ready.',
      'Name       Proto      Table      State  Since         Info',
      'device1    Device     ---        up     2026-11-25',
      'Mesh_198_18_0_12 BGP        ---        up     2026-11-26 13:02:42  Established',
    ].join('\n');
    expect(parseProtocols(out)).toEqual([
      { name: 'device1', proto: 'Device', table: '---', state: 'up', since: '2026-11-25', info: '' },
      { name: 'Mesh_198_18_0_12', proto: 'BGP', table: '---', state: 'up', since: '2026-11-26 13:02:42', info: 'Established' },
    ]);
  });

  it('throws on output that is not a protocol table', () => {
    expect(() => parseProtocols("BIRD 2.0.12 ready.\nNo such command. Press `?' for help.\n")).toThrow(BackendError);
    expect(() => parseProtocols("BIRD 2.0.12 ready.\nNo such command. Press `?' for help.\n")).toThrow(/No such command/);
  });
});

describe('parseBgpSessions', () => {
  it('reads an Established and a Passive session (real)', () => {
    expect(parseBgpSessions(fixture('birdc-show-protocols-all-established.txt'))).toEqual([
      {
        name: 'Mesh_127_0_0_2',
        state: 'up',
        bgpState: 'Established',
        neighborAddress: '127.0.0.2',
        neighborAs: 64512,
        since: '13:02:42.128',
        info: 'Established',
      },
      {
        name: 'Mesh_198_18_255_99',
        state: 'start',
        bgpState: 'Passive',
        neighborAddress: '198.18.255.99',
        neighborAs: 64512,
        since: '13:02:41.215',
        info: 'Passive',
      },
    ]);
  });

  it('reads Active sessions with their error (real)', () => {
    const [refused] = parseBgpSessions(fixture('birdc-show-protocols-all-refused.txt'));
    expect(refused).toMatchObject({ state: 'start', bgpState: 'Active', info: 'Active        Socket: Connection refused' });
    const [shut] = parseBgpSessions(fixture('birdc-show-protocols-all-admin-shutdown.txt'));
    expect(shut).toMatchObject({ bgpState: 'Active', info: 'Active        Received: Administrative shutdown' });
  });

  it('reads a disabled session as down (real)', () => {
    const [down] = parseBgpSessions(fixture('birdc-show-protocols-all-disabled.txt'));
    expect(down).toEqual({
      name: 'Mesh_127_0_0_1',
      state: 'down',
      bgpState: 'Down',
      neighborAddress: '127.0.0.1',
      neighborAs: 64512,
      since: '13:02:55.007',
      info: '',
    });
  });

  it('reads a lab-style mesh (hand-made): Established and Connect', () => {
    expect(parseBgpSessions(fixture('birdc-show-protocols-all-mesh-handmade.txt'))).toEqual([
      {
        name: 'Mesh_198_18_0_10',
        state: 'up',
        bgpState: 'Established',
        neighborAddress: '198.18.0.10',
        neighborAs: 64512,
        since: '10:00:01.420',
        info: 'Established',
      },
      {
        name: 'Mesh_198_18_0_12',
        state: 'start',
        bgpState: 'Connect',
        neighborAddress: '198.18.0.12',
        neighborAs: 64512,
        since: '10:00:00.101',
        info: 'Connect',
      },
    ]);
  });

  it('throws when a BGP block lacks its neighbor', () => {
    const out = [
      'BIRD 2.0.12 ready.',
      'Name       Proto      Table      State  Since         Info',
      'Mesh_198_18_0_12 BGP        ---        start  10:00:00.101  Connect',
      '  BGP state:          Connect',
    ].join('\n');
    expect(() => parseBgpSessions(out)).toThrow(/BGP protocol Mesh_198_18_0_12/);
  });
});

describe('configureOutcome', () => {
  it('accepts Reconfigured (real)', () => {
    expect(configureOutcome(fixture('birdc-configure-ok.txt'))).toBe('reconfigured');
  });

  it('accepts in-progress and queued replies', () => {
    expect(configureOutcome('Reading configuration from /x/bird.conf\nReconfiguration in progress\n')).toBe('in-progress');
    expect(configureOutcome('Reading configuration from /x/bird.conf\nReconfiguration queued\n')).toBe('queued');
  });

  it("throws with BIRD's message on a syntax error (real)", () => {
    expect(() => configureOutcome(fixture('birdc-configure-syntax-error.txt'))).toThrow(BackendError);
    expect(() => configureOutcome(fixture('birdc-configure-syntax-error.txt'))).toThrow(
      'birdc configure failed: Reading configuration from b1.conf | b1.conf:21:10 syntax error, unexpected CF_SYM_UNDEFINED',
    );
  });

  it('throws when BIRD is shutting down', () => {
    expect(() => configureOutcome('Reconfiguration ignored, shutting down')).toThrow(/shutting down/);
  });
});
