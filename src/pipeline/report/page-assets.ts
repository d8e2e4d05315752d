/** The report page's inline style (screen and print) and its one script: sorting a table by a clicked column. */

export const PAGE_STYLE = `
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --rule: #d8dee4; --band: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0 auto; max-width: 1200px; padding: 16px 24px 48px; font: 14px/1.45 "DejaVu Sans", Helvetica, Arial, sans-serif; color: var(--ink); background: #fff; }
h1 { font-size: 22px; margin: 8px 0 2px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid var(--rule); }
h3 { font-size: 15px; margin: 16px 0 6px; }
h4 { font-size: 13px; margin: 10px 0 4px; }
.meta, .note, figcaption, .fields { color: var(--muted); font-size: 12.5px; }
nav a { color: inherit; margin: 0 2px; }
figure.chart { margin: 8px 0 12px; overflow-x: auto; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figcaption { max-width: 860px; margin-top: 4px; }
.row { display: flex; flex-wrap: wrap; gap: 8px 16px; }
.row figure.chart { flex: 0 1 auto; max-width: 540px; }
table { border-collapse: collapse; font-size: 12.5px; margin: 6px 0 10px; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 8px; border-bottom: 1px solid var(--rule); text-align: left; white-space: nowrap; }
th { background: var(--band); font-weight: 600; position: sticky; top: 0; }
td.num, th.num { text-align: right; }
table.sortable th { cursor: pointer; user-select: none; }
table.sortable th[aria-sort=ascending]::after { content: " ▲"; }
table.sortable th[aria-sort=descending]::after { content: " ▼"; }
.scroll { max-height: 520px; overflow: auto; border: 1px solid var(--rule); display: inline-block; max-width: 100%; }
.scroll table { margin: 0; }
dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 12px; margin: 4px 0 8px; font-size: 12.5px; }
dt { color: var(--muted); }
dd { margin: 0; overflow-wrap: anywhere; }
pre { background: var(--band); padding: 8px 10px; font-size: 12px; overflow-x: auto; }
details summary { cursor: pointer; color: var(--muted); }
@media print {
  body { max-width: none; padding: 0; font-size: 11px; }
  nav { display: none; }
  .scroll { max-height: none; overflow: visible; border: 0; display: block; }
  table { font-size: 9px; }
  th { position: static; white-space: normal; }
  th, td { padding: 2px 4px; }
  thead { display: table-header-group; }
  figure.chart, article.run, table.training, table.evaluation { break-inside: avoid; }
  details > pre { display: block; }
  h2 { break-after: avoid; }
}
`;

/** Clicking a header sorts by that column: by data-value where cells have one (empty values last), else by text. */
export const PAGE_SCRIPT = `
for (const th of document.querySelectorAll('table.sortable th')) {
  th.addEventListener('click', () => {
    const table = th.closest('table'), body = table.tBodies[0], col = th.cellIndex;
    const up = th.getAttribute('aria-sort') !== 'ascending';
    for (const h of table.querySelectorAll('th')) h.removeAttribute('aria-sort');
    th.setAttribute('aria-sort', up ? 'ascending' : 'descending');
    const key = (tr) => { const c = tr.cells[col]; return c.dataset.value === undefined ? c.textContent : c.dataset.value === '' ? null : Number(c.dataset.value); };
    const rows = [...body.rows].sort((a, b) => {
      const x = key(a), y = key(b);
      if (x === null || y === null) return x === y ? 0 : x === null ? 1 : -1;
      const d = typeof x === 'number' ? x - y : String(x).localeCompare(String(y), undefined, { numeric: true });
      return up ? d : -d;
    });
    body.append(...rows);
  });
}
`;
