/**
 * Property-based: any text given to parseResourceFile gives resources or a ResourceError (an
 * InputError), never another exception, and in bounded time.
 */
import fc from 'fast-check';
import { describe } from 'vitest';
import { parseResourceFile } from '../../src/ctl/parse.js';
import { ResourceError } from '../../src/ctl/resource-error.js';
import { InputError } from '../../src/util/errors.js';
import { itHolds, resultOrTypedError } from '../helpers/fuzz.js';
import { anyText, cidrish, ipish, labelsish, mostly, nameish, numberish, selectorish, quietYamlWarnings, serialized } from '../helpers/fuzz-values.js';

const ALLOWED = [ResourceError, InputError];
const parse = (text: string) => resultOrTypedError(() => parseResourceFile(text, 'fuzz.yaml'), ALLOWED);

const bool = mostly(fc.boolean());
const port = mostly(fc.oneof(numberish, fc.constantFrom('80', '8000:8080', '1:0', 'http', ':', '65536', '80:')));
const entity = fc.record(
  {
    nets: mostly(fc.array(cidrish, { maxLength: 3 })),
    notNets: mostly(fc.array(cidrish, { maxLength: 2 })),
    selector: mostly(selectorish),
    notSelector: mostly(selectorish),
    ports: mostly(fc.array(port, { maxLength: 3 })),
    notPorts: mostly(fc.array(port, { maxLength: 2 })),
    namespaceSelector: selectorish,
  },
  { requiredKeys: [] },
);
const icmp = fc.record({ type: mostly(numberish), code: mostly(numberish) }, { requiredKeys: [] });
const rule = fc.record(
  {
    action: mostly(fc.constantFrom('Allow', 'Deny', 'Pass', 'Log', 'allow')),
    ipVersion: mostly(fc.constantFrom(4, 6, 5)),
    protocol: mostly(fc.oneof(fc.constantFrom('TCP', 'UDP', 'ICMP', 'ICMPv6', 'SCTP', 'UDPLite', 'tcp'), numberish)),
    notProtocol: mostly(fc.constantFrom('TCP', 'ICMP', 17)),
    icmp: mostly(icmp),
    notICMP: mostly(icmp),
    source: mostly(entity),
    destination: mostly(entity),
  },
  { requiredKeys: [] },
);
const rules = mostly(fc.array(rule, { maxLength: 3 }));

const SPECS: Record<string, fc.Arbitrary<unknown>> = {
  IPPool: fc.record(
    {
      cidr: mostly(cidrish),
      blockSize: mostly(numberish),
      ipipMode: mostly(fc.constantFrom('Never', 'Always', 'CrossSubnet')),
      vxlanMode: mostly(fc.constantFrom('Never', 'Always', 'CrossSubnet')),
      natOutgoing: bool,
      disabled: bool,
      nodeSelector: mostly(selectorish),
    },
    { requiredKeys: [] },
  ),
  Node: fc.record(
    {
      bgp: mostly(
        fc.record({ ipv4Address: mostly(fc.oneof(cidrish, ipish)), ipv6Address: mostly(cidrish), asNumber: mostly(numberish), routeReflectorClusterID: mostly(ipish) }, { requiredKeys: [] }),
      ),
    },
    { requiredKeys: [] },
  ),
  BGPPeer: fc.record(
    { node: mostly(nameish), nodeSelector: mostly(selectorish), peerIP: mostly(ipish), asNumber: mostly(numberish), peerSelector: mostly(selectorish), numAllowedLocalASNumbers: mostly(numberish) },
    { requiredKeys: [] },
  ),
  BGPConfiguration: fc.record(
    {
      logSeverityScreen: mostly(fc.constantFrom('Info', 'Debug', 'Warning', 'Error', 'Fatal', 'info')),
      nodeToNodeMeshEnabled: bool,
      asNumber: mostly(numberish),
      holdTime: mostly(numberish),
      keepaliveTime: mostly(numberish),
      connectRetryTime: mostly(numberish),
      gracefulRestart: bool,
      bfd: mostly(fc.record({ intervalMs: mostly(numberish), multiplier: mostly(numberish) }, { requiredKeys: [] })),
    },
    { requiredKeys: [] },
  ),
  NetworkPolicy: fc.record(
    {
      order: mostly(numberish),
      selector: mostly(selectorish),
      types: mostly(fc.array(fc.constantFrom('Ingress', 'Egress', 'ingress'), { maxLength: 3 })),
      ingress: rules,
      egress: rules,
      tier: fc.string(),
    },
    { requiredKeys: [] },
  ),
  GlobalNetworkPolicy: fc.record(
    { order: mostly(numberish), selector: mostly(selectorish), types: mostly(fc.array(fc.constantFrom('Ingress', 'Egress'), { maxLength: 3 })), ingress: rules, egress: rules, preDNAT: bool },
    { requiredKeys: [] },
  ),
  Profile: fc.record({ ingress: rules, egress: rules, labelsToApply: mostly(labelsish) }, { requiredKeys: [] }),
  FelixConfiguration: fc.record({ nftablesMode: mostly(fc.constantFrom('Enabled', 'Disabled', 'Auto')) }, { requiredKeys: [] }),
};

/** A resource of any kind: mostly the right envelope, with a spec of that kind's fields. */
const resource = fc.oneof({ weight: 10, arbitrary: fc.constantFrom(...Object.keys(SPECS)) }, fc.constantFrom('ippool', 'Unknown', 'List', 'WorkloadEndpoint')).chain((kind) =>
  fc.record(
    {
      apiVersion: mostly(fc.constant('projectcalico.org/v3'), 40),
      kind: mostly(fc.constant(kind), 40),
      metadata: mostly(
        fc.oneof(
          {
            weight: 4,
            arbitrary: fc.record(
              {
                name: fc.oneof({ weight: 10, arbitrary: fc.constantFrom('a', 'b', 'default', 'node.h1') }, nameish),
                labels: fc.dictionary(fc.constantFrom('app', 'rack', 'k8s.io/role'), fc.constantFrom('web', 'a', '')),
              },
              { requiredKeys: ['name'] },
            ),
          },
          fc.record({ name: mostly(nameish), namespace: mostly(nameish), labels: mostly(labelsish), annotations: mostly(labelsish), uid: fc.string() }, { requiredKeys: [] }),
        ),
        40,
      ),
      spec: mostly(SPECS[kind] ?? fc.jsonValue({ maxDepth: 2 })),
    },
    { requiredKeys: ['apiVersion', 'kind', 'metadata', 'spec'] },
  ),
);

/** A file's worth: one resource, a List or <Kind>List, a sequence, or several YAML documents. */
const file = fc.oneof(
  { weight: 3, arbitrary: serialized(resource) },
  serialized(fc.record({ kind: mostly(fc.constantFrom('List', 'IPPoolList', 'PodList')), items: mostly(fc.array(resource, { maxLength: 4 })) }, { requiredKeys: ['kind'] })),
  serialized(fc.array(resource, { maxLength: 4 })),
  fc.array(serialized(resource), { minLength: 1, maxLength: 4 }).map((docs) => docs.join('\n---\n')),
);

describe('parseResourceFile on any text', () => {
  quietYamlWarnings();

  itHolds('arbitrary text and YAML-ish fragments: resources or a ResourceError', anyText, (text) => void parse(text), 1000);

  itHolds('arbitrary JSON values, serialized as YAML or JSON: resources or a ResourceError', serialized(fc.jsonValue({ maxDepth: 4 })), (text) => void parse(text), 500);

  itHolds('resource files of every kind, fields mostly plausible: resources or a ResourceError', file, (text) => void parse(text), 1000);
});
