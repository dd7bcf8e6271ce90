// The load balancer's config and lifecycle (contract 2.4-2.7):
//   PUT    /loadbalancer/<amp_id>/<lb_id>/haproxy   store a validated config (202 + ETag), no apply
//   GET    /loadbalancer/<lb_id>/haproxy            the stored config (text/plain + ETag)
//   PUT    /loadbalancer/<id>/<start|stop|reload>   202; reload starts what does not run
//   DELETE /listeners/<id>                          200, also for an unknown id

import { BODY_LIMITS, readBody } from './body.ts';
import type { ApiContext } from './context.ts';
import { PREFIX } from './context.ts';
import { sendJson } from './respond.ts';
import type { Route } from './routes.ts';

export function loadBalancerRoutes(ctx: ApiContext): Route[] {
  const lb = ctx.lifecycle;
  return [
    {
      method: 'PUT',
      path: `${PREFIX}/loadbalancer/:amp_id/:lb_id/haproxy`,
      handler: async (req, res) => {
        const body = await readBody(req, BODY_LIMITS.haproxyConfig);
        const etag = await lb.upload(String(req.params.amp_id), String(req.params.lb_id), body);
        sendJson(res, 202, { message: 'OK' }, { ETag: etag });
      },
    },
    {
      method: 'GET',
      path: `${PREFIX}/loadbalancer/:lb_id/haproxy`,
      handler: async (req, res) => {
        const { text, etag } = await lb.getConfig(String(req.params.lb_id));
        res.status(200).set('ETag', etag).type('text/plain').send(text);
      },
    },
    {
      method: 'PUT',
      path: `${PREFIX}/loadbalancer/:object_id/:action`,
      handler: async (req, res) => {
        const details = await lb.action(String(req.params.object_id), String(req.params.action));
        sendJson(res, 202, { message: 'OK', details });
      },
    },
    {
      method: 'DELETE',
      path: `${PREFIX}/listeners/:object_id`,
      handler: async (req, res) => {
        await lb.remove(String(req.params.object_id));
        sendJson(res, 200, { message: 'OK' });
      },
    },
  ];
}
