// Interop with the real controller code (test/interop/driver.py, Octavia 11 from Debian's
// python3-octavia): real HAProxy as the engine behind the same agent code path: proves the engine seam.

import { describeInterop } from './scenario.ts';

describeInterop('haproxy');
