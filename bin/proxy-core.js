#!/usr/bin/env node
// Entry point installed as the `proxy-core` command. The sources are TypeScript run by
// Node 24's type stripping, so this shim only loads them.
import '../proxy-core/cli.ts';
