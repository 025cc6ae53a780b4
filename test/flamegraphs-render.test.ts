/* Rendering a profile: the speedscope file (structure, indices, weights),
 * the static SVG (well-formed XML, tooltips, kernel colours, narrow frames
 * left out, hostile names escaped), the HTML page (d3 and d3-flame-graph
 * inlined, data JSON that parses back, nothing that can close the script
 * block), the written files; and the differential SVG. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, tempRoot } from './harness-fixture.js';
import { foldPerfScript, parseFolded, type Folded } from '../flamegraphs/fold.js';
import { toSpeedscope } from '../flamegraphs/speedscope.js';
import { renderFlameSvg } from '../flamegraphs/svg.js';
import { renderFlameHtml } from '../flamegraphs/page.js';
import { d3Source, flameGraphCss, flameGraphSource } from '../flamegraphs/page-assets.js';
import type { PageNode } from '../flamegraphs/page-shell.js';
import { diffProfiles, renderDiffSvg } from '../flamegraphs/diff.js';
import { writeDiffFiles, writeProfileFiles } from '../flamegraphs/outputs.js';

const HOSTILE = '<script>alert(1)</script>';
const fixture = (name: string) => foldPerfScript(fs.readFileSync(path.join(REPO, 'test', 'fixtures', 'perf', name), 'utf8'));

function folded(entries: [string, number][], periodNs: number | null): Folded {
  return { stacks: new Map(entries), samples: entries.reduce((a, [, n]) => a + n, 0), periodNs };
}

/* The poll profile plus a hostile frame (names come from the profiled program). */
function hostileProfile(): Folded {
  const f = fixture('poll-peer-ping.txt');
  const stacks = new Map(f.stacks);
  stacks.set(`muxbench-poll;main;${HOSTILE};x & y "q" 'a';tcp_sendmsg_[k]`, 20);
  return { stacks, samples: f.samples + 20, periodNs: f.periodNs };
}

/* ---- a strict little XML well-formedness check (no XML parser among the
 * dependencies): tags balanced and nested, attributes quoted, no raw "<"
 * or stray "&" in text. Returns the problems found. ---- */
const ENTITY = /^&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/;
const NAME = '[A-Za-z_][\\w.:-]*';
const ATTRIBUTE = new RegExp(`\\s+(${NAME})\\s*=\\s*("[^"<]*"|'[^'<]*')`, 'y');

function checkText(text: string, at: number, problems: string[]): void {
  for (let i = text.indexOf('&'); i >= 0; i = text.indexOf('&', i + 1)) {
    if (!ENTITY.test(text.slice(i))) problems.push(`stray & at ${at + i}`);
  }
}

function xmlProblems(xml: string): string[] {
  const problems: string[] = [];
  const open: string[] = [];
  let i = 0;
  let roots = 0;
  while (i < xml.length) {
    const lt = xml.indexOf('<', i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (text.includes('>')) problems.push(`raw > in text at ${i}`);
    checkText(text, i, problems);
    if (!open.length && text.trim() && roots) problems.push(`text outside the root element at ${i}`);
    if (lt < 0) break;
    if (xml.startsWith('<?', lt)) {
      const end = xml.indexOf('?>', lt);
      if (end < 0) return [...problems, 'unterminated <?'];
      i = end + 2;
      continue;
    }
    if (xml.startsWith('<!--', lt)) {
      const end = xml.indexOf('-->', lt);
      if (end < 0) return [...problems, 'unterminated comment'];
      i = end + 3;
      continue;
    }
    const close = new RegExp(`</(${NAME})\\s*>`, 'y');
    close.lastIndex = lt;
    const closing = close.exec(xml);
    if (closing) {
      const expected = open.pop();
      if (expected !== closing[1]) problems.push(`</${closing[1]}> at ${lt} closes <${expected ?? 'nothing'}>`);
      i = close.lastIndex;
      continue;
    }
    const start = new RegExp(`<(${NAME})`, 'y');
    start.lastIndex = lt;
    const tag = start.exec(xml);
    if (!tag) return [...problems, `bad markup at ${lt}: ${JSON.stringify(xml.slice(lt, lt + 40))}`];
    let j = start.lastIndex;
    const seen = new Set<string>();
    for (;;) {
      ATTRIBUTE.lastIndex = j;
      const attr = ATTRIBUTE.exec(xml);
      if (!attr) break;
      if (seen.has(attr[1])) problems.push(`attribute ${attr[1]} twice at ${lt}`);
      seen.add(attr[1]);
      checkText(attr[2], j, problems);
      j = ATTRIBUTE.lastIndex;
    }
    const rest = /\s*(\/?)>/y;
    rest.lastIndex = j;
    const end = rest.exec(xml);
    if (!end) return [...problems, `bad tag <${tag[1]}> at ${lt}: ${JSON.stringify(xml.slice(j, j + 40))}`];
    if (!open.length) {
      roots++;
      if (roots > 1) problems.push(`a second root element <${tag[1]}> at ${lt}`);
    }
    if (!end[1]) open.push(tag[1]);
    i = rest.lastIndex;
  }
  if (open.length) problems.push(`unclosed: ${open.join(' > ')}`);
  if (roots !== 1) problems.push(`${roots} root elements`);
  return problems;
}

test('the XML check itself catches what it should', () => {
  assert.deepEqual(xmlProblems('<?xml version="1.0"?>\n<svg a="1"><g><title>a &amp; b</title></g><rect/></svg>\n'), []);
  assert.notDeepEqual(xmlProblems('<svg><g></svg>'), []);
  assert.notDeepEqual(xmlProblems('<svg><title>a & b</title></svg>'), []);
  assert.notDeepEqual(xmlProblems('<svg><title><script>x</script></title>'), []);
  assert.notDeepEqual(xmlProblems('<svg a=1></svg>'), []);
  assert.notDeepEqual(xmlProblems('<svg></svg><svg></svg>'), []);
});

test('speedscope: one sampled profile, frame indices in range, stacks and weights as folded', () => {
  for (const name of ['poll-peer-ping.txt', 'node-peer-ping.txt', 'system-wide.txt']) {
    const f = fixture(name);
    const file = JSON.parse(JSON.stringify(toSpeedscope(f, `${name} profile`)));
    assert.equal(file.$schema, 'https://www.speedscope.app/file-format-schema.json');
    assert.equal(file.exporter, 'muxbench');
    assert.equal(file.activeProfileIndex, 0);
    assert.equal(file.profiles.length, 1);
    const p = file.profiles[0];
    assert.equal(p.type, 'sampled');
    assert.equal(p.name, `${name} profile`);
    assert.equal(p.unit, 'nanoseconds');
    const frames: { name: string }[] = file.shared.frames;
    assert.equal(new Set(frames.map((fr) => fr.name)).size, frames.length, 'each frame once');
    assert.equal(p.samples.length, p.weights.length);
    assert.equal(p.samples.length, f.stacks.size);
    const weightSum = p.weights.reduce((a: number, b: number) => a + b, 0);
    assert.equal(weightSum, f.samples * f.periodNs!);
    assert.equal(p.startValue, 0);
    assert.equal(p.endValue, weightSum);
    p.samples.forEach((stack: number[], i: number) => {
      for (const index of stack) assert.ok(Number.isInteger(index) && index >= 0 && index < frames.length);
      const key = stack.map((index) => frames[index].name).join(';');
      assert.equal(p.weights[i], f.stacks.get(key)! * f.periodNs!, 'root-first indices spell a folded stack');
    });
  }
  const none = toSpeedscope(folded([['a;b', 2], ['a', 3]], null), 'x');
  assert.equal(none.profiles[0].unit, 'none');
  assert.deepEqual(none.profiles[0].weights, [3, 2]);
  assert.deepEqual(none.profiles[0].samples, [[0], [0, 1]]);
});

function svgTitles(svg: string): string[] {
  return [...svg.matchAll(/<g><title>([^<]*)<\/title>/g)].map((m) => m[1]);
}

test('SVG: well-formed, 1200 wide, a tooltip per frame, kernel frames in their own colours, hostile names escaped', () => {
  const f = hostileProfile();
  const svg = renderFlameSvg(f, { title: `poll ${HOSTILE}`, subtitle: 'peer-ping & "tcp"', ops: 1000 });
  assert.deepEqual(xmlProblems(svg), []);
  assert.match(svg, /^<\?xml [^>]*\?>\n<svg xmlns="http:\/\/www.w3.org\/2000\/svg"[^>]* width="1200"/);
  assert.ok(!svg.includes('<script'), 'no script element, and the hostile name only escaped');
  assert.ok(svg.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.ok(svg.includes('x &amp; y &quot;q&quot; &#39;a&#39;'));
  const titles = svgTitles(svg);
  assert.ok(titles.length > 20);
  const root = titles.find((t) => t.startsWith('all\n'))!;
  assert.match(root, new RegExp(`^all\\n${f.samples} samples \\(100\\.00%\\)\\nCPU [\\d.]+ ms\\n[\\d.]+ µs/op$`));
  const hostile = titles.find((t) => t.startsWith('&lt;script&gt;'))!;
  assert.match(hostile, /\n20 samples \(19\.05%\)\n/);
  // Colours: kernel frames bluish, user frames warm.
  const frames = [...svg.matchAll(/<g><title>([^\n<]*)[^<]*<\/title><rect [^>]*fill="rgb\((\d+),(\d+),(\d+)\)"/g)];
  assert.ok(frames.length === titles.length);
  for (const [, name, r, , b] of frames) {
    if (name.endsWith('_[k]')) assert.ok(Number(b) > Number(r), `${name} is drawn in the kernel family`);
    else assert.ok(Number(r) > Number(b), `${name} is drawn in the user family`);
  }
  assert.ok(!renderFlameSvg(f, { title: 't' }).includes('µs/op'), 'no µs/op without ops');
  assert.ok(!renderFlameSvg({ ...f, periodNs: null }, { title: 't', ops: 5 }).includes('µs/op'), 'no µs/op without a period');
});

test('SVG: frames under 0.1% of the total are left out, wider ones drawn; an empty profile still renders', () => {
  const svg = renderFlameSvg(folded([['t;wide', 9990], ['t;narrow', 9], ['t;justenough', 11]], 1), { title: 't' });
  const names = svgTitles(svg).map((t) => t.split('\n')[0]);
  assert.deepEqual(names.sort(), ['all', 'justenough', 't', 'wide']);
  const empty = renderFlameSvg(folded([], null), { title: 'nothing' });
  assert.deepEqual(xmlProblems(empty), []);
  assert.match(empty, /No samples/);
});

function pageData(html: string): { views: { id: string; label: string; tree: PageNode }[] } {
  const m = /<script type="application\/json" id="flame-data">([^<]*)<\/script>/.exec(html);
  assert.ok(m, 'the data block');
  return JSON.parse(m[1]);
}

function walk(node: PageNode, visit: (n: PageNode, depth: number) => void, depth = 0): void {
  visit(node, depth);
  for (const c of node.children ?? []) walk(c, visit, depth + 1);
}

test('HTML: d3 and d3-flame-graph inlined, nothing loaded, data parses back, hostile names inert, titles escaped', () => {
  const f = hostileProfile();
  const html = renderFlameHtml(f, { title: `poll ${HOSTILE}`, subtitle: `sub ${HOSTILE}`, ops: 2000 });
  assert.ok(html.startsWith('<!DOCTYPE html>'));
  assert.ok(html.includes(d3Source()), 'd3 inlined');
  assert.ok(html.includes(flameGraphSource()), 'd3-flame-graph inlined');
  assert.ok(html.includes(flameGraphCss()), 'its CSS inlined');
  assert.match(d3Source(), /d3js\.org|version/);
  assert.match(flameGraphSource(), /flamegraph/);
  assert.doesNotMatch(html, /<script[^>]*\ssrc\s*=/i);
  assert.doesNotMatch(html, /<link\b/i);
  assert.doesNotMatch(html, /<(img|iframe)\b/i);
  // Exactly our four script elements: the data, d3, d3-flame-graph, the page script.
  assert.equal(html.match(/<script\b/gi)!.length, 4);
  assert.equal(html.match(/<\/script/gi)!.length, 4);
  assert.ok(!html.includes(HOSTILE), 'the hostile name never appears as markup');
  assert.ok(html.includes(`<title>poll &lt;script&gt;alert(1)&lt;/script&gt;</title>`));
  assert.ok(html.includes(`<h1>poll &lt;script&gt;alert(1)&lt;/script&gt;</h1>`));
  assert.ok(html.includes(`sub &lt;script&gt;`));

  const data = pageData(html);
  assert.equal(data.views.length, 1);
  const tree = data.views[0].tree;
  assert.equal(tree.name, 'all');
  assert.equal(tree.value, f.samples);
  let leafSum = 0;
  let hostile: PageNode | undefined;
  walk(tree, (n) => {
    const childSum = (n.children ?? []).reduce((a, c) => a + c.value, 0);
    assert.ok(childSum <= n.value, `${n.name}: children never exceed their parent`);
    leafSum += n.value - childSum;
    if (n.name === HOSTILE) hostile = n;
    const [r, , b] = n.color.match(/\d+/g)!.map(Number);
    if (n.name.endsWith('_[k]')) assert.ok(b > r, `${n.name} kernel colour`);
    else assert.ok(r > b, `${n.name} user colour`);
    assert.ok(n.tip.startsWith(`${n.name}\n${n.value} samples (`));
  });
  assert.equal(leafSum, f.samples, 'self values add up to every sample');
  assert.ok(hostile, 'the hostile name survives the JSON round trip unchanged');
  assert.match(hostile!.tip, /µs\/op/);
  const withoutOps = pageData(renderFlameHtml(f, { title: 't' }));
  assert.doesNotMatch(withoutOps.views[0].tree.tip, /µs\/op/);
});

test('writeProfileFiles and writeDiffFiles: the files, atomically, paths relative to the folder', () => {
  const dir = tempRoot();
  const f = fixture('io_uring-peer-ping.txt');
  const files = writeProfileFiles(dir, 'flamegraphs/io_uring-peer-ping-tcp', f, { title: 'io_uring peer-ping tcp', ops: 1234 });
  assert.deepEqual(files, {
    folded: 'flamegraphs/io_uring-peer-ping-tcp.folded',
    html: 'flamegraphs/io_uring-peer-ping-tcp.html',
    svg: 'flamegraphs/io_uring-peer-ping-tcp.svg',
    speedscope: 'flamegraphs/io_uring-peer-ping-tcp.speedscope.json',
  });
  assert.deepEqual(parseFolded(fs.readFileSync(path.join(dir, files.folded), 'utf8')), f);
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, files.speedscope), 'utf8')).exporter, 'muxbench');
  assert.deepEqual(xmlProblems(fs.readFileSync(path.join(dir, files.svg), 'utf8')), []);
  assert.match(fs.readFileSync(path.join(dir, files.html), 'utf8'), /^<!DOCTYPE html>/);

  const d = diffProfiles({ folded: fixture('poll-peer-ping.txt'), ops: 1000, label: 'poll' }, { folded: f, ops: 1234, label: 'io_uring' });
  const diffFiles = writeDiffFiles(path.join(dir, 'compare'), 'flamegraphs/peer-ping-tcp', d, { title: 'io_uring vs poll' });
  assert.deepEqual(diffFiles, { html: 'flamegraphs/peer-ping-tcp.diff.html', svg: 'flamegraphs/peer-ping-tcp.diff.svg', folded: 'flamegraphs/peer-ping-tcp.diff.folded' });
  for (const rel of Object.values(diffFiles)) assert.ok(fs.statSync(path.join(dir, 'compare', rel)).size > 100);
  const leftovers = fs.readdirSync(path.join(dir, 'flamegraphs')).concat(fs.readdirSync(path.join(dir, 'compare', 'flamegraphs'))).filter((n) => n.endsWith('.tmp'));
  assert.deepEqual(leftovers, []);
});

test('differential SVG: well-formed, head’s shape, red where head costs more, blue where less, hostile names escaped', () => {
  const base = folded([['srv;main;poll_wait', 60], ['srv;main;parse', 40], [`srv;main;${HOSTILE}`, 10]], 1000);
  const head = folded([['srv;main;poll_wait', 20], ['srv;main;parse', 40], ['srv;main;new_thing', 30]], 1000);
  const d = diffProfiles({ folded: base, ops: 10, label: 'base <b>' }, { folded: head, ops: 10, label: 'head' });
  const svg = renderDiffSvg(d, { title: `diff ${HOSTILE}` });
  assert.deepEqual(xmlProblems(svg), []);
  assert.ok(!svg.includes('<script') && !svg.includes('<b>'));
  const fill = (name: string) => {
    const m = new RegExp(`<g><title>${name}\\n[^<]*</title><rect [^>]*fill="rgb\\((\\d+),(\\d+),(\\d+)\\)"`).exec(svg);
    return m ? m.slice(1).map(Number) : undefined;
  };
  const [r1, , b1] = fill('new_thing')!;
  assert.ok(r1 > 200 && b1 < 60, 'only in head: full red');
  const [r2, , b2] = fill('poll_wait')!;
  assert.ok(b2 > r2, 'head costs less here: blue');
  const [r3, g3, b3] = fill('parse')!;
  assert.ok(r3 === g3 && g3 === b3, 'same cost: grey');
  assert.equal(fill('&lt;script&gt;alert\\(1\\)&lt;/script&gt;'), undefined, 'a frame only base has is not in head’s shape');
  assert.match(svg, /head costs 9000 ns\/op vs base &lt;b&gt; 11000 ns\/op \(0\.82× base\)/);
  assert.match(svg, /<title>new_thing\nbase &lt;b&gt; \(base\): 0 ns\/op\nhead \(head\): 3000 ns\/op\ndelta: \+3000 ns\/op \(only in head\)<\/title>/);
});
