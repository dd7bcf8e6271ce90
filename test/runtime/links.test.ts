// LinkList: the list the data plane keeps its connections in instead of a Set (links.ts says
// why). What matters besides order and size: a member that leaves keeps no link to anything,
// and a walk survives members leaving and joining under it, as a Set's iteration does.

import { describe, expect, it } from 'vitest';
import { Link, LinkList } from '../../proxy-core/runtime/links.ts';

class Item extends Link {
  readonly name: string;
  constructor(name: string) {
    super();
    this.name = name;
  }
}

function names(list: LinkList<Item>): string[] {
  const out: string[] = [];
  list.forEach((i) => out.push(i.name));
  return out;
}

function items(...ns: string[]): Item[] {
  return ns.map((n) => new Item(n));
}

describe('LinkList', () => {
  it('keeps members oldest first and counts them', () => {
    const list = new LinkList<Item>();
    const [a, b, c] = items('a', 'b', 'c');
    for (const i of [a!, b!, c!]) list.push(i);
    expect(names(list)).toEqual(['a', 'b', 'c']);
    expect(list.size).toBe(3);
  });

  it('removes from the head, the middle and the tail, and leaves the removed one unlinked', () => {
    const list = new LinkList<Item>();
    const all = items('a', 'b', 'c', 'd', 'e');
    for (const i of all) list.push(i);
    const [a, , c, , e] = all;
    list.remove(c!);
    list.remove(a!);
    list.remove(e!);
    expect(names(list)).toEqual(['b', 'd']);
    expect(list.size).toBe(2);
    for (const gone of [a!, c!, e!]) {
      expect(gone.linkPrev).toBeUndefined();
      expect(gone.linkNext).toBeUndefined();
      expect(gone.linkList).toBeUndefined();
    }
    // Emptied completely, then used again.
    list.remove(all[1]!);
    list.remove(all[3]!);
    expect(list.size).toBe(0);
    expect(names(list)).toEqual([]);
    list.push(c!);
    expect(names(list)).toEqual(['c']);
  });

  it('ignores removing a member of another list or of none, and refuses a second push', () => {
    const one = new LinkList<Item>();
    const two = new LinkList<Item>();
    const [a, b] = items('a', 'b');
    one.push(a!);
    two.push(b!);
    two.remove(a!);
    one.remove(new Item('x'));
    expect(names(one)).toEqual(['a']);
    expect(names(two)).toEqual(['b']);
    expect(() => two.push(a!)).toThrow(/already in a list/);
    expect(one.size).toBe(1);
  });

  it('walks on when the visited member, the next one or others leave during the walk', () => {
    const list = new LinkList<Item>();
    const all = items('a', 'b', 'c', 'd', 'e', 'f');
    for (const i of all) list.push(i);
    const byName = new Map(all.map((i) => [i.name, i]));
    const seen: string[] = [];
    list.forEach((i) => {
      seen.push(i.name);
      if (i.name === 'a') list.remove(i); // itself
      if (i.name === 'b') list.remove(byName.get('c')!); // the next one
      if (i.name === 'd') {
        list.remove(byName.get('b')!); // one already visited
        list.remove(byName.get('f')!); // one further on
      }
    });
    expect(seen).toEqual(['a', 'b', 'd', 'e']);
    expect(names(list)).toEqual(['d', 'e']);
    expect(list.size).toBe(2);
  });

  it('visits members added during the walk, also when it was at the last one', () => {
    const list = new LinkList<Item>();
    for (const i of items('a', 'b')) list.push(i);
    const seen: string[] = [];
    list.forEach((i) => {
      seen.push(i.name);
      if (i.name === 'a') list.push(new Item('c'));
      if (i.name === 'c') list.push(new Item('d'));
    });
    expect(seen).toEqual(['a', 'b', 'c', 'd']);
  });

  it('refuses a walk inside a walk of the same list and is usable after a callback throws', () => {
    const list = new LinkList<Item>();
    for (const i of items('a', 'b')) list.push(i);
    expect(() => list.forEach(() => list.forEach(() => {}))).toThrow(/already walking/);
    expect(() =>
      list.forEach(() => {
        throw new Error('boom');
      }),
    ).toThrow('boom');
    expect(names(list)).toEqual(['a', 'b']);
  });
});
