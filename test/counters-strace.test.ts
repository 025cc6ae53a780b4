/* The syscall counters a strategy reports must match what the kernel saw.
 * strace attaches to the server's loop thread (the main thread; the control
 * thread is not traced) after start-up, a small peer-ping run goes through,
 * the connections close, and strace's per-syscall call and error counts are
 * compared with the server's own counters. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { REPO, tempRoot } from './harness-fixture.js';
import { loadCatalog, findExecutable } from '../harness/catalog.js';
import { LOADGEN_COMMAND } from '../harness/paths.js';
import { startProcess, endAllProcesses, NativeProcess } from '../harness/process.js';

/* Counter kind -> the syscalls it stands for. */
const KINDS: Record<string, string[]> = {
  accept: ['accept4', 'accept'],
  read: ['read', 'readv', 'recvfrom', 'recvmsg'],
  write: ['write', 'sendto'],
  writev: ['writev', 'sendmsg'],
  close: ['close'],
  epoll_ctl: ['epoll_ctl'],
  epoll_wait: ['epoll_wait', 'epoll_pwait'],
  select: ['select', 'pselect6'],
  poll: ['poll', 'ppoll'],
  io_uring_enter: ['io_uring_enter'],
  other: ['ioctl'],
};
/* The multiplexing call in progress when strace attaches or detaches may be
 * counted on one side only. */
const WAIT_KINDS = new Set(['epoll_wait', 'select', 'poll', 'io_uring_enter']);

interface StraceRow { calls: number; errors: number }

/* Parses the table `strace -c` writes: "% time seconds usecs/call calls [errors] syscall". */
export function parseStraceSummary(text: string): Map<string, StraceRow> {
  const rows = new Map<string, StraceRow>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !/^\d/.test(f[0]) || f[f.length - 1] === 'total') continue;
    rows.set(f[f.length - 1], { calls: Number(f[3]), errors: f.length >= 6 ? Number(f[4]) : 0 });
  }
  return rows;
}

type Counter = { calls: number; eagain: number; errors: number };
type Snapshot = { syscalls: Record<string, Counter>; async_ops?: Record<string, Counter>; connections: { open: number; closed: number } };

async function snapshot(server: NativeProcess): Promise<Snapshot> {
  return (await server.request({ cmd: 'snapshot' }, 'snapshot', 5000)) as unknown as Snapshot;
}

async function until(server: NativeProcess, ok: (s: Snapshot) => boolean): Promise<Snapshot> {
  for (let i = 0; i < 200; i++) {
    const s = await snapshot(server);
    if (ok(s)) return s;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('server did not reach the expected state in 5 s');
}

test('parseStraceSummary reads calls and errors', () => {
  const rows = parseStraceSummary(
    '% time     seconds  usecs/call     calls    errors syscall\n------ ----------- ----------- --------- --------- ----------------\n' +
      ' 60.00    0.000060           3        20         4 read\n 40.00    0.000040           2        17           writev\n100.00    0.000100           2        37         4 total\n',
  );
  assert.deepEqual(rows.get('read'), { calls: 20, errors: 4 });
  assert.deepEqual(rows.get('writev'), { calls: 17, errors: 0 });
  assert.equal(rows.has('total'), false);
});

// A strategy whose manifest says it cannot count its syscalls (a runtime that
// makes them out of reach, as Node.js does in libuv) is held to exact byte
// totals by the integration test instead.
const strategies = loadCatalog(REPO).strategies.filter((v) => v.available && v.protocols.includes('peer') && !v.limitations.syscall_counts);

for (const v of strategies) {
  test(`${v.name}: syscall counters equal strace -c`, { timeout: 60_000 }, async () => {
    assert.ok(findExecutable('strace', '/'), 'strace is missing (bash scripts/setup.sh installs it)');
    const out = path.join(tempRoot(), 'strace.txt');
    const server = startProcess({ label: `${v.name} server`, argv: [...v.command, ...v.args, '--protocol', 'peer', '--listen', 'tcp:127.0.0.1:0'], cwd: REPO });
    try {
      const listening = await server.waitFor('listening', 5000);
      const strace = spawn('strace', ['-c', '-o', out, '-p', String(server.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
      // strace says "Process N attached" once it traces the thread.
      await new Promise<void>((resolve, reject) => {
        let err = '';
        strace.stderr.on('data', (d: Buffer) => {
          err += d.toString();
          if (/attached/.test(err)) resolve();
        });
        strace.on('exit', () => reject(new Error(`strace could not attach: ${err}`)));
      });
      // Two small workloads: round trips (read/write) and a stream (writev).
      const workloads = [
        ['--driver', 'peer-ping', '--connections', '10', '--requests', '500', '--depth', '2'],
        ['--driver', 'peer-block', '--connections', '2', '--active', '1', '--bytes', '2097152', '--chunk', '65536'],
      ];
      let connections = 0;
      for (const w of workloads) {
        const loadgen = startProcess({ label: 'load generator', argv: [LOADGEN_COMMAND, '--connect', String(listening.address), ...w], cwd: REPO });
        await loadgen.waitFor('ready', 10_000);
        connections += Number(w[w.indexOf('--connections') + 1]);
        await until(server, (s) => s.connections.open + s.connections.closed === connections);
        const result = await loadgen.request({ cmd: 'go' }, 'result', 30_000);
        assert.equal(result.ok, true, JSON.stringify(result.errors));
        await loadgen.end();
      }
      const t0 = Date.now();
      const last = await until(server, (s) => s.connections.closed === connections);
      const counters = last.syscalls;
      const asyncOps = last.async_ops ?? {};
      const exited = new Promise((r) => strace.on('exit', r));
      strace.kill('SIGINT'); // detach and write the summary
      await exited;
      // A loop with a poll timeout (sockman: 50 ms) keeps waiting while idle:
      // those calls land on one side or the other of the last snapshot.
      const idleWaits = Math.ceil((Date.now() - t0) / 50);
      const traced = parseStraceSummary(fs.readFileSync(out, 'utf8'));

      for (const [kind, names] of Object.entries(KINDS)) {
        const seen = names.reduce((n, s) => n + (traced.get(s)?.calls ?? 0), 0);
        const seenErrors = names.reduce((n, s) => n + (traced.get(s)?.errors ?? 0), 0);
        const c = counters[kind] ?? { calls: 0, eagain: 0, errors: 0 };
        const slack = WAIT_KINDS.has(kind) ? 2 + idleWaits : 0;
        assert.ok(Math.abs(c.calls - seen) <= slack, `${v.name} ${kind}: counters say ${c.calls} calls, strace ${seen}`);
        if (slack === 0) assert.equal(c.eagain + c.errors, seenErrors, `${v.name} ${kind}: failed calls`);
      }
      // Completion strategies (io_uring) have the kernel receive and send for
      // them: counted as async operations, not syscalls.
      assert.ok((counters.read?.calls ?? 0) + (asyncOps.recv?.calls ?? 0) >= 250, 'the round trips went through a counted read path');
      // Streams go out through writev, message by message through write/send, or as async sends.
      assert.ok((counters.writev?.calls ?? 0) + (counters.write?.calls ?? 0) + (asyncOps.send?.calls ?? 0) > 250, 'the stream went through a counted write path');
    } finally {
      await endAllProcesses();
    }
  });
}
