/* The harness side of the JSON-lines control channel (docs/control-channel.md):
 * splitting a byte stream into lines, parsing each line, and letting callers
 * await a named event with a timeout. Kept free of child processes so it can
 * be tested on its own; process.ts connects it to a child's stdout. */

export type ChannelEvent = Record<string, unknown> & { event: string };

export type Parsed = { ok: true; value: ChannelEvent } | { ok: false; line: string; error: string };

/* Splits chunks into lines. A chunk may end mid-line (and, for Buffers,
 * mid-UTF-8 sequence), so the tail is kept until the next chunk. */
export class LineSplitter {
  private tail = '';
  private readonly decoder = new TextDecoder('utf-8');

  push(chunk: Buffer | string): string[] {
    this.tail += typeof chunk === 'string' ? chunk : this.decoder.decode(chunk, { stream: true });
    const parts = this.tail.split('\n');
    this.tail = parts.pop() ?? '';
    return parts.map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l)).filter((l) => l.trim() !== '');
  }

  /* At end of stream: a last line without a newline still counts. */
  end(): string[] {
    const rest = this.tail + this.decoder.decode();
    this.tail = '';
    return rest.trim() === '' ? [] : [rest];
  }
}

export function parseEventLine(line: string): Parsed {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    return { ok: false, line, error: (err as Error).message };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value) || typeof (value as { event?: unknown }).event !== 'string') {
    return { ok: false, line, error: 'not an object with a string "event" field' };
  }
  return { ok: true, value: value as ChannelEvent };
}

/* Why a wait failed; `kind` lets callers tell a hang from a crash. */
export class ChannelError extends Error {
  constructor(
    message: string,
    readonly kind: 'timeout' | 'closed' | 'reported',
  ) {
    super(message);
    this.name = 'ChannelError';
  }
}

interface Waiter {
  name: string;
  resolve: (e: ChannelEvent) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/* Events in arrival order, and callers waiting for a named one. An
 * {"event":"error"} from the process fails every current and later wait: the
 * process is about to exit and nothing else it was asked for will come. */
export class EventQueue {
  private readonly pending: ChannelEvent[] = [];
  private readonly waiters: Waiter[] = [];
  private failure: ChannelError | null = null;
  /* Lines that were not valid events: kept for the error messages. */
  readonly garbage: string[] = [];

  /* `describe` names the process in messages; `context` adds e.g. its last stderr lines. */
  constructor(
    private readonly describe: string,
    private readonly context: () => string = () => '',
  ) {}

  pushLine(line: string): void {
    const p = parseEventLine(line);
    if (!p.ok) {
      if (this.garbage.length < 20) this.garbage.push(`${p.line.slice(0, 200)} (${p.error})`);
      return;
    }
    this.push(p.value);
  }

  push(e: ChannelEvent): void {
    if (e.event === 'error') {
      this.fail(new ChannelError(`${this.describe} reported an error: ${String(e.message ?? JSON.stringify(e))}${this.context()}`, 'reported'));
      return;
    }
    const i = this.waiters.findIndex((w) => w.name === e.event);
    if (i >= 0) {
      const [w] = this.waiters.splice(i, 1);
      clearTimeout(w.timer);
      w.resolve(e);
    } else {
      this.pending.push(e);
    }
  }

  /* No more events will come (stdout closed / process exited). */
  close(reason: string): void {
    this.fail(new ChannelError(`${this.describe} ${reason}${this.context()}`, 'closed'));
  }

  private fail(err: ChannelError): void {
    if (!this.failure) this.failure = err;
    for (const w of this.waiters.splice(0)) {
      clearTimeout(w.timer);
      w.reject(this.failure);
    }
  }

  get failed(): ChannelError | null {
    return this.failure;
  }

  /* Resolves with the first event named `name` (already received or coming). */
  waitFor(name: string, timeoutMs: number): Promise<ChannelEvent> {
    const i = this.pending.findIndex((e) => e.event === name);
    if (i >= 0) return Promise.resolve(this.pending.splice(i, 1)[0]);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const at = this.waiters.indexOf(waiter);
        if (at >= 0) this.waiters.splice(at, 1);
        const junk = this.garbage.length ? `\nlines that were not events:\n  ${this.garbage.slice(-5).join('\n  ')}` : '';
        reject(new ChannelError(`${this.describe}: no "${name}" event within ${formatMs(timeoutMs)}${junk}${this.context()}`, 'timeout'));
      }, timeoutMs);
      const waiter: Waiter = { name, resolve, reject, timer };
      this.waiters.push(waiter);
    });
  }
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 ? 1 : 0)} s` : `${ms} ms`;
}
