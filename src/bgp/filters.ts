/**
 * Calico's BGPFilter in BIRD (pure): each filter becomes up to four functions,
 * `'bgp_<name>_<import|export>FilterV<4|6>'`, one `if (…) then { accept|reject; }` per rule in
 * order, as confd's template functions render them (confd/pkg/resource/template/template_funcs.go:
 * `# v4 BGPFilter <name>`, operators Equal `=`, NotEqual `!=`, In `~`, NotIn `!~`, a prefix
 * length as `[ cidr{min,max} ]`, source RemotePeers as `source ~ [ RTS_BGP ]`, an interface as
 * `ifname ~ "…"`, a community as `((aa, nn) ~ bgp_community)`, an AS path prefix as
 * `(bgp_path ~ [= a b * =])`, a priority as BIRD's local preference 2147483647 − priority,
 * conditions joined with `&&`, then the operations and the action; a rule for one peer type inside
 * `if ([!]is_same_as)`, its function then taking `bool is_same_as`). A
 * BGPPeer's session calls its filters' functions first, then does what it does without them
 * (bird.cfg.template: import falls through to accept — here, to the session's own import rule —
 * and export to the Calico export filter). Node-to-node mesh sessions take no filters.
 */
import { createHash } from 'node:crypto';
import type { BGPFilterRule, BGPFilterSpec } from '../model/resources.js';

export type FilterDirection = 'import' | 'export';

/** BIRD's longest symbol. */
const MAX_SYMBOL = 64;

/** The quoted BIRD symbol of one of a filter's functions; a long name is cut and hashed (confd's truncateAndHashName). */
export function filterFunctionName(filter: string, direction: FilterDirection, family: 4 | 6): string {
  const fixed = `bgp__${direction}FilterV${family}`.length;
  const room = MAX_SYMBOL - fixed;
  const name = filter.length <= room ? filter : `${filter.slice(0, room - 17)}_${createHash('sha256').update(filter).digest('hex').slice(0, 16)}`;
  return `'bgp_${name}_${direction}FilterV${family}'`;
}

const OPERATORS = { Equal: '=', NotEqual: '!=', In: '~', NotIn: '!~' } as const;

/** BIRD's highest local preference: a priority N is local preference MAX_LOCAL_PREF − N (confd). */
export const MAX_LOCAL_PREF = 2147483647;

/** Calico's normal route priority (BGPConfiguration ipv4NormalRoutePriority's default): the kernel metric of a route nobody raised. */
export const NORMAL_ROUTE_PRIORITY = 1024;

/**
 * The priority preamble of every session's filters (Calico 3.32's confd: priority as local
 * preference). Export: a route learned over BGP keeps its local preference and gets the kernel
 * metric it stands for; any other gets local preference 2147483647 − its metric (1024 unless
 * set). Import: a route of higher priority than normal beats the others (BIRD preference 200).
 */
export const PRIORITY_EXPORT = [
  'if (defined(source) && source = RTS_BGP && defined(bgp_local_pref)) then {',
  `  krt_metric = ${MAX_LOCAL_PREF} - bgp_local_pref;`,
  '} else {',
  `  if (!defined(krt_metric)) then { krt_metric = ${NORMAL_ROUTE_PRIORITY}; }`,
  `  bgp_local_pref = ${MAX_LOCAL_PREF} - krt_metric;`,
  '}',
];
export const PRIORITY_IMPORT = [`if (defined(bgp_local_pref)&&(bgp_local_pref > ${MAX_LOCAL_PREF - NORMAL_ROUTE_PRIORITY})) then`, '  preference = 200;'];

/** `aa:nn` → `(aa, nn)`, `aa:nn:mm` → `(aa, nn, mm)`, and the attribute it lives in. */
const community = (value: string) => ({ tuple: `(${value.split(':').join(', ')})`, attribute: value.split(':').length === 2 ? 'bgp_community' : 'bgp_large_community' });

/** What an Accept rule does to the route before accepting it (Calico 3.32's operations). */
function operationStatements(rule: BGPFilterRule): string[] {
  return (rule.operations ?? []).flatMap((o) => {
    if (o.addCommunity) {
      const c = community(o.addCommunity.value);
      return [`${c.attribute}.add(${c.tuple});`];
    }
    // Prepended last first, so the path reads as the prefix given.
    if (o.prependASPath) return [...o.prependASPath.prefix].reverse().map((as) => `bgp_path.prepend(${as});`);
    if (o.setPriority) return [`bgp_local_pref = ${MAX_LOCAL_PREF - o.setPriority.value};`];
    return [];
  });
}

/** True if a rule of these is only for iBGP or only for eBGP peers: the function then takes `is_same_as`. */
export function hasPeerType(rules: readonly BGPFilterRule[]): boolean {
  return rules.some((r) => r.peerType !== undefined);
}

/**
 * One rule as BIRD: `if (…) then { <operations> accept; }`, or the bare body; a rule for one
 * peer type wrapped in `if (is_same_as) then { … }` (iBGP) or `if (!is_same_as)` (eBGP).
 */
export function ruleStatement(rule: BGPFilterRule, family: 4 | 6): string {
  const conditions: string[] = [];
  if (rule.cidr !== undefined && rule.matchOperator !== undefined) {
    const mask = Number(rule.cidr.split('/')[1]);
    const bits = family === 4 ? 32 : 128;
    const target = rule.prefixLength ? `[ ${rule.cidr}{${Math.max(mask, rule.prefixLength.min ?? mask)},${Math.min(bits, rule.prefixLength.max ?? bits)}} ]` : rule.cidr;
    conditions.push(`(net ${OPERATORS[rule.matchOperator]} ${target})`);
  }
  if (rule.source === 'RemotePeers') conditions.push('((defined(source))&&(source ~ [ RTS_BGP ]))');
  if (rule.interface !== undefined) conditions.push(`((defined(ifname))&&(ifname ~ "${rule.interface}"))`);
  for (const v of rule.communities?.values ?? []) {
    const c = community(v);
    conditions.push(`(${c.tuple} ~ ${c.attribute})`);
  }
  if (rule.asPathPrefix?.length) conditions.push(`(bgp_path ~ [= ${rule.asPathPrefix.join(' ')} * =])`);
  if (rule.priority !== undefined) conditions.push(`(defined(bgp_local_pref)&&(bgp_local_pref = ${MAX_LOCAL_PREF - rule.priority}))`);
  const body = [...operationStatements(rule), `${rule.action.toLowerCase()};`].join(' ');
  const statement = conditions.length ? `if (${conditions.join('&&')}) then { ${body} }` : body;
  if (rule.peerType === undefined) return statement;
  return `if (${rule.peerType === 'iBGP' ? '' : '!'}is_same_as) then { ${statement} }`;
}

const RULES = { import: { 4: 'importV4', 6: 'importV6' }, export: { 4: 'exportV4', 6: 'exportV6' } } as const;

/** A filter's rules for one direction and family. */
export function filterRules(spec: BGPFilterSpec, direction: FilterDirection, family: 4 | 6): BGPFilterRule[] {
  return spec[RULES[direction][family]] ?? [];
}

/** The functions of every filter, for one family (a filter with no rules of a direction has no function for it). */
export function filterFunctions(filters: readonly { name: string; spec: BGPFilterSpec }[], family: 4 | 6): string[] {
  const lines: string[] = [];
  for (const f of [...filters].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const parts = (['import', 'export'] as const).filter((d) => filterRules(f.spec, d, family).length);
    if (!parts.length) continue;
    lines.push(`# v${family} BGPFilter ${f.name}`);
    for (const d of parts) {
      const rules = filterRules(f.spec, d, family);
      lines.push(`function ${filterFunctionName(f.name, d, family)}(${hasPeerType(rules) ? 'bool is_same_as' : ''}) {`, ...rules.map((r) => `  ${ruleStatement(r, family)}`), '}');
    }
  }
  return lines;
}
