/* The load generator with --threads: the connections are dealt over 3
 * threads (connection g on thread g % 3), each with its own epoll loop, and
 * the one result merges them. Against the epoll server: every driver kind
 * that matters (round trips, keep-alive HTTP, open-loop rate, streamed
 * blocks) does its exact work, and the result says it ran on 3 threads.
 * Against a recording JSON-RPC server in this process: the threads hand out
 * JSON-RPC ids that are unique over the run (shard k: k+1, k+1+N, ...). Small
 * work; no timing assertions beyond the --rate schedule's lower bound. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { REPO } from './harness-fixture.js';
import { startProcess, endAllProcesses } from '../harness/process.js';
import { LOADGEN_COMMAND } from '../harness/paths.js';
import type { ChannelEvent } from '../harness/jsonlines.js';

const THREADS = 3;

/* Runs the load generator against `address` through the control channel:
 * ready, go, result, exit. Returns the ready and result events and the exit status. */
async function drive(address: string, args: string[]): Promise<{ ready: ChannelEvent; result: ChannelEvent; code: number | null }> {
  const loadgen = startProcess({
    label: 'load generator',
    argv: [LOADGEN_COMMAND, '--connect', address, '--threads', String(THREADS), ...args],
    cwd: REPO,
  });
  const ready = await loadgen.waitFor('ready', 15_000);
  const result = loadgen.waitFor('result', 30_000);
  loadgen.send({ cmd: 'go' });
  const r = await result;
  const exit = await loadgen.end();
  return { ready, result: r, code: exit.code };
}

async function epollServer(protocol: 'peer' | 'http'): Promise<string> {
  const server = startProcess({ label: 'server', argv: ['build/muxbench-epoll', '--protocol', protocol, '--listen', 'tcp:127.0.0.1:0'], cwd: REPO });
  return String((await server.waitFor('listening', 5000)).address);
}

/* Part k of `total` split over `parts`, the remainder to the first ones (loadgen.h lg_share). */
const share = (total: number, parts: number, k: number) => Math.floor(total / parts) + (k < total % parts ? 1 : 0);

/* The ids the threads hand out: thread k sends its connections' requests
 * (connections g < active with g % threads == k) with ids k+1, k+1+threads, ... */
function expectedIds(requests: number, active: number, threads: number): number[] {
  const ids: number[] = [];
  for (let k = 0; k < threads; k++) {
    let count = 0;
    for (let g = k; g < active; g += threads) count += share(requests, active, g);
    for (let i = 0; i < count; i++) ids.push(k + 1 + i * threads);
  }
  return ids.sort((a, b) => a - b);
}

/* The epoll server's getblockcount reply body: {"result":870000,"error":null,"id":N} and a newline. */
const epollReplyBytes = (id: number) => '{"result":870000,"error":null,"id":'.length + String(id).length + 2;

const num = (e: ChannelEvent, key: string) => e[key] as number;
const cpuOf = (e: ChannelEvent) => e.cpu as Record<string, number>;
const latencyCount = (e: ChannelEvent) => (e.latency as { count: number }).count;

function assertDone(label: string, r: { ready: ChannelEvent; result: ChannelEvent; code: number | null }, ops: number): void {
  assert.deepEqual(r.result.errors, [], label);
  assert.equal(r.result.ok, true, label);
  assert.equal(r.code, 0, `${label}: exit status`);
  assert.equal(num(r.result, 'ops'), ops, `${label}: ops`);
  assert.equal(latencyCount(r.result), ops, `${label}: latency samples`);
  assert.equal(r.ready.threads, THREADS, `${label}: ready.threads`);
  assert.equal(cpuOf(r.result).threads, THREADS, `${label}: cpu.threads`);
  assert.ok(cpuOf(r.result).cpus >= 1, `${label}: cpu.cpus`);
}

test('--threads 3, peer: ping round trips and streamed blocks, exact work', { timeout: 60_000 }, async () => {
  try {
    const address = await epollServer('peer');
    const ping = await drive(address, ['--driver', 'peer-ping', '--connections', '30', '--requests', '3001', '--depth', '2', '--message-size', '64']);
    assertDone('peer-ping', ping, 3001);
    assert.equal(num(ping.result, 'payload_bytes'), 3001 * 64);
    // Each ping and each pong: a 24-byte header and the 64-byte payload.
    assert.equal(num(ping.result, 'bytes_sent'), 3001 * 88);
    assert.equal(num(ping.result, 'bytes_received'), 3001 * 88);

    // 4 MiB + 1 byte in 64 KiB pieces: 65 pieces, the short last one on the
    // last connection that has any (connection 4, on thread 4 % 3 = 1).
    const bytes = 4 * 1024 * 1024 + 1;
    const block = await drive(address, ['--driver', 'peer-block', '--connections', '10', '--active', '5', '--bytes', String(bytes), '--chunk', '65536']);
    assertDone('peer-block', block, 65);
    assert.equal(num(block.result, 'payload_bytes'), bytes);
    assert.equal(num(block.result, 'verified_pieces'), 65);
  } finally {
    await endAllProcesses();
  }
});

test('--threads 3, http-rpc: keep-alive and open-loop rate, exact work and ids', { timeout: 60_000 }, async () => {
  try {
    const address = await epollServer('http');
    const rpc = await drive(address, ['--driver', 'http-rpc', '--connections', '30', '--requests', '3000', '--depth', '4']);
    assertDone('http-rpc', rpc, 3000);
    // The reply carries the request's id: the payload sums the ids' digits,
    // so it is exact only if the threads used exactly the expected ids.
    const ids = expectedIds(3000, 30, THREADS);
    assert.equal(num(rpc.result, 'payload_bytes'), ids.reduce((sum, id) => sum + epollReplyBytes(id), 0));

    // 1500 requests at 3000/s on 10 of 20 connections: one schedule over the threads.
    const rated = await drive(address, ['--driver', 'http-rpc', '--connections', '20', '--active', '10', '--requests', '1500', '--rate', '3000']);
    assertDone('http-rpc --rate', rated, 1500);
    const rate = rated.result.rate as Record<string, number>;
    assert.equal(rate.target_per_s, 3000);
    // The last request is due at 1499/3000 s after go: no thread runs ahead of the schedule.
    assert.ok(num(rated.result, 'elapsed_ns') >= (1499 / 3000) * 1e9, `finished in ${num(rated.result, 'elapsed_ns')} ns, ahead of the schedule`);
    assert.equal(num(rated.result, 'payload_bytes'), expectedIds(1500, 10, THREADS).reduce((sum, id) => sum + epollReplyBytes(id), 0));
  } finally {
    await endAllProcesses();
  }
});

test('--threads 3: JSON-RPC ids are unique over the run', { timeout: 60_000 }, async () => {
  // A server in this process that answers getblockcount and records every id it is sent.
  const seen: number[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (body += d));
    req.on('end', () => {
      const id = (JSON.parse(body) as { id: number }).id;
      seen.push(id);
      const reply = JSON.stringify({ result: 870000, error: null, id });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(reply) });
      res.end(reply);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const port = (server.address() as AddressInfo).port;
    const r = await drive(`tcp:127.0.0.1:${port}`, ['--driver', 'http-rpc', '--connections', '12', '--requests', '1200', '--depth', '2']);
    assertDone('http-rpc to the recording server', r, 1200);
    assert.equal(seen.length, 1200);
    assert.equal(new Set(seen).size, 1200, 'an id was sent twice');
    assert.deepEqual([...seen].sort((a, b) => a - b), expectedIds(1200, 12, THREADS));
  } finally {
    await endAllProcesses();
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
