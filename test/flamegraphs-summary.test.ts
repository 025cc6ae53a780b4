/* The profile summary: kernel and user shares by leaf frame, the
 * multiplexing call each sample sits in (the kernel's entry when the profile
 * has kernel frames, else the library wrapper; innermost wins), the top self frames; on hand-made stacks with known
 * numbers and on the real perf fixtures. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO } from './harness-fixture.js';
import { foldPerfScript, type Folded } from '../flamegraphs/fold.js';
import { MUX_CALLS, muxCallOf, summarizeProfile } from '../flamegraphs/summary.js';

function folded(entries: [string, number][], periodNs: number | null): Folded {
  return { stacks: new Map(entries), samples: entries.reduce((a, [, n]) => a + n, 0), periodNs };
}

const fixture = (name: string) => foldPerfScript(fs.readFileSync(path.join(REPO, 'test', 'fixtures', 'perf', name), 'utf8'));

test('known numbers: kernel share by leaf, one multiplexing call per sample (innermost), top self frames', () => {
  const f = folded(
    [
      ['srv;main;__poll;entry_SYSCALL_64_after_hwframe_[k];do_syscall_64_[k];__x64_sys_poll_[k];do_sys_poll_[k]', 30],
      ['srv;main;epoll_wait', 10],
      ['srv;main;handle;write;entry_SYSCALL_64_after_hwframe_[k];ksys_write_[k]', 20],
      ['srv;main;handle;parse', 25],
      ['srv;main;io_uring_wait_cqe;__sys_io_uring_enter2', 5],
      ['srv;main;x;__arm64_sys_ppoll_[k];do_sys_poll_[k]', 4],
      // A libc ppoll around a kernel epoll_pwait entry: the inner one names the sample.
      ['srv;main;ppoll;__x64_sys_epoll_pwait_[k]', 6],
    ],
    1_000_000,
  );
  const s = summarizeProfile(f);
  assert.deepEqual(s, {
    samples: 100,
    cpu_ms: 100,
    kernel_frames: true,
    kernel_percent: 60,
    user_percent: 40,
    // With kernel frames in the profile, wrappers alone (epoll_wait, __sys_io_uring_enter2) do not count.
    mux_percent: 40,
    mux_calls: [
      { call: 'poll', percent: 30 },
      { call: 'epoll_pwait', percent: 6 },
      { call: 'ppoll', percent: 4 },
    ],
    top_self: [
      { frame: 'do_sys_poll_[k]', percent: 34 },
      { frame: 'parse', percent: 25 },
      { frame: 'ksys_write_[k]', percent: 20 },
      { frame: 'epoll_wait', percent: 10 },
      { frame: '__x64_sys_epoll_pwait_[k]', percent: 6 },
      { frame: '__sys_io_uring_enter2', percent: 5 },
    ],
  });
});

test('a profile without kernel frames: the library wrappers name the call', () => {
  const s = summarizeProfile(folded([['srv;main;__poll', 6], ['srv;main;io_uring_wait_cqe;__sys_io_uring_enter2', 3], ['srv;main;parse', 1]], null));
  assert.equal(s.mux_percent, 90);
  assert.equal(s.kernel_frames, false, 'its 0% kernel means not seen');
  assert.deepEqual(s.mux_calls, [
    { call: 'poll', percent: 60 },
    { call: 'io_uring_enter', percent: 30 },
  ]);
});

test('top_self keeps the ten largest (ties by name); percentages round to 0.01; unknown period gives null CPU', () => {
  const entries: [string, number][] = [];
  for (let i = 0; i < 12; i++) entries.push([`t;f${String(i).padStart(2, '0')}`, i < 2 ? 1 : 2]);
  const s = summarizeProfile(folded(entries, null));
  assert.equal(s.samples, 22);
  assert.equal(s.cpu_ms, null);
  assert.equal(s.top_self.length, 10);
  assert.deepEqual(s.top_self[0], { frame: 'f02', percent: 9.09 });
  assert.deepEqual(s.top_self.map((t) => t.frame).slice(-1), ['f11']);
  assert.equal(s.kernel_percent, 0);
  assert.equal(s.user_percent, 100);
  assert.deepEqual(s.mux_calls, []);
  assert.equal(summarizeProfile(folded([], 5)).user_percent, 0);
});

test('which frames are multiplexing calls', () => {
  assert.deepEqual([...MUX_CALLS], ['select', 'pselect6', 'poll', 'ppoll', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2', 'io_uring_enter']);
  const cases: [string, string | undefined][] = [
    ['__x64_sys_epoll_wait_[k]', 'epoll_wait'],
    ['__arm64_sys_epoll_pwait_[k]', 'epoll_pwait'],
    ['__ia32_sys_select_[k]', 'select'],
    ['__se_sys_pselect6_[k]', 'pselect6'],
    ['__do_sys_io_uring_enter_[k]', 'io_uring_enter'],
    ['__x64_sys_epoll_pwait2_[k]', 'epoll_pwait2'],
    ['__x64_sys_epoll_ctl_[k]', undefined],
    ['do_sys_poll_[k]', undefined],
    ['do_epoll_wait_[k]', undefined],
    ['epoll_wait', 'epoll_wait'],
    ['__GI_epoll_wait', 'epoll_wait'],
    ['epoll_pwait', 'epoll_pwait'],
    ['poll', 'poll'],
    ['__poll', 'poll'],
    ['__GI___poll', 'poll'],
    ['ppoll', 'ppoll'],
    ['select', 'select'],
    ['__select', 'select'],
    ['pselect', 'pselect6'],
    ['io_uring_enter', 'io_uring_enter'],
    ['__sys_io_uring_enter', 'io_uring_enter'],
    ['__sys_io_uring_enter2', 'io_uring_enter'],
    ['uv__io_poll', undefined],
    ['epoll_ctl', undefined],
    ['poll_[k]', undefined],
    ['JS:*poll file:///x.js:1:1', undefined],
  ];
  for (const [frame, call] of cases) assert.equal(muxCallOf(frame, false), call, `${frame} (profile without kernel frames)`);
  // With kernel frames recorded, only the kernel's entry counts.
  for (const [frame, call] of cases) assert.equal(muxCallOf(frame, true), frame.endsWith('_[k]') ? call : undefined, `${frame} (profile with kernel frames)`);
});

test('real profiles: poll waits in poll, io_uring in io_uring_enter, libevent in epoll_wait', () => {
  const poll = summarizeProfile(fixture('poll-peer-ping.txt'));
  assert.equal(poll.samples, 85);
  assert.equal(poll.cpu_ms, (85 * 1001001) / 1e6);
  assert.equal(poll.mux_calls[0].call, 'poll');
  assert.ok(poll.mux_percent > 0 && poll.mux_percent < 100);
  assert.ok(poll.kernel_percent > 50, 'a ping server spends most of its time in the kernel');
  assert.equal(poll.kernel_percent + poll.user_percent, 100);

  const uring = summarizeProfile(fixture('io_uring-peer-ping.txt'));
  assert.deepEqual(uring.mux_calls.map((m) => m.call), ['io_uring_enter']);
  assert.ok(uring.mux_percent > 50, 'io_uring does its sends and receives inside io_uring_enter');

  const libevent = summarizeProfile(fixture('libevent-peer-ping.txt'));
  assert.deepEqual(libevent.mux_calls.map((m) => m.call), ['epoll_wait']);
  for (const s of [poll, uring, libevent]) {
    assert.ok(s.top_self.length === 10);
    const shares = s.top_self.map((t) => t.percent);
    assert.deepEqual(shares, [...shares].sort((a, b) => b - a));
    assert.equal(s.mux_percent, Math.round(100 * s.mux_calls.reduce((a, m) => a + m.percent, 0)) / 100);
  }
});
