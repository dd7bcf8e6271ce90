// Balancer factory: one small implementation per `balance` algorithm.

import type { Balance } from '../config/model.ts';
import type { BackendPlan } from '../compile/plan.ts';
import type { Counters } from '../runtime/counters.ts';
import type { Balancer } from './balancer.ts';
import { First } from './first.ts';
import { LeastConn } from './leastconn.ts';
import { RoundRobin } from './roundrobin.ts';
import { SourceHash } from './source.ts';
import { StaticRoundRobin } from './staticrr.ts';

/**
 * Build the balancer of a backend whose `members` are already in place. Algorithms that
 * checkSupport() refuses (uri, url_param, hdr, random) never reach here; asking for one
 * is a programming error.
 */
export function createBalancer(be: BackendPlan, balance: Balance, counters: Counters): Balancer {
  switch (balance.algorithm) {
    case 'roundrobin':
      return new RoundRobin(be, counters);
    case 'static-rr':
      return new StaticRoundRobin(be, counters);
    case 'first':
      return new First(be, counters);
    case 'leastconn':
      return new LeastConn(be, counters);
    case 'source':
      if (be.hash === undefined) throw new Error(`backend ${be.name}: balance source compiled without its hash-type`);
      return new SourceHash(be, be.hash, counters);
    default:
      throw new Error(`backend ${be.name}: balance ${balance.algorithm} is not implemented`);
  }
}
