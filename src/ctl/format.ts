/**
 * What `ctl get` prints, as calicoctl prints it: yaml or json (one `kind: List`, which apply
 * reads back, or the object itself for one named resource), or tables with calicoctl-like
 * columns, one per kind (`wide`: and the labels); and the one-line summary of an apply or a delete.
 */
import { stringify as stringifyYaml } from 'yaml';
import { API_VERSION, type StoredResource } from '../model/resources.js';
import { table } from '../util/table.js';
import { kindInfo, type KindName } from './kinds.js';

export interface FormatOptions {
  /** The cluster AS (BGPConfiguration default), shown in parentheses for nodes without their own. */
  defaultAsNumber?: number;
  /** The kind of an empty list, so that a table still has its header. */
  kind?: string;
  /** One named resource: yaml and json print the object itself, not a List (as calicoctl does). */
  single?: boolean;
}

export type GetFormat = 'yaml' | 'json' | 'table' | 'wide';

/** A kind's table: calicoctl-like columns, and the row of one resource. */
interface KindTable {
  readonly columns: readonly string[];
  row(r: StoredResource, o: FormatOptions): (string | number)[];
}

/** The table of every kind of KINDS (kinds.ts): a kind without one does not compile. */
const TABLES: Readonly<Record<KindName, KindTable>> = {
  IPPool: {
    columns: ['NAME', 'CIDR', 'SELECTOR'],
    row: (r) => [r.metadata.name, text(r.spec?.cidr), text(r.spec?.nodeSelector, 'all()')],
  },
  Node: {
    columns: ['NAME', 'ASN', 'IPV4', 'IPV6', 'RR CLUSTER'],
    row: (r, o) => {
      const bgp = (r.spec?.bgp ?? {}) as Record<string, unknown>;
      const asn = bgp.asNumber !== undefined ? text(bgp.asNumber) : `(${o.defaultAsNumber ?? 'default'})`;
      return [r.metadata.name, asn, text(bgp.ipv4Address), text(bgp.ipv6Address), text(bgp.routeReflectorClusterID)];
    },
  },
  BGPPeer: {
    columns: ['NAME', 'PEERIP', 'NODE', 'ASN'],
    row: (r) => [
      r.metadata.name,
      text(r.spec?.peerIP ?? (r.spec?.peerSelector !== undefined ? `(selector) ${text(r.spec.peerSelector)}` : undefined)),
      text(r.spec?.node ?? r.spec?.nodeSelector, '(global)'),
      text(r.spec?.asNumber),
    ],
  },
  BGPConfiguration: {
    columns: ['NAME', 'LOGSEVERITY', 'MESHENABLED', 'ASNUMBER'],
    row: (r) => [r.metadata.name, text(r.spec?.logSeverityScreen), text(r.spec?.nodeToNodeMeshEnabled), text(r.spec?.asNumber)],
  },
  BGPFilter: {
    columns: ['NAME', 'IMPORTV4', 'EXPORTV4', 'IMPORTV6', 'EXPORTV6'],
    row: (r) => [r.metadata.name, ...['importV4', 'exportV4', 'importV6', 'exportV6'].map((k) => String(Array.isArray(r.spec?.[k]) ? (r.spec[k] as unknown[]).length : 0))],
  },
  NetworkPolicy: {
    columns: ['NAMESPACE', 'NAME', 'TIER', 'ORDER', 'SELECTOR', 'TYPES'],
    row: (r) => [text(r.metadata.namespace, 'default'), r.metadata.name, text(r.spec?.tier, 'default'), text(r.spec?.order), text(r.spec?.selector, 'all()'), list(r.spec?.types)],
  },
  GlobalNetworkPolicy: {
    columns: ['NAME', 'TIER', 'ORDER', 'SELECTOR', 'TYPES'],
    row: (r) => [r.metadata.name, text(r.spec?.tier, 'default'), text(r.spec?.order), text(r.spec?.selector, 'all()'), list(r.spec?.types)],
  },
  Secret: {
    columns: ['NAMESPACE', 'NAME', 'TYPE', 'DATA'],
    row: (r) => {
      const secret = r as unknown as { type?: string; data?: Record<string, string> };
      return [text(r.metadata.namespace), r.metadata.name, text(secret.type, 'Opaque'), String(Object.keys(secret.data ?? {}).length)];
    },
  },
  Tier: {
    columns: ['NAME', 'ORDER', 'DEFAULTACTION'],
    row: (r) => [r.metadata.name, text(r.spec?.order), text(r.spec?.defaultAction, 'Deny')],
  },
  Profile: {
    columns: ['NAME', 'LABELS TO APPLY'],
    row: (r) => {
      const labels = r.spec?.labelsToApply;
      return [
        r.metadata.name,
        typeof labels === 'object' && labels !== null
          ? Object.entries(labels)
              .map(([k, v]) => `${k}=${String(v)}`)
              .join(',')
          : '',
      ];
    },
  },
  FelixConfiguration: {
    columns: ['NAME', 'NFTABLESMODE', 'ENDPOINTTOHOST'],
    row: (r) => [r.metadata.name, text(r.spec?.nftablesMode, '(Disabled)'), text(r.spec?.defaultEndpointToHostAction, '(Drop)')],
  },
  HostEndpoint: {
    columns: ['NAME', 'NODE', 'INTERFACE', 'IPS', 'PROFILES'],
    row: (r) => [r.metadata.name, text(r.spec?.node), text(r.spec?.interfaceName), list(r.spec?.expectedIPs), list(r.spec?.profiles)],
  },
  WorkloadEndpoint: {
    // calicoctl's columns (its WORKLOAD is the workload's name, which is the endpoint's here).
    columns: ['NAMESPACE', 'WORKLOAD', 'NODE', 'NETWORKS', 'INTERFACE'],
    row: (r) => [
      text(r.metadata.namespace, 'default'),
      text(r.spec?.workload, r.metadata.name),
      text(r.spec?.node),
      Array.isArray(r.spec?.ipNetworks) ? r.spec.ipNetworks.join(',') : '',
      text(r.spec?.interfaceName),
    ],
  },
};

function text(v: unknown, fallback = ''): string {
  return v === undefined || v === null ? fallback : String(v);
}

function list(v: unknown): string {
  return Array.isArray(v) ? v.join(',') : text(v);
}

/** `k=v,k=v`, or `-` for none. */
function labelText(r: StoredResource): string {
  const labels = r.metadata.labels;
  if (typeof labels !== 'object' || labels === null || Object.keys(labels).length === 0) return '-';
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(',');
}

/**
 * Resources as calicoctl prints them: `yaml` and `json` are one `kind: List` (which apply reads
 * back; with `single`, the one object), `table` has calicoctl-like columns, one table per kind,
 * and `wide` adds each resource's labels.
 */
export function formatResources(list: readonly StoredResource[], format: GetFormat, o: FormatOptions = {}): string {
  const doc = o.single && list.length === 1 ? list[0] : { apiVersion: API_VERSION, items: list, kind: 'List' };
  if (format === 'json') return JSON.stringify(doc, null, 2);
  if (format === 'yaml') return stringifyYaml(doc, { indentSeq: false, lineWidth: 0 }).trimEnd();
  const wide = format === 'wide';
  const kinds = [...new Set(list.map((r) => r.kind))];
  if (kinds.length === 0 && o.kind) kinds.push(kindInfo(o.kind)?.kind ?? o.kind);
  return kinds
    .map((kind) => {
      const kindTable: KindTable = Object.hasOwn(TABLES, kind) ? TABLES[kind as KindName] : { columns: ['NAME'], row: (r) => [r.metadata.name] };
      const rows = list.filter((r) => r.kind === kind);
      return table(
        [...kindTable.columns, ...(wide ? ['LABELS'] : [])],
        rows.map((r) => [...kindTable.row(r, o), ...(wide ? [labelText(r)] : [])]),
      );
    })
    .join('\n\n');
}

/** calicoctl's summary: `Successfully applied 2 'IPPool' resource(s)` (no kind when mixed). */
export function summary(verb: 'applied' | 'deleted', results: readonly { kind: string }[]): string {
  const kinds = new Set(results.map((r) => r.kind));
  const kind = kinds.size === 1 ? ` '${[...kinds][0]}'` : '';
  return `Successfully ${verb} ${results.length}${kind} resource(s)`;
}
