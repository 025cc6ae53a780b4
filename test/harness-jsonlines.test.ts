import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LineSplitter, parseEventLine, EventQueue, ChannelError } from '../harness/jsonlines.js';

test('LineSplitter joins lines split across chunks, handles CRLF and blank lines', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push('{"event":"a"}\n{"ev'), ['{"event":"a"}']);
  assert.deepEqual(s.push('ent":"b"}\r\n\n  \n{"event":'), ['{"event":"b"}']);
  assert.deepEqual(s.push(Buffer.from('"c"}')), []);
  assert.deepEqual(s.end(), ['{"event":"c"}']);
  assert.deepEqual(s.end(), []);
});

test('LineSplitter keeps a UTF-8 character split across Buffers intact', () => {
  const s = new LineSplitter();
  const bytes = Buffer.from('{"event":"µs"}\n');
  const cut = bytes.indexOf(0xc2) + 1; // inside the two-byte "µ"
  assert.deepEqual(s.push(bytes.subarray(0, cut)), []);
  assert.deepEqual(s.push(bytes.subarray(cut)), ['{"event":"µs"}']);
});

test('parseEventLine accepts objects with a string event only', () => {
  assert.deepEqual(parseEventLine('{"event":"ready","connections":3}'), { ok: true, value: { event: 'ready', connections: 3 } });
  assert.equal(parseEventLine('not json').ok, false);
  assert.equal(parseEventLine('[1,2]').ok, false);
  assert.equal(parseEventLine('{"cmd":"go"}').ok, false);
  assert.equal(parseEventLine('{"event":5}').ok, false);
});

test('EventQueue: waits resolve with earlier or later events, in order, by name', async () => {
  const q = new EventQueue('proc');
  q.pushLine('{"event":"snapshot","n":1}');
  q.pushLine('garbage line');
  const ready = q.waitFor('ready', 1000);
  q.pushLine('{"event":"ready","n":2}');
  assert.equal((await ready).n, 2);
  assert.equal((await q.waitFor('snapshot', 1000)).n, 1);
  q.pushLine('{"event":"snapshot","n":3}');
  q.pushLine('{"event":"snapshot","n":4}');
  assert.equal((await q.waitFor('snapshot', 1000)).n, 3);
  assert.equal((await q.waitFor('snapshot', 1000)).n, 4);
  assert.equal(q.garbage.length, 1);
});

test('EventQueue: a timeout says what was awaited, with the context and stray lines', async () => {
  const q = new EventQueue('epoll server', () => '\nlast stderr lines:\n  boom');
  q.pushLine('Listening on 1234');
  await assert.rejects(q.waitFor('listening', 30), (e: Error) => {
    assert.ok(e instanceof ChannelError && e.kind === 'timeout');
    assert.match(e.message, /^epoll server: no "listening" event within 30 ms/);
    assert.match(e.message, /Listening on 1234/);
    assert.match(e.message, /boom/);
    return true;
  });
});

test('EventQueue: an error event fails current and later waits; close fails them too', async () => {
  const q = new EventQueue('srv');
  const w = q.waitFor('listening', 1000);
  q.pushLine('{"event":"error","message":"address in use"}');
  await assert.rejects(w, (e: Error) => e instanceof ChannelError && e.kind === 'reported' && /srv reported an error: address in use/.test(e.message));
  await assert.rejects(q.waitFor('snapshot', 1000), /address in use/);

  const q2 = new EventQueue('lg');
  const w2 = q2.waitFor('result', 1000);
  q2.close('exited with status 1');
  await assert.rejects(w2, (e: Error) => e instanceof ChannelError && e.kind === 'closed' && /lg exited with status 1/.test(e.message));
  // An event that arrived before the close is still delivered.
  const q3 = new EventQueue('x');
  q3.pushLine('{"event":"result"}');
  q3.close('exited');
  assert.equal((await q3.waitFor('result', 10)).event, 'result');
});
