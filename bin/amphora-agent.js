#!/usr/bin/env node
// Entry point installed as the `amphora-agent` command (TypeScript sources run by Node 24).
import '../agent/main.ts';
