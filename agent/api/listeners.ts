// GET /listeners (contract 2.3): every frontend of every stored config. Not called by the
// controller; kept for operators and parity.

import type { ApiContext } from './context.ts';
import { PREFIX } from './context.ts';
import { sendJson } from './respond.ts';
import type { Route } from './routes.ts';

export function listenerRoutes(ctx: ApiContext): Route[] {
  return [{ method: 'GET', path: `${PREFIX}/listeners`, handler: (_req, res) => sendJson(res, 200, ctx.lifecycle.listeners()) }];
}
