/** Workload endpoint names as Calico forms them (libcalico-go/lib/names/workloadendpoint.go). */
import { describe, expect, it } from 'vitest';
import { wepIdentifiers, wepName } from '../../src/model/names.js';

describe('workload endpoint names: <node>-<orchestrator>-<workload>-<endpoint>, dashes doubled', () => {
  it('joins the parts with single dashes, doubling the dashes inside them (escapeDashes)', () => {
    expect(wepName({ node: 'host1', orchestrator: 'cni', workload: 'web', endpoint: 'eth0' })).toBe('host1-cni-web-eth0');
    expect(wepName({ node: 'rack-a-1', orchestrator: 'k8s', workload: 'my-web-0', endpoint: 'eth0' })).toBe('rack--a--1-k8s-my--web--0-eth0');
  });

  it('parses back; any other name is not one', () => {
    const ids = { node: 'rack-a-1', orchestrator: 'cni', workload: 'my-web', endpoint: 'eth0' };
    expect(wepIdentifiers(wepName(ids))).toEqual(ids);
    expect(wepIdentifiers('host1-cni-web-eth0')).toEqual({ node: 'host1', orchestrator: 'cni', workload: 'web', endpoint: 'eth0' });
    expect(wepIdentifiers('web')).toBeUndefined();
    expect(wepIdentifiers('a-b-c')).toBeUndefined();
    expect(wepIdentifiers('a-b-c-d-e')).toBeUndefined();
  });
});
