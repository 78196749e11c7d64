/** Hostile or oversized input files, for the tests of what bad input is refused with. */

/** A "billion laughs" YAML file: `levels` anchors, each a list of nine aliases of the one before (9^levels strings once expanded). */
export function billionLaughs(levels: number): string {
  const lines = ['l0: &l0 "lol"'];
  for (let i = 1; i <= levels; i++)
    lines.push(
      `l${i}: &l${i} [${Array(9)
        .fill(`*l${i - 1}`)
        .join(', ')}]`,
    );
  return `${lines.join('\n')}\n`;
}

/**
 * A GlobalNetworkPolicy named `name` of at least `bytes` bytes of YAML: Allow rules from /32
 * networks, 64 to a rule (as a policy generated from an inventory looks).
 */
export function bigPolicy(name: string, bytes: number): string {
  const rules: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i++) {
    const nets = Array.from({ length: 64 }, (_, j) => `198.19.${((i * 64 + j) >> 8) & 255}.${(i * 64 + j) & 255}/32`);
    const rule = `  - {action: Allow, protocol: TCP, source: {nets: [${nets.join(', ')}]}, destination: {ports: [${(i % 60000) + 1}]}}\n`;
    rules.push(rule);
    size += rule.length;
  }
  return `apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: ${name}}\nspec:\n  selector: all()\n  ingress:\n${rules.join('')}`;
}
