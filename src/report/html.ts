import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * A single self-contained HTML report: Markdown (the small subset the scenario reports use) turned
 * into HTML, images embedded as data: URLs, so the file can be mailed or attached to CI as is.
 */

export interface ReportImage {
  name: string;
  png: Buffer;
  caption: string;
}

export function renderHtmlReport(o: { title: string; markdown: string; images: ReportImage[] }): string {
  const used = new Set<string>();
  const image = (name: string, alt: string) => {
    const img = o.images.find((i) => i.name === name);
    if (!img) return `<img alt="${esc(alt)}" src="${esc(name)}">`;
    used.add(name);
    return figure(img, alt || img.caption);
  };
  const body = markdownToHtml(o.markdown, image);
  const rest = o.images.filter((i) => !used.has(i.name)).map((i) => figure(i, i.caption));
  return [
    '<!DOCTYPE html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<title>${esc(o.title)}</title>`,
    '<style>',
    'body { font-family: system-ui, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; color: #222; }',
    'pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.9em; }',
    'code { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }',
    'figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }',
    'figcaption { color: #555; font-size: 0.9em; }',
    '</style>',
    '</head>',
    '<body>',
    body,
    ...rest,
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

function figure(img: ReportImage, caption: string): string {
  return `<figure><img alt="${esc(caption)}" src="data:image/png;base64,${img.png.toString('base64')}"><figcaption>${esc(caption)}</figcaption></figure>`;
}

/**
 * Markdown → HTML for exactly what the reports contain: ATX headings, "- " lists, paragraphs,
 * fenced code blocks, a standalone image line, and inline **bold**, `code` and [links](url).
 */
export function markdownToHtml(md: string, image: (src: string, alt: string) => string = (s, a) => `<img alt="${esc(a)}" src="${esc(s)}">`): string {
  const out: string[] = [];
  const lines = md.replace(/\r\n/g, '\n').split('\n');
  let para: string[] = [];
  let list: string[] = [];
  const flush = () => {
    if (para.length) out.push(`<p>${inline(para.join(' '))}</p>`);
    if (list.length) out.push(`<ul>\n${list.map((l) => `<li>${inline(l)}</li>`).join('\n')}\n</ul>`);
    para = [];
    list = [];
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    const img = /^\s*!\[([^\]]*)\]\(([^)\s]+)\)\s*$/.exec(line);
    const item = /^\s*[-*]\s+(.*)$/.exec(line);
    if (line.startsWith('```')) {
      flush();
      const code: string[] = [];
      for (i++; i < lines.length && !lines[i]!.startsWith('```'); i++) code.push(lines[i]!);
      out.push(`<pre><code>${esc(code.join('\n'))}</code></pre>`);
    } else if (heading) {
      flush();
      out.push(`<h${heading[1]!.length}>${inline(heading[2]!.trim())}</h${heading[1]!.length}>`);
    } else if (img) {
      flush();
      out.push(image(img[2]!, img[1]!));
    } else if (item) {
      if (para.length) flush();
      list.push(item[1]!);
    } else if (line.trim() === '') {
      flush();
    } else if (list.length && /^\s+\S/.test(line)) {
      list[list.length - 1] += ` ${line.trim()}`;
    } else {
      if (list.length) flush();
      para.push(line.trim());
    }
  }
  flush();
  return out.join('\n');
}

/** Inline markup of one line: escaped first, then `code`, **bold**, [text](url). */
function inline(s: string): string {
  return s
    .split(/(`[^`]*`)/)
    .map((part) => {
      if (part.startsWith('`') && part.endsWith('`') && part.length >= 2) return `<code>${esc(part.slice(1, -1))}</code>`;
      return esc(part)
        .replace(/\*\*(.+?)\*\*/g, '<strong>$1</strong>')
        .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, '<a href="$2">$1</a>');
    })
    .join('');
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * Writes the PNGs, report.md and the self-contained report.html into `dir`; returns their paths.
 * `body` is the report's Markdown; a "Charts" section linking each image with its caption follows.
 */
export function writeReportFiles(dir: string, title: string, body: string, images: ReportImage[]): string[] {
  const markdown = [body.trimEnd(), '', '## Charts', '', ...images.flatMap((i) => [`![${i.caption}](${i.name})`, ''])].join('\n');
  const files: string[] = [];
  const write = (name: string, data: string | Buffer) => {
    const f = join(dir, name);
    writeFileSync(f, data);
    files.push(f);
  };
  for (const i of images) write(i.name, i.png);
  write('report.md', markdown);
  write('report.html', renderHtmlReport({ title, markdown, images }));
  return files;
}
