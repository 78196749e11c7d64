import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { protocolName, renderBirdConfig, type BirdInput, type BirdPeer } from '../../src/bgp/render.js';
import { checkBirdConfig } from '../../src/bgp/bird.js';
import { SimError } from '../../src/util/errors.js';

const GOLDEN = fileURLToPath(new URL('./golden/', import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), 'calico-sim-bird-render-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

// Addresses chosen so that numeric and lexical order differ ("198.18.0.10" < "198.18.0.9" as
// text): the mesh direction must follow the numbers.
const h1: BirdPeer = { name: 'h1', ip: '198.18.0.9', asNumber: 64512 };
const h2: BirdPeer = { name: 'h2', ip: '198.18.0.10', asNumber: 64512 };
const h3: BirdPeer = { name: 'h3', ip: '198.18.0.12', asNumber: 64512 };
const nodes = [h1, h2, h3];

/** Input for `self` in the 3-node mesh, with the other nodes listed in a scrambled order. */
function meshInput(self: BirdPeer, over: Partial<BirdInput> = {}): BirdInput {
  return {
    host: self.name,
    routerId: self.ip,
    asNumber: 64512,
    meshEnabled: true,
    peers: [h3, h1, h2].filter((n) => n !== self),
    localBlocks: ['198.19.10.0/26', '198.19.9.192/26'],
    pools: ['198.19.0.0/16'],
    ...over,
  };
}

/** Compares with the golden file, or (re)writes it when UPDATE_GOLDEN=1. */
function expectGolden(name: string, text: string): void {
  const path = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === '1') writeFileSync(path, text);
  if (!existsSync(path)) throw new Error(`golden file ${path} is missing: run with UPDATE_GOLDEN=1`);
  expect(text).toBe(readFileSync(path, 'utf8'));
}

/** The real BIRD must accept the text. */
async function expectBirdAccepts(name: string, text: string): Promise<void> {
  const path = join(tmp, name);
  writeFileSync(path, text);
  await checkBirdConfig(path);
}

const goldens: Array<[string, BirdInput]> = [
  ['bird-mesh-h1.conf', meshInput(h1)],
  ['bird-mesh-h3.conf', meshInput(h3)],
  ['bird-no-mesh.conf', meshInput(h1, { meshEnabled: false })],
  ['bird-no-blocks.conf', meshInput(h2, { localBlocks: [] })],
];

describe('renderBirdConfig: golden files, each accepted by the real `bird -p`', () => {
  for (const [name, input] of goldens) {
    it(name, async () => {
      const text = renderBirdConfig(input);
      expectGolden(name, text);
      await expectBirdAccepts(name, text);
    });
  }

  it('with no IPv4 pools renders a filter that rejects everything, still valid BIRD', async () => {
    const text = renderBirdConfig(meshInput(h1, { pools: [] }));
    expect(text).toContain('  return false;');
    expect(text).not.toContain('[ ]');
    await expectBirdAccepts('no-pools.conf', text);
  });

  it('with the mesh enabled and no other nodes is valid BIRD', async () => {
    const text = renderBirdConfig(meshInput(h1, { peers: [] }));
    expect(text).not.toContain('protocol bgp Mesh_');
    await expectBirdAccepts('alone.conf', text);
  });
});

describe('renderBirdConfig: content', () => {
  /** The `protocol bgp` block for a peer, as text. */
  const block = (text: string, peer: BirdPeer) => {
    const start = text.indexOf(`protocol bgp ${protocolName(peer.ip)} `);
    expect(start).toBeGreaterThanOrEqual(0);
    return text.slice(start, text.indexOf('\n}', start));
  };

  it('exactly one side of every mesh pair is passive: the numerically lower address, as in Calico', () => {
    const texts = new Map(nodes.map((n) => [n.name, renderBirdConfig(meshInput(n))]));
    for (const a of nodes) {
      for (const b of nodes) {
        if (a === b) continue;
        const aPassive = block(texts.get(a.name)!, b).includes('passive on;');
        const bPassive = block(texts.get(b.name)!, a).includes('passive on;');
        expect(aPassive !== bPassive, `${a.name}<->${b.name}`).toBe(true);
        const aLower = Number(a.ip.split('.')[3]) < Number(b.ip.split('.')[3]);
        expect(aPassive, `${a.name} passive towards ${b.name}`).toBe(aLower);
      }
    }
  });

  it('sorts peers and blocks numerically and is deterministic', () => {
    const text = renderBirdConfig(meshInput(h1));
    expect(text.indexOf('Mesh_198_18_0_10')).toBeLessThan(text.indexOf('Mesh_198_18_0_12'));
    expect(text.indexOf('198.19.9.192/26')).toBeLessThan(text.indexOf('198.19.10.0/26'));
    const shuffled = meshInput(h1, { peers: [h2, h3], localBlocks: ['198.19.9.192/26', '198.19.10.0/26', '198.19.10.0/26'] });
    expect(renderBirdConfig(shuffled)).toBe(text);
  });

  it('peers with each node AS and its own source address; no mesh peers when the mesh is off', () => {
    const text = renderBirdConfig(meshInput(h1, { peers: [h2, { ...h3, asNumber: 65001 }] }));
    expect(block(text, h3)).toContain('neighbor 198.18.0.12 as 65001;');
    expect(block(text, h2)).toContain('source address 198.18.0.9;');
    expect(renderBirdConfig(meshInput(h1, { meshEnabled: false }))).not.toContain('protocol bgp');
  });

  it('names mesh protocols as Calico does', () => {
    expect(protocolName('198.18.0.12')).toBe('Mesh_198_18_0_12');
    expect(() => protocolName('198.18.0')).toThrow(SimError);
  });
});

describe('renderBirdConfig: invalid input', () => {
  const bad: Array<[string, Partial<BirdInput>, RegExp]> = [
    ['AS 0', { asNumber: 0 }, /AS number of host h1 must be an integer in 1\.\.4294967295, got 0/],
    ['AS too large', { asNumber: 4294967296 }, /AS number/],
    ['fractional AS', { asNumber: 64512.5 }, /AS number/],
    ['peer AS', { peers: [{ ...h2, asNumber: -1 }] }, /AS number of peer h2/],
    ['router id', { routerId: '198.18.0.256' }, /malformed IPv4 address for router id of host h1: "198.18.0.256"/],
    ['leading zero', { routerId: '198.18.0.09' }, /malformed IPv4 address/],
    ['peer address', { peers: [{ ...h2, ip: 'h2.example' }] }, /malformed IPv4 address for address of peer h2/],
    ['block CIDR', { localBlocks: ['198.19.0.0/33'] }, /malformed IPv4 CIDR for block of host h1: "198.19.0.0\/33"/],
    ['block without length', { localBlocks: ['198.19.0.0'] }, /malformed IPv4 CIDR/],
    ['host bits', { localBlocks: ['198.19.0.5/26'] }, /host bits set \(did you mean 198\.19\.0\.0\/26\?\)/],
    ['IPv6 pool', { pools: ['2001:db8:1::/48'] }, /malformed IPv4 .* IP pool/],
    ['own address as peer', { peers: [{ ...h2, ip: h1.ip }] }, /own address/],
    ['duplicate peer address', { peers: [h2, { ...h3, ip: h2.ip }] }, /share the address 198\.18\.0\.10/],
    ['newline in host name', { host: 'h1\nrouter id 1.1.1.1;' }, /invalid host name/],
  ];
  for (const [what, over, message] of bad) {
    it(`rejects ${what}`, () => {
      expect(() => renderBirdConfig(meshInput(h1, over))).toThrow(SimError);
      expect(() => renderBirdConfig(meshInput(h1, over))).toThrow(message);
    });
  }
});

describe('checkBirdConfig: negative controls', () => {
  it('names file and line of a syntax error', async () => {
    const path = join(tmp, 'broken.conf');
    writeFileSync(path, 'router id 198.18.0.9;\nprotocol bogus {\n');
    await expect(checkBirdConfig(path)).rejects.toThrow(new RegExp(`invalid BIRD config: ${path}:2:\\d+ syntax error`));
  });

  it('rejects a rendered config with a statement damaged', async () => {
    const path = join(tmp, 'damaged.conf');
    const text = renderBirdConfig(meshInput(h1)).replace('route 198.19.10.0/26 blackhole;', 'route 198.19.10.5/26 blackhole;');
    writeFileSync(path, text);
    const line = text.split('\n').findIndex((l) => l.includes('198.19.10.5/26')) + 1;
    await expect(checkBirdConfig(path)).rejects.toThrow(`${path}:${line}:`);
  });

  it('reports a missing file', async () => {
    await expect(checkBirdConfig(join(tmp, 'absent.conf'))).rejects.toThrow(/absent\.conf/);
  });
});
