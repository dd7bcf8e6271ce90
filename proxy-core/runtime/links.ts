// Lists of the objects that come and go with connections (the accepted sockets of a data
// plane, the connections with deadlines), linked through the objects themselves instead of
// kept in a Set or Map.
//
// Why not a Set: V8 allocates a Set's or Map's rehashed table in the generation of the table
// it replaces, and the table it replaces still holds the entries it had. A Set that lives as
// long as the process has its table in the old generation (the start-up compaction puts it
// there), so every rehash under churn leaves a dead old-generation table pointing at the
// connections that were in it, and the scavenger takes those pointers as roots until the
// next full GC. Every connection that passed through such a Set was promoted with all it
// referenced: 1.4 KB per connection under new-connection load, and a full GC every ~1.5 s
// with a 3-4 ms pause, the largest part of the p99 (a plain Node server promotes 0.4 %).
// Members here are unlinked both ways when they leave, so nothing dead keeps anything young.

/** Something that can be in one LinkList at a time: extend it. */
export class Link {
  linkPrev: Link | undefined = undefined;
  linkNext: Link | undefined = undefined;
  /** The list it is in (undefined when in none). */
  linkList: LinkList<Link> | undefined = undefined;
}

/** A doubly linked list of Links, oldest first; add and remove in constant time. */
export class LinkList<N extends Link> {
  #head: Link | undefined = undefined;
  #tail: Link | undefined = undefined;
  /** The member forEach() visits next: a removal during the walk moves it on. */
  #cursor: Link | undefined = undefined;
  #walking = false;
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** Append `n`, which must be in no list. */
  push(n: N): void {
    if (n.linkList !== undefined) throw new Error('LinkList.push: already in a list');
    n.linkList = this as unknown as LinkList<Link>;
    n.linkPrev = this.#tail;
    if (this.#tail !== undefined) this.#tail.linkNext = n;
    else this.#head = n;
    this.#tail = n;
    this.#size++;
    // Added during a walk that is at the last member: it comes next.
    if (this.#walking && this.#cursor === undefined) this.#cursor = n;
  }

  /** Take `n` out (nothing when it is not in this list). */
  remove(n: N): void {
    if (n.linkList !== (this as unknown as LinkList<Link>)) return;
    const prev = n.linkPrev;
    const next = n.linkNext;
    if (this.#cursor === n) this.#cursor = next;
    if (prev !== undefined) prev.linkNext = next;
    else this.#head = next;
    if (next !== undefined) next.linkPrev = prev;
    else this.#tail = prev;
    n.linkPrev = undefined;
    n.linkNext = undefined;
    n.linkList = undefined;
    this.#size--;
  }

  /**
   * Call `fn` on every member, oldest first. `fn` may remove any member (itself or another)
   * and add new ones, which are visited too, as with a Set. Not reentrant.
   */
  forEach(fn: (n: N) => void): void {
    if (this.#walking) throw new Error('LinkList.forEach: already walking this list');
    this.#walking = true;
    let n = this.#head;
    try {
      while (n !== undefined) {
        this.#cursor = n.linkNext;
        fn(n as N);
        n = this.#cursor;
      }
    } finally {
      this.#cursor = undefined;
      this.#walking = false;
    }
  }
}
