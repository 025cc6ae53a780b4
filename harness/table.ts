/* Plain-text tables for the terminal (list, the run summary). Numbers are
 * right-aligned so magnitudes line up. */

export interface Column {
  header: string;
  align?: 'left' | 'right';
}

/* Width in terminal columns; "µ" and the like count as one. */
const width = (s: string) => [...s].length;

export function renderTable(columns: Column[], rows: string[][]): string {
  const widths = columns.map((c, i) => Math.max(width(c.header), ...rows.map((r) => width(r[i] ?? ''))));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => {
        const pad = ' '.repeat(widths[i] - width(cell));
        return columns[i].align === 'right' ? pad + cell : cell + pad;
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => c.header)), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}
