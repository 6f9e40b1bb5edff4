// Tiny DOM helpers for the demo page (no framework: the page is a few tables and iframes).

export function byId<T extends Element = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (el === null) throw new Error(`the page has no #${id}`);
  return el as unknown as T;
}

export function cell(text: string, className = ''): HTMLTableCellElement {
  const td = document.createElement('td');
  td.textContent = text;
  if (className !== '') td.className = className;
  return td;
}

export function row(...cells: HTMLTableCellElement[]): HTMLTableRowElement {
  const tr = document.createElement('tr');
  tr.append(...cells);
  return tr;
}

/** Wall-clock time of day, to the second (what an operator compares with logs). */
export function time(unixMs: number): string {
  return new Date(unixMs).toLocaleTimeString([], { hour12: false });
}
