import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadTopologyFile, parseTopology } from '../../src/model/topology.js';
import { loadResults } from '../../src/report/diff.js';
import { InputError, TopologyError } from '../../src/util/errors.js';

/** An error that wraps another keeps it as `cause`: the chain is there for whoever prints it. */
describe('wrapping errors keep their cause', () => {
  const dir = mkdtempSync(join(tmpdir(), 'calico-sim-causes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const caught = (fn: () => unknown): Error => {
    try {
      fn();
    } catch (err) {
      return err as Error;
    }
    throw new Error('did not throw');
  };

  it('a results file that cannot be read', () => {
    const err = caught(() => loadResults(join(dir, 'missing.json')));
    expect(err).toBeInstanceOf(InputError);
    expect((err.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
  });

  it('a results file that is not JSON', () => {
    writeFileSync(join(dir, 'bad.json'), '{ nope');
    const err = caught(() => loadResults(join(dir, 'bad.json')));
    expect(err).toBeInstanceOf(InputError);
    expect(err.message).toMatch(/bad\.json: not JSON: /);
    expect(err.cause).toBeInstanceOf(SyntaxError);
  });

  it('a topology file that cannot be read, or is not YAML', () => {
    const missing = caught(() => loadTopologyFile(join(dir, 'missing.yaml')));
    expect(missing).toBeInstanceOf(TopologyError);
    expect((missing.cause as NodeJS.ErrnoException).code).toBe('ENOENT');
    const yaml = caught(() => parseTopology('hosts: [a, b\n', 't.yaml'));
    expect(yaml).toBeInstanceOf(TopologyError);
    expect(yaml.cause).toBeInstanceOf(Error);
  });
});
