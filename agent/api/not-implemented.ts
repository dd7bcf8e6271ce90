// API 1.0 endpoints of the network/VRRP/LVS side, not implemented yet (a later issue). They
// answer a JSON 500 naming what is missing — never a silent 2xx, and never a non-JSON or
// "No suitable network interface found" 404, both of which the controller retries for
// minutes (contract 1.5). The routes are declared so the paths exist (405 for other methods).

import { NotImplementedError } from '../errors.ts';
import { PREFIX } from './context.ts';
import type { Route } from './routes.ts';

function notImplemented(feature: string): Route['handler'] {
  return (req) => {
    req.resume(); // the body is not needed
    throw new NotImplementedError(feature);
  };
}

export function notImplementedRoutes(): Route[] {
  return [
    { method: 'POST', path: `${PREFIX}/plug/vip/:vip`, handler: notImplemented('POST /plug/vip (VIP plugging)') },
    { method: 'POST', path: `${PREFIX}/plug/network`, handler: notImplemented('POST /plug/network (member network plugging)') },
    { method: 'PUT', path: `${PREFIX}/vrrp/upload`, handler: notImplemented('PUT /vrrp/upload (keepalived VRRP)') },
    { method: 'PUT', path: `${PREFIX}/vrrp/:action`, handler: notImplemented('PUT /vrrp/<action> (keepalived VRRP)') },
    { method: 'GET', path: `${PREFIX}/interface/:ip_addr`, handler: notImplemented('GET /interface/<ip> (interface lookup)') },
    { method: 'PUT', path: `${PREFIX}/interface/:ip_addr/rules`, handler: notImplemented('PUT /interface/<ip>/rules (SR-IOV VIP rules)') },
    {
      method: 'PUT',
      path: `${PREFIX}/listeners/:amp_id/:listener_id/udp_listener`,
      handler: notImplemented('PUT /listeners/<amp_id>/<listener_id>/udp_listener (UDP/SCTP listeners)'),
    },
    {
      method: 'GET',
      path: `${PREFIX}/listeners/:listener_id/udp_listener`,
      handler: notImplemented('GET /listeners/<listener_id>/udp_listener (UDP/SCTP listeners)'),
    },
  ];
}
