// The agent's Express application: one router per resource, then the werkzeug-like
// 404/405 fallback, then the error table. Everything the controller can receive is JSON.

import express, { type Express } from 'express';
import { certificateRoutes } from './certificates.ts';
import { configRoutes } from './config.ts';
import type { ApiContext } from './context.ts';
import { infoRoutes } from './info.ts';
import { listenerRoutes } from './listeners.ts';
import { loadBalancerRoutes } from './loadbalancer.ts';
import { notImplementedRoutes } from './not-implemented.ts';
import { errorHandler } from './respond.ts';
import { fallback, type Route, routerFor } from './routes.ts';

export function createApp(ctx: ApiContext): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false); // ETags are the contract's md5s, set by the handlers
  app.set('case sensitive routing', true);
  app.set('strict routing', true);
  app.set('query parser', false);

  // The controller's version discovery requests `https://ip:port/` + `/` = `//`, and werkzeug
  // merges repeated slashes: a `//` that did not answer like `/` reads as the legacy 0.5 API.
  app.use((req, _res, next) => {
    const q = req.url.indexOf('?');
    const path = q < 0 ? req.url : req.url.slice(0, q);
    if (path.includes('//')) req.url = path.replace(/\/{2,}/g, '/') + (q < 0 ? '' : req.url.slice(q));
    next();
  });

  app.use((req, res, next) => {
    // One request per connection, as the reference agent (a sync gunicorn worker) serves: the
    // controller's connection pool then never sends on a connection the agent is closing.
    res.set('Connection', 'close');
    const started = Date.now();
    res.once('finish', () => ctx.log.info(`${req.method} ${req.originalUrl} ${res.statusCode} ${Date.now() - started} ms`));
    next();
  });

  const resources: Route[][] = [
    infoRoutes(ctx),
    loadBalancerRoutes(ctx),
    listenerRoutes(ctx),
    certificateRoutes(ctx),
    configRoutes(ctx),
    notImplementedRoutes(),
  ];
  for (const routes of resources) app.use(routerFor(routes));
  app.use(fallback(resources.flat()));
  app.use(errorHandler(ctx.log));
  return app;
}
