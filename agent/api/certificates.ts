// Listener and pool TLS material (contract 2.8): PUT|GET|DELETE
// /loadbalancer/<lb_id>/certificates/<filename>. The controller GETs the md5 first and only
// uploads when it differs, so the md5 is of the exact bytes stored (contract 8.11).

import { BODY_LIMITS, readBody } from './body.ts';
import type { ApiContext } from './context.ts';
import { PREFIX } from './context.ts';
import { sendJson } from './respond.ts';
import type { Route } from './routes.ts';

export function certificateRoutes(ctx: ApiContext): Route[] {
  const lb = ctx.lifecycle;
  const path = `${PREFIX}/loadbalancer/:lb_id/certificates/:filename`;
  return [
    {
      method: 'PUT',
      path,
      handler: async (req, res) => {
        const body = await readBody(req, BODY_LIMITS.certificate);
        const md5 = await lb.putCertificate(String(req.params.lb_id), String(req.params.filename), body);
        sendJson(res, 200, { message: 'OK' }, { ETag: md5 });
      },
    },
    {
      method: 'GET',
      path,
      handler: async (req, res) => {
        const md5 = await lb.certificateMd5(String(req.params.lb_id), String(req.params.filename));
        sendJson(res, 200, { md5sum: md5 }, { ETag: md5 });
      },
    },
    {
      method: 'DELETE',
      path,
      handler: async (req, res) => {
        await lb.deleteCertificate(String(req.params.lb_id), String(req.params.filename));
        sendJson(res, 200, { message: 'OK' });
      },
    },
  ];
}
