/* Escaping for the HTML report. Every string from a results file (strategy
 * names, labels, errors, the command line) is data, and a hand-edited or
 * hostile file must not be able to run script in the report: text goes
 * through escapeHtml (the `html` template escapes every interpolation unless
 * it is already Html), and chart data goes into a JSON <script> block that
 * cannot be closed from inside (jsonForScript). */

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/* Safe in element content and in quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ENTITIES[ch]);
}

/* Markup that is already safe (built by `html` or by escapeHtml). */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

function piece(v: unknown): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(piece).join('');
  if (v === null || v === undefined || v === false) return '';
  return escapeHtml(String(v));
}

/* Tagged template: html`<td>${name}</td>` escapes name; arrays are joined. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0];
  for (let i = 0; i < values.length; i++) out += piece(values[i]) + strings[i + 1];
  return new Html(out);
}

/* JSON for <script type="application/json">: "<", ">" and "&" as \u escapes,
 * so no "</script>" or "<!--" can appear inside, and U+2028/U+2029 too
 * (legal in JSON, line terminators in older JavaScript). JSON.parse reads
 * the escapes back as the same characters. */
export function jsonForScript(data: unknown): string {
  return JSON.stringify(data).replace(/[<>&\u2028\u2029]/g, (ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/* Links point at files of the run: relative paths only. A results file
 * could hold "javascript:..." or an absolute URL; those become "#". */
export function isRelativePath(href: string): boolean {
  return !/^[a-z][a-z0-9+.-]*:/i.test(href) && !href.startsWith('/') && !href.includes('\\');
}

export function safeHref(href: string): string {
  return isRelativePath(href) ? href.split('/').map(encodeURIComponent).join('/') : '#';
}
