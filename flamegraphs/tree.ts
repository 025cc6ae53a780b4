/* Folded stacks as a call tree, the shape every renderer draws. A node
 * carries one inclusive value per side: one side for a profile, two (base,
 * head) for a differential one, so the SVG and the page share the builder. */

export interface FlameNode {
  name: string;
  /* Inclusive value (the node and everything it called) per side. */
  values: number[];
  children: Map<string, FlameNode>;
}

/* The synthetic root, as flamegraph.pl names it; threads are its children. */
export const ROOT_NAME = 'all';

function newNode(name: string, sides: number): FlameNode {
  return { name, values: new Array<number>(sides).fill(0), children: new Map() };
}

/* `stacks`: root-first frames joined by ';' with one value per side. */
export function buildTree(stacks: Iterable<[string, number[]]>, sides: number): FlameNode {
  const root = newNode(ROOT_NAME, sides);
  for (const [stack, values] of stacks) {
    const add = (node: FlameNode) => values.forEach((v, i) => (node.values[i] += v));
    add(root);
    let node = root;
    for (const frame of stack.split(';')) {
      let child = node.children.get(frame);
      if (!child) {
        child = newNode(frame, sides);
        node.children.set(frame, child);
      }
      add(child);
      node = child;
    }
  }
  return root;
}

export function singleSideTree(stacks: Map<string, number>): FlameNode {
  return buildTree([...stacks].map(([stack, count]): [string, number[]] => [stack, [count]]), 1);
}

/* Children in name order, as flamegraph.pl draws them: the same profile
 * always looks the same, and the same frame sits in the same place in two
 * profiles being compared by eye. */
export function sortedChildren(node: FlameNode): FlameNode[] {
  return [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/* flamegraph.pl's suffix for kernel frames (set by foldPerfScript). */
export function isKernelFrame(name: string): boolean {
  return name.endsWith('_[k]');
}
