// `balance source`: the client address, in binary (4 bytes for IPv4, 16 for IPv6), goes
// through the backend's `hash-type` function and the result designates a member, either
// map-based (HAProxy's default) or on a consistent-hash ring. The answer is a pure function
// of the address and of the shared member states, so every worker thread (each compiling
// its own plan) sends a client to the same member.
//
// An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4 address, so a dual-stack
// listener treats a client the same either way.
//
// HAProxy quirk not copied: its own `balance source` ignores the hash function (backend.c
// XOR-folds the address in 32-bit words, then applies avalanche if asked; a FIXME there says
// so). Here the function applies as configuration.txt describes. (HAProxy 2.6 has no
// `none` function; the parser refuses it as HAProxy does.)
//
// When the member a client hashes to is at its maxconn, pick() answers undefined and the
// request queues for it (HAProxy queues on that server) rather than breaking stickiness;
// bound() names that member, whose `maxqueue` bounds the wait (balance/session.ts).

import type { BackendPlan, HashFunction, HashPlan, MemberPlan } from '../compile/plan.ts';
import type { Counters } from '../runtime/counters.ts';
import type { Balancer, PickContext } from './balancer.ts';
import { hasRoom, isUsable, MemberGroups, weightOf } from './usable.ts';

// ---------------------------------------------------------------------------- the key

const DOT = 0x2e;
const COLON = 0x3a;

/**
 * Write the binary form of a textual address into `out` (16 bytes at least) and answer its
 * length: 4 for IPv4 and IPv4-mapped IPv6, 16 for other IPv6, 0 when `src` is not an
 * address (such clients all share the empty key). A zone (`fe80::1%eth0`) is left out.
 * Allocates nothing: it runs on every pick.
 */
export function addressBytes(src: string, out: Uint8Array): number {
  let end = src.indexOf('%');
  if (end < 0) end = src.length;
  if (src.indexOf(':') < 0) return parseIPv4(src, 0, end, out, 0) ? 4 : 0;
  if (!parseIPv6(src, end, out)) return 0;
  for (let i = 0; i < 10; i++) if (out[i] !== 0) return 16;
  if (out[10] !== 0xff || out[11] !== 0xff) return 16;
  out.copyWithin(0, 12, 16);
  return 4;
}

/** Dotted quad in s[start, end) into out[at, at + 4). */
function parseIPv4(s: string, start: number, end: number, out: Uint8Array, at: number): boolean {
  let parts = 0;
  let i = start;
  while (parts < 4) {
    let v = 0;
    let digits = 0;
    for (; i < end; i++) {
      const d = s.charCodeAt(i) - 0x30;
      if (d < 0 || d > 9) break;
      v = v * 10 + d;
      if (++digits > 3) return false;
    }
    if (digits === 0 || v > 255) return false;
    out[at + parts++] = v;
    if (parts < 4) {
      if (s.charCodeAt(i) !== DOT) return false;
      i++;
    }
  }
  return i === end;
}

function hexDigit(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}

/** RFC 4291 text (groups, one `::`, an optional dotted tail) in s[0, end) into out[0, 16). */
function parseIPv6(s: string, end: number, out: Uint8Array): boolean {
  let n = 0; // bytes written
  let gap = -1; // where `::` stands, in bytes
  let i = 0;
  if (s.charCodeAt(0) === COLON) {
    if (s.charCodeAt(1) !== COLON) return false;
    gap = 0;
    i = 2;
  }
  while (i < end) {
    if (n === 16) return false;
    let v = 0;
    let j = i;
    for (; j < end; j++) {
      const d = hexDigit(s.charCodeAt(j));
      if (d < 0) break;
      v = v * 16 + d;
    }
    if (s.charCodeAt(j) === DOT) {
      // An IPv4 tail: the last 4 bytes, nothing after it.
      if (n > 12 || !parseIPv4(s, i, end, out, n)) return false;
      n += 4;
      break;
    }
    if (j === i || j - i > 4) return false;
    out[n++] = v >>> 8;
    out[n++] = v & 0xff;
    if (j === end) break;
    if (s.charCodeAt(j) !== COLON) return false;
    i = j + 1;
    if (s.charCodeAt(i) === COLON) {
      if (gap >= 0) return false;
      gap = n;
      i++;
    } else if (i === end) {
      return false;
    }
  }
  if (gap < 0) return n === 16;
  if (n === 16) return false; // `::` stands for one group at least
  const tail = n - gap;
  out.copyWithin(16 - tail, gap, n);
  out.fill(0, gap, 16 - tail);
  return true;
}

// ---------------------------------------------------------------------- hash functions
// Each takes the first `len` bytes of `key` and answers an unsigned 32-bit integer.

/** sdbm (the sdbm database library's hash): h = c + h * 65599, from 0. HAProxy's default. */
export function sdbm(key: Uint8Array, len = key.length): number {
  let h = 0;
  for (let i = 0; i < len; i++) h = (Math.imul(h, 65599) + key[i]!) >>> 0;
  return h;
}

/** djb2 (Dan Bernstein, comp.lang.c): h = h * 33 + c, from 5381. */
export function djb2(key: Uint8Array, len = key.length): number {
  let h = 5381;
  for (let i = 0; i < len; i++) h = (Math.imul(h, 33) + key[i]!) >>> 0;
  return h;
}

const rotl = (x: number, n: number): number => (x << n) | (x >>> (32 - n));

/**
 * wt6, HAProxy's own: two 32-bit states, each byte complemented into both, then the states
 * swap while rotating by amounts the previous round derived from them (a rotation by 0
 * leaves the state as it is).
 */
export function wt6(key: Uint8Array, len = key.length): number {
  let h0 = 0xa53c965a;
  let h1 = 0x5ca6953a;
  let r0 = 6;
  let r1 = 18;
  for (let i = 0; i < len; i++) {
    const c = key[i]!;
    h0 = ~(h0 ^ c);
    h1 = ~(h1 + c);
    const next0 = rotl(h1, r0);
    h1 = rotl(h0, r1);
    h0 = next0;
    const mix = ((h0 >>> 16) ^ h1) & 0xffff;
    r0 = mix & 31;
    r1 = mix >>> 11;
  }
  return (h0 ^ h1) >>> 0;
}

/**
 * Reflected CRC-32 table for the IEEE 802.3 polynomial (0xedb88320). CRC is linear over
 * XOR: the entry of i ^ j is the XOR of the entries of i and j, so each single-bit entry
 * (128, 64, … 1, one shift-and-reduce step apart) is XORed onto the entries filled before it,
 * 255 steps in all. The usual 256 × 8 double loop is enough iterations to have V8 compile
 * it with its optimizing compiler at start (on-stack replacement), which maps about 5 MiB
 * more of the node binary's code into an instance that has not served anything yet.
 */
const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  let c = 0xedb88320;
  for (let bit = 128; bit > 0; bit >>>= 1) {
    for (let j = 0; j < 256; j += 2 * bit) t[bit + j] = t[j]! ^ c;
    c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  return t;
})();

/** CRC-32 as in Ethernet, gzip and PNG. */
export function crc32(key: Uint8Array, len = key.length): number {
  let c = -1;
  for (let i = 0; i < len; i++) c = (c >>> 8) ^ CRC_TABLE[(c ^ key[i]!) & 0xff]!;
  return ~c >>> 0;
}

/**
 * The `avalanche` modifier: Bob Jenkins' 6-shift full-avalanche integer hash
 * (burtleburtle.net/bob/hash/integer.html), then a multiplication by the prime 3221225473
 * (close to 3/4 of 2^32), as HAProxy applies it. Every input bit flips about half the
 * output bits, so neighbouring keys land far apart.
 */
export function avalanche(a: number): number {
  a = (a + 0x7ed55d16 + (a << 12)) | 0;
  a = a ^ 0xc761c23c ^ (a >>> 19);
  a = (a + 0x165667b1 + (a << 5)) | 0;
  a = (a + 0xd3a2646c) ^ (a << 9);
  a = (a + 0xfd7046c5 + (a << 3)) | 0;
  a = a ^ 0xb55a4f09 ^ (a >>> 16);
  return Math.imul(a, 3221225473) >>> 0;
}

type KeyHash = (key: Uint8Array, len: number) => number;

const FUNCTIONS: Record<HashFunction, KeyHash> = { sdbm, djb2, wt6, crc32 };

const DEFAULT_HASH: HashPlan = { method: 'map-based', fn: 'sdbm', avalanche: false };

/** The client address in binary, rewritten by every hashAddress(); picks are synchronous, so one per thread is enough. */
const ADDRESS = new Uint8Array(16);

/** The 32-bit hash of a client address under `hash` (default: HAProxy's map-based sdbm). */
export function hashAddress(src: string, hash: HashPlan = DEFAULT_HASH): number {
  const h = FUNCTIONS[hash.fn](ADDRESS, addressBytes(src, ADDRESS));
  return hash.avalanche ? avalanche(h) : h;
}

// ----------------------------------------------------------------------------- lookups

/** How a hash designates a member of the active group. */
interface HashLookup {
  /**
   * The member for hash `h` among `list` (MemberGroups.active()), skipping `avoid` when
   * another member qualifies, whether it has room or not; undefined when nothing is usable.
   */
  target(list: readonly MemberPlan[], h: number, avoid: MemberPlan | undefined): MemberPlan | undefined;
}

/**
 * `hash-type map-based`: the hash modulo the total weight of the usable members, each
 * member owning a run of its weight in config order. Static like HAProxy's: configured
 * weights count, the effective weight only as "0 = out". Any change in the usable set moves
 * most clients.
 */
class MapBased implements HashLookup {
  private readonly gauges: Int32Array;

  constructor(gauges: Int32Array) {
    this.gauges = gauges;
  }

  target(list: readonly MemberPlan[], h: number, avoid: MemberPlan | undefined): MemberPlan | undefined {
    const g = this.gauges;
    let total = 0;
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      if (m !== avoid && isUsable(m, g)) total += m.weight;
    }
    if (total === 0) {
      // Only the member that just failed is left (redispatch): it is the answer again.
      return avoid !== undefined && list.includes(avoid) && isUsable(avoid, g) ? avoid : undefined;
    }
    let point = h % total;
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      if (m === avoid || !isUsable(m, g)) continue;
      if (point < m.weight) return m;
      point -= m.weight;
    }
    return undefined;
  }
}

/** Ring points per unit of effective weight (HAProxy's BE_WEIGHT_SCALE is 16). */
export const POINTS_PER_WEIGHT = 16;

/** Above any member count: a ring point sorts as position * LIST_SPAN + member position. */
const LIST_SPAN = 2 ** 21;

/**
 * `hash-type consistent`: each usable member owns points on a 32-bit ring, as many as its
 * effective weight times POINTS_PER_WEIGHT (dynamic like HAProxy's: a weight change applies),
 * and a hash goes to the first point at or after it, wrapping. Point j of a member sits at
 * avalanche(avalanche(id) + j): it depends on the member's id only (HAProxy: same ids, same
 * distribution), so a member going down, coming up or changing weight moves only the
 * clients it loses or gains, and every thread builds the same ring.
 *
 * The ring is rebuilt when the active group or a usable member's effective weight changes,
 * which each pick checks against the weights the ring was built with; the lookup itself is
 * a binary search.
 */
class ConsistentRing implements HashLookup {
  private readonly gauges: Int32Array;
  /** Effective weight of each member (by index) when the ring was built; 0 = not on it. */
  private readonly builtWeights: Int32Array;
  /** The active group the ring was built for. */
  private builtFor: readonly MemberPlan[] | undefined;
  /** Point positions, ascending. */
  private keys = new Uint32Array(0);
  /** The member owning each point. */
  private owners: MemberPlan[] = [];

  constructor(members: number, gauges: Int32Array) {
    this.gauges = gauges;
    this.builtWeights = new Int32Array(members);
  }

  target(list: readonly MemberPlan[], h: number, avoid: MemberPlan | undefined): MemberPlan | undefined {
    if (this.stale(list)) this.build(list);
    const keys = this.keys;
    const n = keys.length;
    if (n === 0) return undefined;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (keys[mid]! < h) lo = mid + 1;
      else hi = mid;
    }
    let at = lo === n ? 0 : lo;
    // Past the avoided member's points: where the client would land without it.
    for (let k = 0; k < n; k++) {
      const m = this.owners[at]!;
      if (m !== avoid) return m;
      if (++at === n) at = 0;
    }
    // Only the member that just failed is on the ring (redispatch): it is the answer again.
    return avoid;
  }

  private stale(list: readonly MemberPlan[]): boolean {
    if (list !== this.builtFor) return true;
    const g = this.gauges;
    const built = this.builtWeights;
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      if ((isUsable(m, g) ? weightOf(m, g) : 0) !== built[m.index]) return true;
    }
    return false;
  }

  private build(list: readonly MemberPlan[]): void {
    const g = this.gauges;
    const built = this.builtWeights;
    built.fill(0);
    let total = 0;
    for (const m of list) {
      const w = isUsable(m, g) ? weightOf(m, g) : 0;
      built[m.index] = w;
      total += w * POINTS_PER_WEIGHT;
    }
    // Equal positions sort by member position, so every thread builds the same ring.
    const order = new Float64Array(total);
    let p = 0;
    for (let i = 0; i < list.length; i++) {
      const m = list[i]!;
      const base = avalanche(m.id);
      const points = built[m.index]! * POINTS_PER_WEIGHT;
      for (let j = 0; j < points; j++) order[p++] = avalanche((base + j) >>> 0) * LIST_SPAN + i;
    }
    order.sort();
    const keys = new Uint32Array(total);
    const owners = new Array<MemberPlan>(total);
    for (p = 0; p < total; p++) {
      const v = order[p]!;
      const i = v % LIST_SPAN;
      keys[p] = (v - i) / LIST_SPAN;
      owners[p] = list[i]!;
    }
    this.keys = keys;
    this.owners = owners;
    this.builtFor = list;
  }
}

// ---------------------------------------------------------------------------- balancer

export class SourceHash implements Balancer {
  readonly perRequest = true;
  private readonly groups: MemberGroups;
  private readonly gauges: Int32Array;
  private readonly hash: HashPlan;
  private readonly lookup: HashLookup;

  constructor(be: BackendPlan, hash: HashPlan, counters: Counters) {
    if (be.members.length >= LIST_SPAN) throw new RangeError(`backend ${be.name}: too many members to hash`);
    this.groups = new MemberGroups(be.members, be.allbackups);
    this.gauges = counters.gauges;
    this.hash = hash;
    this.lookup = hash.method === 'consistent' ? new ConsistentRing(be.members.length, this.gauges) : new MapBased(this.gauges);
  }

  pick(ctx: PickContext): MemberPlan | undefined {
    const m = this.bound(ctx);
    return m !== undefined && hasRoom(m, this.gauges) ? m : undefined;
  }

  bound(ctx: PickContext): MemberPlan | undefined {
    const list = this.groups.active(this.gauges);
    if (list === undefined) return undefined;
    return this.lookup.target(list, hashAddress(ctx.src, this.hash), ctx.avoid);
  }
}
