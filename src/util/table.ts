/** A plain text table: a header row, a rule, then the rows, columns padded to fit. */
export function table(header: string[], rows: (string | number)[][]): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...cells.slice(1).map(line)].join('\n');
}

/** A reachability matrix: rows are sources, columns destinations, "ok"/"FAIL" in between. */
export function matrix(names: string[], ok: (from: string, to: string) => boolean | undefined): string {
  return table(
    ['from \\ to', ...names],
    names.map((f) => [f, ...names.map((t) => (f === t ? '-' : ok(f, t) ? 'ok' : 'FAIL'))]),
  );
}
