// The lifecycle with our proxy-core as the engine, supervision part: restarts after a crash,
// adoption by a restarted agent, LBs started again after an agent start.
import { lifecycleSuite } from './lifecycle-suite.ts';

lifecycleSuite('proxy-core', ['supervise']);
