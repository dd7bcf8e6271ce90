#!/usr/bin/env node
// Entry point installed as the `amphora-agent` command (TypeScript sources run by Node 24).
// Unlike bin/proxy-core.js it does not run a precompiled copy from dist/ (bin/dist.js): the
// agent locates the repository (templates, bin/proxy-core.js) and recognises its own entry
// point relative to its source file (agent/config.ts REPO_ROOT, agent/main.ts isEntryPoint),
// which a copy under dist/agent/ would get wrong.
import '../agent/main.ts';
