// GET / (version discovery: must answer 200, a 404 makes the controller assume the legacy
// 0.5 API, contract 1.4/8.1), GET /info and GET /details (bodies from agent/system).

import type { ApiContext } from './context.ts';
import { API_VERSION, PREFIX } from './context.ts';
import { sendJson } from './respond.ts';
import type { Route } from './routes.ts';

export function infoRoutes(ctx: ApiContext): Route[] {
  return [
    { method: 'GET', path: '/', handler: (_req, res) => sendJson(res, 200, { api_version: API_VERSION }) },
    { method: 'GET', path: `${PREFIX}/info`, handler: async (_req, res) => sendJson(res, 200, await ctx.system.info()) },
    // On master's controller this is on the path of every config push (contract 8.7).
    { method: 'GET', path: `${PREFIX}/details`, handler: async (_req, res) => sendJson(res, 200, await ctx.system.details()) },
  ];
}
