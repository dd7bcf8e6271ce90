// The lifecycle with our proxy-core as the engine, serving part: the engine seam is one code
// path (the same suite runs against HAProxy in lifecycle-haproxy.test.ts).
import { lifecycleSuite } from './lifecycle-suite.ts';

lifecycleSuite('proxy-core', ['serve']);
