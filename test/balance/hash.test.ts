// The `hash-type` pieces on their own: the binary client address, the hash functions and the
// avalanche modifier (known answers), and the defaults the compiler resolves.
//
// Where the expected values come from: every hash known answer below was computed once by
// a separate Python reimplementation of each algorithm (sdbm and djb2 from their published
// one-line definitions, CRC-32 by Python's zlib.crc32, avalanche from Bob Jenkins' integer
// hash page plus HAProxy's final multiplication, wt6, which is published nowhere but in
// HAProxy, from the algorithm in its src/hash.c), then cross-checked against HAProxy's own
// src/hash.c and full_hash() compiled on their own: both agreed on every value. CRC-32 of
// "123456789" = 0xcbf43926 is also the standard published check value. Address bytes come
// from Python's ipaddress module (`ip_address(text).packed`).

import { describe, expect, it } from 'vitest';
import { addressBytes, avalanche, crc32, djb2, hashAddress, sdbm, wt6 } from '../../proxy-core/balance/source.ts';
import { compile } from '../l4/harness.ts';
import { hashPlan } from '../../proxy-core/compile/compile.ts';
import type { HashFunction, HashPlan } from '../../proxy-core/compile/plan.ts';
import { parseConfig } from '../../proxy-core/config/parse.ts';

const FUNCTIONS = { sdbm, djb2, wt6, crc32 };

function bytesOf(src: string): string {
  const out = new Uint8Array(16);
  return Buffer.from(out.subarray(0, addressBytes(src, out))).toString('hex');
}

function binary(src: string): Uint8Array {
  return Buffer.from(bytesOf(src), 'hex');
}

describe('hash functions', () => {
  const KNOWN: [string, Uint8Array, Record<HashFunction, number>][] = [
    [
      'the text "123456789"',
      Buffer.from('123456789'),
      { sdbm: 0x68a07035, djb2: 0x35cdbb82, wt6: 0x84a16c1d, crc32: 0xcbf43926 },
    ],
    [
      'the IPv4 address 192.0.2.7 (c0000207)',
      binary('192.0.2.7'),
      { sdbm: 0xe51e8fc5, djb2: 0x7cc6588e, wt6: 0xedb3a59d, crc32: 0xfb5bc63b },
    ],
    [
      'the IPv6 address 2001:db8::1',
      binary('2001:db8::1'),
      { sdbm: 0xd7acc74d, djb2: 0xf6496acc, wt6: 0x47315102, crc32: 0x7f92b058 },
    ],
  ];

  for (const [what, key, answers] of KNOWN) {
    it(`each function gives the reference answer for ${what}`, () => {
      for (const [name, fn] of Object.entries(FUNCTIONS)) {
        expect(fn(key).toString(16), name).toBe(answers[name as HashFunction].toString(16));
      }
    });
  }

  it('avalanche is Jenkins\' 6-shift integer hash times 3221225473, as HAProxy applies it', () => {
    expect([0, 1, 0xc0000207, 0xffffffff].map((a) => avalanche(a).toString(16))).toEqual(['ab4ed927', '348681b6', '792e96dc', '7e64c182']);
  });

  it('hashes the binary address, not its text', () => {
    expect(hashAddress('192.0.2.7')).toBe(0xe51e8fc5);
    expect(hashAddress('2001:0DB8:0000::0001', { method: 'map-based', fn: 'crc32', avalanche: false })).toBe(0x7f92b058);
    expect(hashAddress('192.0.2.7', { method: 'consistent', fn: 'wt6', avalanche: true })).toBe(avalanche(0xedb3a59d));
  });
});

describe('client address key', () => {
  it('reads IPv4 and every RFC 4291 form of IPv6, leaving a zone out', () => {
    const KNOWN: [string, string][] = [
      ['0.0.0.0', '00000000'],
      ['255.255.255.255', 'ffffffff'],
      ['192.0.2.7', 'c0000207'],
      ['2001:db8::1', '20010db8000000000000000000000001'],
      ['::', '00000000000000000000000000000000'],
      ['::1', '00000000000000000000000000000001'],
      ['1::', '00010000000000000000000000000000'],
      ['2001:DB8:0:0:8:800:200C:417A', '20010db80000000000080800200c417a'],
      ['1::2:3:4:5:6:7', '00010000000200030004000500060007'],
      ['1:2:3:4:5:6:7::', '00010002000300040005000600070000'],
      ['64:ff9b::192.0.2.1', '0064ff9b0000000000000000c0000201'],
      ['fe80::1%eth0', 'fe800000000000000000000000000001'],
    ];
    for (const [text, hex] of KNOWN) expect(bytesOf(text), text).toBe(hex);
  });

  it('takes an IPv4-mapped IPv6 address as the 4-byte IPv4 address, under every function', () => {
    expect(bytesOf('::ffff:1.2.3.4')).toBe('01020304');
    expect(bytesOf('::FFFF:192.0.2.7')).toBe('c0000207');
    for (const fn of Object.keys(FUNCTIONS) as HashFunction[]) {
      for (const avalanche of [false, true]) {
        const plan: HashPlan = { method: 'map-based', fn, avalanche };
        expect(hashAddress('::ffff:192.0.2.7', plan), fn).toBe(hashAddress('192.0.2.7', plan));
      }
    }
  });

  it('gives the empty key for text that is not an address', () => {
    const BAD = ['', 'abc', '1.2.3', '1.2.3.256', '1.2.3.4.5', '1..2.3', '1.2.3.4 ', '1:2:3:4:5:6:7:8:9', '1:::2', ':1', '1:'];
    BAD.push('1::2::3', '12345::', '::1.2.3.4.5', '1:2:3:4:5:6:7:1.2.3.4');
    for (const text of BAD) expect(bytesOf(text), JSON.stringify(text)).toBe('');
  });
});

describe('hash-type in the plan', () => {
  it('applies HAProxy\'s defaults: map-based sdbm; consistent without a function adds avalanche', () => {
    expect(hashPlan(undefined)).toEqual({ method: 'map-based', fn: 'sdbm', avalanche: false });
    expect(hashPlan({ method: 'map-based' })).toEqual({ method: 'map-based', fn: 'sdbm', avalanche: false });
    expect(hashPlan({ method: 'consistent' })).toEqual({ method: 'consistent', fn: 'sdbm', avalanche: true });
    expect(hashPlan({ method: 'consistent', function: 'sdbm' })).toEqual({ method: 'consistent', fn: 'sdbm', avalanche: false });
    expect(hashPlan({ method: 'map-based', function: 'djb2', modifier: 'avalanche' })).toEqual({
      method: 'map-based',
      fn: 'djb2',
      avalanche: true,
    });
  });

  it('carries hash-type from the config text to the plan of a source backend, from defaults too', () => {
    const text = [
      'defaults',
      '    mode tcp',
      '    hash-type consistent wt6',
      'frontend f',
      '    bind 127.0.0.1:8080',
      '    default_backend inherits',
      'backend inherits',
      '    balance source',
      '    server a 127.0.0.1:1',
      'backend own',
      '    balance source',
      '    hash-type map-based crc32 avalanche',
      '    server a 127.0.0.1:1',
      'backend rr',
      '    balance roundrobin',
      '    server a 127.0.0.1:1',
      '',
    ].join('\n');
    const { config, errors } = parseConfig([{ path: 'haproxy.cfg', text }]);
    expect(errors).toEqual([]);
    const plan = compile(config);
    expect(plan.backendsByName.get('inherits')!.hash).toEqual({ method: 'consistent', fn: 'wt6', avalanche: false });
    expect(plan.backendsByName.get('own')!.hash).toEqual({ method: 'map-based', fn: 'crc32', avalanche: true });
    expect(plan.backendsByName.get('rr')!.hash).toBeUndefined();
  });

  it("refuses what HAProxy 2.6 refuses: a modifier without a function, and 'none'", () => {
    for (const line of ['hash-type consistent avalanche', 'hash-type map-based none']) {
      const { errors } = parseConfig([{ path: 'h.cfg', text: `backend b\n    balance source\n    ${line}\n    server a 127.0.0.1:1\n` }]);
      expect(errors.map((e) => `${e.where.line}: ${e.message}`), line).toEqual([
        "3: 'hash-type' only supports 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions.",
      ]);
    }
  });
});
