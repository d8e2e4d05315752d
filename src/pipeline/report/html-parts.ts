/** Pieces of the report page: escaping, table cells, tables, figures and sections. */

export const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** A table cell; a number carries its exact value, for sorting and for whoever reads the page's source. */
export interface Cell {
  text: string;
  value?: number | null;
}

export const fixed = (x: number | null | undefined, digits = 4): Cell => ({ text: x === null || x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(digits), value: x ?? null });
export const int = (x: number | null | undefined): Cell => ({ text: x === null || x === undefined ? '–' : x.toLocaleString('en-US'), value: x ?? null });
export const txt = (s: string): Cell => ({ text: s });

export interface Column {
  label: string;
  num?: boolean;
  title?: string;
}

export function htmlTable(cls: string, header: Column[], rows: Cell[][], sortable = false): string {
  const th = header.map((h) => `<th${h.num ? ' class="num"' : ''}${h.title ? ` title="${esc(h.title)}"` : ''}>${esc(h.label)}</th>`).join('');
  const td = (c: Cell, i: number): string => `<td${header[i]?.num ? ' class="num"' : ''}${c.value === undefined ? '' : ` data-value="${c.value === null ? '' : String(c.value)}"`}>${esc(c.text)}</td>`;
  const body = rows.map((r) => `<tr>${r.map(td).join('')}</tr>`).join('\n');
  return `<table class="${cls}${sortable ? ' sortable' : ''}"><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

export const figure = (name: string, svg: string, caption = ''): string => `<figure class="chart" data-chart="${esc(name)}">${svg}${caption ? `<figcaption>${caption}</figcaption>` : ''}</figure>`;

export const section = (id: string, title: string, body: string[]): string => `<section id="${id}"><h2>${esc(title)}</h2>\n${body.join('\n')}\n</section>`;

