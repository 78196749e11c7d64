/** One check of a suite, as CI systems read it. */
export interface JunitCase {
  name: string;
  classname: string;
  timeMs?: number;
  /** Present when the check failed: a one-line message and the details. */
  failure?: { message: string; details?: string };
}

export interface JunitSuite {
  name: string;
  cases: JunitCase[];
}

const esc = (s: string) =>
  s
    .replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!)
    // XML 1.0 forbids most control characters, even escaped.
    // biome-ignore lint/suspicious/noControlCharactersInRegex: removing them is the point
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '');

/** Pure: JUnit XML with one testcase per check. */
export function junitXml(suites: JunitSuite[]): string {
  const count = (f: (c: JunitCase) => boolean) => suites.reduce((n, s) => n + s.cases.filter(f).length, 0);
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>', `<testsuites name="calico-sim conformance" tests="${count(() => true)}" failures="${count((c) => !!c.failure)}">`];
  for (const s of suites) {
    const failures = s.cases.filter((c) => c.failure).length;
    const time = s.cases.reduce((t, c) => t + (c.timeMs ?? 0), 0) / 1000;
    lines.push(`  <testsuite name="${esc(s.name)}" tests="${s.cases.length}" failures="${failures}" time="${time.toFixed(3)}">`);
    for (const c of s.cases) {
      const attrs = `name="${esc(c.name)}" classname="${esc(c.classname)}" time="${((c.timeMs ?? 0) / 1000).toFixed(3)}"`;
      if (!c.failure) {
        lines.push(`    <testcase ${attrs}/>`);
      } else {
        lines.push(`    <testcase ${attrs}>`, `      <failure message="${esc(c.failure.message)}">${esc(c.failure.details ?? '')}</failure>`, '    </testcase>');
      }
    }
    lines.push('  </testsuite>');
  }
  lines.push('</testsuites>');
  return `${lines.join('\n')}\n`;
}
