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
