/* Stack folding on real `perf script` output (test/fixtures/perf/, see its
 * README): totals counted independently from the sample headers, frame
 * naming (thread roots, _[k] kernel frames, offsets and clone suffixes
 * gone, [dso] for unknown symbols), the period; and the folded text format
 * both ways. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './harness-fixture.js';
import { foldPerfScript, formatFolded, parseFolded, renameThreads, type Folded } from '../flamegraphs/fold.js';

const FIXTURES = path.join(REPO, 'test', 'fixtures', 'perf');
const fixture = (name: string) => fs.readFileSync(path.join(FIXTURES, name), 'utf8');

/* Sample headers are the lines that do not start with white space. */
function headerLines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '' && !/^\s/.test(l));
}

function frames(f: Folded): Set<string> {
  return new Set([...f.stacks.keys()].flatMap((s) => s.split(';')));
}

function roots(f: Folded): Map<string, number> {
  const out = new Map<string, number>();
  for (const [stack, n] of f.stacks) {
    const root = stack.split(';')[0];
    out.set(root, (out.get(root) ?? 0) + n);
  }
  return out;
}

const FIXTURE_FILES = ['poll-peer-ping.txt', 'io_uring-peer-ping.txt', 'libevent-peer-ping.txt', 'node-peer-ping.txt', 'node-handoff-tid.txt', 'system-wide.txt'];

test('every fixture folds to exactly its samples, one stack per sample header, with the period perf printed', () => {
  for (const name of FIXTURE_FILES) {
    const text = fixture(name);
    const headers = headerLines(text);
    const f = foldPerfScript(text);
    assert.equal(f.samples, headers.length, name);
    assert.equal([...f.stacks.values()].reduce((a, b) => a + b, 0), f.samples, name);
    const periods = new Set(headers.map((h) => /:\s+(\d+) cpu-clock:/.exec(h)![1]));
    assert.equal(periods.size, 1, name);
    assert.equal(f.periodNs, Number([...periods][0]), name);
    for (const stack of f.stacks.keys()) {
      assert.doesNotMatch(stack, /\+0x[0-9a-f]+/, `${name}: offsets are stripped`);
      assert.doesNotMatch(stack, /\.(constprop|isra|part)\.\d+|\.cold\b/, `${name}: clone suffixes are stripped`);
      assert.ok(!stack.split(';').includes(''), `${name}: no empty frame`);
    }
  }
});

test('poll: the thread is the root, kernel frames end in _[k], frames run root to leaf', () => {
  const f = foldPerfScript(fixture('poll-peer-ping.txt'));
  assert.deepEqual([...roots(f)], [['muxbench-poll', 85]]);
  const all = frames(f);
  for (const k of ['tcp_sendmsg_[k]', '__x64_sys_poll_[k]', 'do_sys_poll_[k]', 'entry_SYSCALL_64_after_hwframe_[k]', 'do_softirq_[k]']) assert.ok(all.has(k), k);
  assert.ok(all.has('settle'), 'settle.constprop.0 is folded as settle');
  assert.ok(all.has('__poll') && all.has('main'));
  assert.ok(!all.has('tcp_sendmsg'), 'a kernel frame never appears without its suffix');
  assert.ok(![...all].some((n) => n.includes('libc.so.6') || n.includes('muxbench-poll ')), 'resolved symbols are not replaced by their dso');
  // The file's first two samples: a read from main(), a write from settle().
  assert.ok((f.stacks.get('muxbench-poll;__libc_start_call_main;main;read;entry_SYSCALL_64_after_hwframe_[k];do_syscall_64_[k]') ?? 0) >= 1);
  assert.ok((f.stacks.get('muxbench-poll;__libc_start_call_main;main;settle;__GI___libc_write;entry_SYSCALL_64_after_hwframe_[k];do_syscall_64_[k]') ?? 0) >= 1);
  for (const stack of f.stacks.keys()) {
    const parts = stack.split(';');
    const firstKernel = parts.findIndex((p) => p.endsWith('_[k]'));
    if (firstKernel >= 0) assert.ok(parts.slice(firstKernel).every((p) => p.endsWith('_[k]')), `user code never sits above kernel code here: ${stack}`);
  }
});

test('io_uring: [unknown] symbols in liburing become [liburing.so.2.3]; the kernel entry is __do_sys_io_uring_enter', () => {
  const f = foldPerfScript(fixture('io_uring-peer-ping.txt'));
  const all = frames(f);
  assert.ok(all.has('[liburing.so.2.3]'));
  assert.ok(all.has('__do_sys_io_uring_enter_[k]'));
  assert.ok(!all.has('[unknown]'));
  assert.deepEqual([...roots(f).keys()], ['muxbench-io_uri'], 'perf truncates comm to 15 characters');
});

test('libevent: unknown symbols named by their library, unknown symbol in an unknown dso is [unknown]', () => {
  const text = fixture('libevent-peer-ping.txt');
  const f = foldPerfScript(text);
  const all = frames(f);
  assert.ok(all.has('[libevent_core-2.1.so.7.0.1]'));
  assert.ok(all.has('[unknown]'));
  assert.ok(all.has('__x64_sys_epoll_wait_[k]'));
  assert.ok(all.has('syscall'));
  const unknownLines = text.split('\n').filter((l) => l.endsWith('[unknown] ([unknown])')).length;
  assert.ok(unknownLines > 0);
  // Every "[unknown] ([unknown])" line became one [unknown] frame.
  let unknownFrames = 0;
  for (const [stack, n] of f.stacks) unknownFrames += n * stack.split(';').filter((p) => p === '[unknown]').length;
  assert.equal(unknownFrames, unknownLines);
});

test('node with --perf-basic-prof: JIT names keep their spaces, C++ names their spaces and parentheses', () => {
  const f = foldPerfScript(fixture('node-peer-ping.txt'));
  const all = frames(f);
  assert.deepEqual([...roots(f).keys()], ['node']);
  assert.ok(all.has('JS:*parse file:///work/main/dist/strategies/node/peer.js:146:10'));
  assert.ok([...all].some((n) => n.startsWith('JS:* file:///')), 'an anonymous JS function');
  assert.ok([...all].some((n) => n.includes('::(anonymous namespace)::')), 'C++ names keep spaces and parentheses');
  assert.ok(all.has('[unknown]'));
  assert.ok(all.has('uv__io_poll') && all.has('uv_run'));
});

test('headers with pid/tid and with a [cpu] column; comm names with spaces; several threads and processes', () => {
  const tid = foldPerfScript(fixture('node-handoff-tid.txt'));
  assert.match(headerLines(fixture('node-handoff-tid.txt'))[0], /^node \d+\/\d+ /);
  assert.deepEqual([...roots(tid)], [['node', 50]]);
  assert.ok(
    frames(tid).has('std::_Sp_counted_deleter<v8::BackingStore*, std::default_delete<v8::BackingStore>, std::allocator<void>, (__gnu_cxx::_Lock_policy)2>::_M_dispose'),
    'a template name holding " (" keeps it: the dso is the last parenthesised group',
  );
  assert.ok(frames(tid).has('uv__async_io'), 'uv__async_io.part.0 folds as uv__async_io');

  const sys = foldPerfScript(fixture('system-wide.txt'));
  assert.match(headerLines(fixture('system-wide.txt'))[0], / \[\d{3}\] /);
  const r = roots(sys);
  assert.deepEqual([...r.keys()].sort(), ['mux epoll srv', 'muxbench-loadge', 'swapper']);
  assert.equal(r.get('mux epoll srv'), headerLines(fixture('system-wide.txt')).filter((h) => h.startsWith('mux epoll srv ')).length);
  assert.equal(sys.periodNs, 10101010);
  assert.ok(frames(sys).has('__x64_sys_epoll_wait_[k]'));
});

const SAMPLE = (comm: string, period: number, event = 'cpu-clock', frameLines = ['\t    ffffffff81000130 entry_SYSCALL_64_after_hwframe+0x76 ([kernel.kallsyms])', '\t            2703 main+0x243 (/repo/build/muxbench-poll)']) =>
  [`${comm} 123/124 [001] 28464.489622:    ${period} ${event}: `, ...frameLines, ''].join('\n');

test('robust to warnings, blank lines, header-only samples, other events and changing periods', () => {
  const warnings = 'Warning:\nProcessed 1234 events and lost 2 chunks!\n\n  Check IO/CPU overload!\n\n';
  const f = foldPerfScript(warnings + SAMPLE('a b', 1000) + '\n\n' + 'a b 123 1.000001: 1000 cpu-clock: \n\n' + SAMPLE('a b', 1000));
  assert.equal(f.samples, 3);
  assert.equal(f.periodNs, 1000);
  assert.equal(f.stacks.get('a b;main;entry_SYSCALL_64_after_hwframe_[k]'), 2);
  assert.equal(f.stacks.get('a b'), 1, 'a header without frames counts as the thread alone');

  assert.equal(foldPerfScript(SAMPLE('x', 1000) + SAMPLE('x', 2000)).periodNs, null, 'periods differ');
  const mixed = foldPerfScript(SAMPLE('x', 1000) + SAMPLE('x', 1000, 'task-clock'));
  assert.equal(mixed.samples, 2);
  assert.equal(mixed.periodNs, null, 'another event');
  assert.equal(foldPerfScript('x 12 1.5: cpu-clock: \n\tabc main (/bin/x)\n').periodNs, null, 'no period printed');
  assert.deepEqual(foldPerfScript('').samples, 0);

  // Recorded without -g: the one frame follows the event on the header line.
  const flat = foldPerfScript('perf 12 [000] 1.5:    1000 cpu-clock:  ffffffff81000130 do_syscall_64+0x46 ([kernel.kallsyms])\r\nperf 12 [000] 1.6:    1000 cpu-clock:  4011 main+0x1 (/bin/perf)\r\n');
  assert.deepEqual([...flat.stacks], [['perf;do_syscall_64_[k]', 1], ['perf;main', 1]]);
  assert.equal(flat.periodNs, 1000);
});

test('frame naming details: ; in names, kernel modules and vdso, dso-less frames', () => {
  const f = foldPerfScript(
    SAMPLE('w;x', 10, 'cpu-clock', [
      '\t    7f00 LazyCompile:*a;b /x.js:1 (/tmp/perf-1.map)',
      '\t    ffffffffc0a01234 nft_do_chain+0x44 ([nf_tables])',
      '\t    7fff12345 __vdso_clock_gettime+0x10 ([vdso])',
      '\t    ffffffff81234567 [unknown] ([kernel.kallsyms])',
      '\t    ffffffff81234568 schedule',
      '\t    401000 [unknown] (/usr/lib/libfoo.so.1)',
      '\t    0 [unknown] ([unknown])',
      '\t    7f00 foo.isra.0.cold+0x1 (/bin/x)',
      '\t    7f01 __libc_start_main@@GLIBC_2.34+0x80 (/usr/lib/x86_64-linux-gnu/libc.so.6)',
    ]),
  );
  assert.deepEqual([...f.stacks.keys()], ['w:x;__libc_start_main;foo;[unknown];[libfoo.so.1];schedule_[k];[kernel.kallsyms]_[k];__vdso_clock_gettime;nft_do_chain_[k];LazyCompile:*a:b /x.js:1']);
});

test('formatFolded and parseFolded round-trip; plain folded files parse; malformed lines name their line', () => {
  for (const name of FIXTURE_FILES) {
    const f = foldPerfScript(fixture(name));
    const text = formatFolded(f);
    assert.match(text, /^# muxbench folded stacks: period_ns=\d+\n/);
    const lines = text.trimEnd().split('\n').slice(1);
    assert.deepEqual(lines, [...lines].sort(), 'lines sorted');
    const back = parseFolded(text);
    assert.deepEqual(back, f, name);
    assert.equal(formatFolded(back), text);
  }
  const unknown: Folded = { stacks: new Map([['a;b c;d', 3]]), samples: 3, periodNs: null };
  assert.equal(formatFolded(unknown), '# muxbench folded stacks: period_ns=unknown\na;b c;d 3\n');
  assert.deepEqual(parseFolded(formatFolded(unknown)), unknown);

  const plain = parseFolded('main;foo bar 2\r\nmain;foo bar 3\n\nmain 1\n');
  assert.deepEqual(plain, { stacks: new Map([['main;foo bar', 5], ['main', 1]]), samples: 6, periodNs: null });

  assert.throws(() => parseFolded('a;b 1\na;b x\n'), /line 2\b/);
  assert.throws(() => parseFolded('a;b 1\n\nnocount\n'), /line 3\b/);
  assert.throws(() => parseFolded(' 4\n'), /line 1\b/);
  assert.throws(() => parseFolded('a;b -1\n'), /line 1\b/);
});

test('renameThreads merges threads under one name, keeping totals', () => {
  const f: Folded = { stacks: new Map([['muxbench-epoll;main;x', 2], ['muxbench-io_uri;main;x', 3], ['t', 1]]), samples: 6, periodNs: 5 };
  const r = renameThreads(f, () => 'server');
  assert.deepEqual(r, { stacks: new Map([['server;main;x', 5], ['server', 1]]), samples: 6, periodNs: 5 });
});
