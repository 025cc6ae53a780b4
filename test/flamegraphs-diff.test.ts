/* Differential profiles: costs per operation (exact on hand-made input),
 * stacks on one side only, bad operation counts, the difffolded text, and
 * the two-view page (head coloured by change, base coloured by change). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Folded } from '../flamegraphs/fold.js';
import { diffProfiles, formatDiffFolded, renderDiffHtml, selfChanges, type DiffResult } from '../flamegraphs/diff.js';
import { d3Source, flameGraphSource } from '../flamegraphs/page-assets.js';
import type { PageNode } from '../flamegraphs/page-shell.js';

const HOSTILE = '<script>alert(1)</script>';

function folded(entries: [string, number][], periodNs: number | null): Folded {
  return { stacks: new Map(entries), samples: entries.reduce((a, [, n]) => a + n, 0), periodNs };
}

function example(): DiffResult {
  // base: 100 samples over 10 ops; head: 50 samples over 10 ops; 1 ms per sample.
  const base = folded([['srv;main;wait', 60], ['srv;main;parse', 30], ['srv;main;old', 10]], 1_000_000);
  const head = folded([['srv;main;wait', 20], ['srv;main;parse', 25], ['srv;main;new', 5]], 1_000_000);
  return diffProfiles({ folded: base, ops: 10, label: 'base' }, { folded: head, ops: 10, label: 'head' });
}

test('costs per operation in ns when both periods are known, exactly', () => {
  const d = example();
  assert.equal(d.unit, 'ns/op');
  assert.equal(d.totalBase, 10_000_000);
  assert.equal(d.totalHead, 5_000_000);
  assert.deepEqual(
    [...d.stacks].sort(([a], [b]) => a.localeCompare(b)),
    [
      ['srv;main;new', { base: 0, head: 500_000 }],
      ['srv;main;old', { base: 1_000_000, head: 0 }],
      ['srv;main;parse', { base: 3_000_000, head: 2_500_000 }],
      ['srv;main;wait', { base: 6_000_000, head: 2_000_000 }],
    ],
  );
});

test('self-time changes by function: one function on different call paths adds up, largest change first', () => {
  // tcp_sendmsg is reached through write on one side and io_uring_enter on the other.
  const base = folded([['srv;main;write;tcp_sendmsg', 40], ['srv;main;poll', 50], ['srv;main;parse', 10]], 1000);
  const head = folded([['srv;main;io_uring_enter;tcp_sendmsg', 30], ['srv;main;io_uring_enter;tcp_sendmsg;memcpy', 5], ['srv;main;parse', 10]], 1000);
  const d = diffProfiles({ folded: base, ops: 10, label: 'poll' }, { folded: head, ops: 5, label: 'io_uring' });
  const changes = selfChanges(d);
  // Sampling noise: 2·√(count) samples, each worth period/ops (100 ns/op for poll, 200 for io_uring).
  assert.equal(changes[0].noise, 2 * Math.sqrt(50 * 100 * 100), 'poll: 50 samples × 100 ns/op each');
  assert.equal(changes[1].noise, 2 * Math.sqrt(40 * 100 * 100 + 30 * 200 * 200), 'tcp_sendmsg: both sides');
  assert.deepEqual(changes.map(({ noise: _, ...c }) => c), [
    { frame: 'poll', base: 5000, head: 0 },
    { frame: 'tcp_sendmsg', base: 4000, head: 6000 },
    // equal changes: by name
    { frame: 'memcpy', base: 0, head: 1000 },
    { frame: 'parse', base: 1000, head: 2000 },
  ]);
  assert.equal(selfChanges(d, 2).length, 2);
  assert.match(renderDiffHtml(d, { title: 't' }), /<table id="changes">[\s\S]*<td>poll<\/td><td class="num">5000<\/td><td class="num">0<\/td><td class="num">−5000<\/td><td class="num">±1414<\/td>/);
  assert.match(renderDiffHtml(d, { title: 't' }), /<td>parse<\/td>[^\n]*\(within noise\)/);
});

test('each side uses its own operations and period; samples per op when a period is unknown', () => {
  const base = folded([['t;a', 100]], 2000);
  const head = folded([['t;a', 100]], 1000);
  const d = diffProfiles({ folded: base, ops: 50, label: 'b' }, { folded: head, ops: 200, label: 'h' });
  assert.deepEqual(d.stacks.get('t;a'), { base: 4000, head: 500 });
  const s = diffProfiles({ folded: { ...base, periodNs: null }, ops: 50, label: 'b' }, { folded: head, ops: 200, label: 'h' });
  assert.equal(s.unit, 'samples/op');
  assert.deepEqual(s.stacks.get('t;a'), { base: 2, head: 0.5 });
  assert.equal(s.totalBase, 2);
  assert.equal(s.totalHead, 0.5);
});

test('operations must be positive', () => {
  const f = folded([['t;a', 1]], 1);
  for (const ops of [0, -5, Number.NaN, Number.POSITIVE_INFINITY]) {
    assert.throws(() => diffProfiles({ folded: f, ops, label: 'b' }, { folded: f, ops: 1, label: 'h' }), /b has .* operations/);
    assert.throws(() => diffProfiles({ folded: f, ops: 1, label: 'b' }, { folded: f, ops, label: 'h' }), /h has .* operations/);
  }
});

test('difffolded: a comment naming unit and labels, then "stack base head" per op, sorted', () => {
  const text = formatDiffFolded(example());
  assert.equal(
    text,
    [
      '# muxbench diff folded: unit=ns/op base=base (10 ops) head=head (10 ops)',
      '# columns: stack, base cost per op, head cost per op',
      'srv;main;new 0.000 500000.000',
      'srv;main;old 1000000.000 0.000',
      'srv;main;parse 3000000.000 2500000.000',
      'srv;main;wait 6000000.000 2000000.000',
      '',
    ].join('\n'),
  );
  // Small samples/op keep their digits; labels stay on their comment line.
  const tiny = diffProfiles({ folded: folded([['t;a b', 1]], null), ops: 200_000, label: 'x\ny' }, { folded: folded([['t;a b', 3]], null), ops: 200_000, label: 'z' });
  const lines = formatDiffFolded(tiny).split('\n');
  assert.equal(lines[0], '# muxbench diff folded: unit=samples/op base=x y (200000 ops) head=z (200000 ops)');
  assert.equal(lines[2], 't;a b 0.00000500 0.00001500');
  // Read back from the right as flamegraph.pl does: the two numbers after the last two spaces.
  const m = /^(.*) (\S+) (\S+)$/.exec(lines[2])!;
  assert.deepEqual([m[1], Number(m[2]), Number(m[3])], ['t;a b', 0.000005, 0.000015]);
});

function pageData(html: string): { views: { id: string; label: string; tree: PageNode }[] } {
  return JSON.parse(/<script type="application\/json" id="flame-data">([^<]*)<\/script>/.exec(html)![1]);
}

function find(node: PageNode, name: string): PageNode | undefined {
  if (node.name === name) return node;
  for (const c of node.children ?? []) {
    const hit = find(c, name);
    if (hit) return hit;
  }
  return undefined;
}

test('diff page: two views (head shape and base shape), coloured by change, headline, legend, inlined libraries, hostile labels inert', () => {
  const base = folded([['srv;main;wait', 60], ['srv;main;parse', 30], [`srv;main;${HOSTILE}`, 10]], 1_000_000);
  const head = folded([['srv;main;wait', 20], ['srv;main;parse', 25], ['srv;main;new', 5]], 1_000_000);
  const d = diffProfiles({ folded: base, ops: 10, label: `epoll ${HOSTILE}` }, { folded: head, ops: 10, label: 'io_uring' });
  const html = renderDiffHtml(d, { title: `io_uring vs epoll ${HOSTILE}`, subtitle: 'peer-ping tcp' });
  assert.ok(!html.includes(HOSTILE));
  assert.ok(html.includes(d3Source()) && html.includes(flameGraphSource()));
  assert.doesNotMatch(html, /<script[^>]*\ssrc\s*=/i);
  assert.equal(html.match(/<script\b/gi)!.length, 4);
  assert.match(html, /<p class="headline">io_uring costs 5000000 ns\/op vs epoll &lt;script&gt;alert\(1\)&lt;\/script&gt; 10000000 ns\/op \(0\.50× base\)<\/p>/);
  assert.match(html, /<button type="button" data-view="head" aria-pressed="true">io_uring’s profile, coloured by change vs epoll &lt;script&gt;/);
  assert.match(html, /<button type="button" data-view="base" aria-pressed="false">/);
  assert.match(html, /costs more per op here/);
  assert.match(html, /costs less per op here/);

  const { views } = pageData(html);
  assert.deepEqual(views.map((v) => v.id), ['head', 'base', 'headfn', 'basefn']);
  const [headView, baseView, headFn] = views;
  // By function: the running function at the bottom (under the root), its callers above.
  assert.deepEqual((headFn.tree.children ?? []).map((c) => c.name).sort(), ['new', 'parse', 'wait']);
  assert.equal(find(headFn.tree, 'parse')!.children![0].name, 'main');
  assert.equal(headFn.tree.value, 5_000_000);
  assert.equal(headView.tree.value, 5_000_000);
  assert.equal(baseView.tree.value, 10_000_000);
  // Head's shape holds what head has; base's shape what base has.
  assert.ok(find(headView.tree, 'new') && !find(headView.tree, HOSTILE));
  assert.ok(find(baseView.tree, HOSTILE) && !find(baseView.tree, 'new'));
  const rgb = (n: PageNode) => n.color.match(/\d+/g)!.map(Number);
  const [r, , b] = rgb(find(headView.tree, 'new')!);
  assert.ok(r > 200 && b < 60, 'new in head: red');
  const [r2, , b2] = rgb(find(baseView.tree, HOSTILE)!);
  assert.ok(b2 > 150 && r2 < 60, 'gone in head: blue in base’s shape');
  const wait = find(headView.tree, 'wait')!;
  assert.ok(rgb(wait)[2] > rgb(wait)[0], 'cheaper in head: blue');
  assert.equal(wait.tip, `wait\nepoll ${HOSTILE} (base): 6000000 ns/op\nio_uring (head): 2000000 ns/op\ndelta: -4000000 ns/op (-66.7%)`);
  assert.equal(find(baseView.tree, HOSTILE)!.tip.split('\n')[3], `delta: -1000000 ns/op (only in epoll ${HOSTILE})`);
});
