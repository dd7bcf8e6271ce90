// Interop with the real controller code (test/interop/driver.py, Octavia 11 from Debian's
// python3-octavia): proxy-core as the engine: the product as shipped.

import { describeInterop } from './scenario.ts';

describeInterop('proxy-core');
