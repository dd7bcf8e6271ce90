#!/usr/bin/env node
// Entry point installed as the `proxy-core` command: runs proxy-core/cli, from the precompiled
// JavaScript in dist/ when it matches the sources, else from the TypeScript sources
// (bin/dist.js says which and why).
import { entryUrl } from './dist.js';

await import(entryUrl('proxy-core/cli'));
