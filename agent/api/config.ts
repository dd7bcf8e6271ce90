// The agent's own settings (contract 2.9, 2.10):
//   PUT /certificate  new server certificate+key; new connections use it, no restart (202)
//   PUT /config       new amphora-agent.conf; the four live options apply at once (202)

import { updateConfigFile } from '../config.ts';
import { BODY_LIMITS, readBody } from './body.ts';
import type { ApiContext } from './context.ts';
import { PREFIX } from './context.ts';
import { sendJson } from './respond.ts';
import type { Route } from './routes.ts';

export function configRoutes(ctx: ApiContext): Route[] {
  return [
    {
      method: 'PUT',
      path: `${PREFIX}/certificate`,
      handler: async (req, res) => {
        const pem = await readBody(req, BODY_LIMITS.serverCertificate);
        await ctx.rotateServerCertificate(pem);
        ctx.log.info('agent server certificate replaced; new connections use it');
        sendJson(res, 202, { message: 'OK' });
      },
    },
    {
      method: 'PUT',
      path: `${PREFIX}/config`,
      handler: async (req, res) => {
        const text = (await readBody(req, BODY_LIMITS.agentConfig)).toString('utf8');
        const changed = await updateConfigFile(ctx.cfg, text);
        ctx.log.info(`agent configuration replaced; live options changed: ${changed.join(', ') || 'none'}`);
        sendJson(res, 202, { message: 'OK' });
      },
    },
  ];
}
