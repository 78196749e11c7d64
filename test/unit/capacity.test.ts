import { describe, expect, it } from 'vitest';
import { capacityProblems, estimateLab, type MachineFacts } from '../../src/sim/capacity.js';
import { resolveTopology } from '../../src/topologies/index.js';

/** This project's machines: 2 cores, 24 GiB. */
const machine: MachineFacts = { memAvailableMB: 23_000, pidMax: 4_194_304, threadsMax: 190_000, openFilesMax: 1_048_576 };

describe('lab size estimate and limits', () => {
  it('the quickstart fits with room to spare', () => {
    const e = estimateLab(resolveTopology('two-host'));
    expect(e).toMatchObject({ hosts: 2, workloads: 4, namespaces: 7, sessions: 1, sessionsPerHost: 1 });
    expect(e.memoryMB).toBeLessThan(500);
    expect(capacityProblems(e, machine)).toEqual({ hard: [], soft: [] });
  });

  it('a 40-host mesh fits and is estimated near its measured build time (22 s)', () => {
    const e = estimateLab(resolveTopology('mesh', { hosts: 40 }));
    expect(e.sessions).toBe(780);
    expect(e.seconds).toBeGreaterThan(15);
    expect(e.seconds).toBeLessThan(30);
    expect(capacityProblems(e, machine).soft).toEqual([]);
  });

  it('a mesh this machine cannot hold is refused with the reasons (an override may lift them)', () => {
    const p = capacityProblems(estimateLab(resolveTopology('mesh', { hosts: 600 })), machine);
    expect(p.hard).toEqual([]);
    expect(p.soft.join('\n')).toMatch(/neighbour entries/);
  });

  it('shared agent processes are what lets a large lab fit in memory', () => {
    const plan = resolveTopology('route-reflector', { hosts: 500 });
    const shared = estimateLab(plan);
    const perHost = estimateLab({ ...plan, agents: { mode: 'per-host', hostsPerProcess: 50 } });
    expect(perHost.memoryMB).toBeGreaterThan(45_000);
    expect(capacityProblems(perHost, machine).soft.join()).toMatch(/memory/);
    expect(shared.memoryMB).toBeLessThan(6_000);
    expect(capacityProblems(shared, machine).soft).toEqual([]);
    expect(shared.processes).toBe(1 + 500 + 10);
  });

  it('route reflectors need far fewer sessions and neighbours than a mesh of the same size', () => {
    const rr = estimateLab(resolveTopology('route-reflector', { hosts: 200 }));
    const mesh = estimateLab(resolveTopology('mesh', { hosts: 200 }));
    expect(rr.sessions).toBe(2 * 198 + 1);
    expect(rr.sessionsPerHost).toBe(199); // a reflector: 198 clients and the other reflector
    expect(mesh.sessions).toBe(19_900);
    expect(rr.neighbours).toBeLessThan(mesh.neighbours / 10);
  });

  it("more hosts than the fabric's bridges have ports is a hard limit, whatever the machine", () => {
    const big = { memAvailableMB: 1e9, pidMax: 1e9, threadsMax: 1e9, openFilesMax: 1e9 };
    // 1,100 hosts no longer hit one bridge's 1,024 ports: leaf bridges take the rest.
    expect(capacityProblems(estimateLab(resolveTopology('route-reflector', { hosts: 1100 })), big).hard).toEqual([]);
    const e = estimateLab(resolveTopology('route-reflector', { hosts: 24_000 })); // the estimate stays quick at this size
    expect(capacityProblems(e, big).hard.join()).toMatch(/bridges hold at most 24000 hosts and routers/);
  });

  it('a lab that would take over half an hour to build is refused', () => {
    const e = estimateLab(resolveTopology('route-reflector', { hosts: 1000, workloads: 8 }));
    expect(capacityProblems(e, { memAvailableMB: 1e9, pidMax: 1e9, threadsMax: 1e9, openFilesMax: 1e9 }).soft.join()).toMatch(/to build/);
  });

  it('a small machine refuses what a large one holds (the check reads the machine, not a constant)', () => {
    const e = estimateLab(resolveTopology('mesh', { hosts: 20 }));
    expect(capacityProblems(e, machine).soft).toEqual([]);
    expect(capacityProblems(e, { ...machine, memAvailableMB: 1_000 }).soft.join()).toMatch(/memory, 1000 MB is available/);
  });

  it("a route reflector's sessions need open files: the hard limit is checked (daemons start with it as their soft limit)", () => {
    const e = estimateLab(resolveTopology('route-reflector', { hosts: 1000 }));
    expect(capacityProblems(e, { ...machine, memAvailableMB: 1e9 }).soft).toEqual([]);
    expect(capacityProblems(e, { ...machine, memAvailableMB: 1e9, openFilesMax: 1024 }).soft.join()).toMatch(/busiest BIRD needs about 1063 open files, more than the hard limit of 1024/);
  });
});
