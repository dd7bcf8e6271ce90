// The load-balancer lifecycle with real HAProxy 2.6 as the engine (the oracle engine).
import { lifecycleSuite } from './lifecycle-suite.ts';

lifecycleSuite('haproxy');
