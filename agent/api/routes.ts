// Routes are declared as data (method, path, handler) by each resource module and mounted
// here, so the fallback can answer like werkzeug: a path that exists for other methods gets
// 405 with Allow, anything else a JSON 404 (a non-JSON 404 makes the controller retry for
// ten minutes, contract 1.5/8.2).

import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { MethodNotAllowedError, RouteNotFoundError } from '../errors.ts';

export type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

export interface Route {
  method: Method;
  /** Express path, `:name` segments (one path segment each, like werkzeug's default converter). */
  path: string;
  handler: (req: Request, res: Response) => Promise<void> | void;
}

/** A router holding `routes`: case-sensitive, no trailing-slash folding (werkzeug's rules). */
export function routerFor(routes: Route[]): Router {
  const router = express.Router({ caseSensitive: true, strict: true });
  for (const r of routes) {
    const handle = async (req: Request, res: Response, next: NextFunction) => {
      try {
        await r.handler(req, res);
      } catch (e) {
        next(e);
      }
    };
    switch (r.method) {
      case 'GET':
        router.get(r.path, handle);
        break;
      case 'PUT':
        router.put(r.path, handle);
        break;
      case 'POST':
        router.post(r.path, handle);
        break;
      case 'DELETE':
        router.delete(r.path, handle);
        break;
    }
  }
  return router;
}

function pattern(path: string): RegExp {
  const source = path
    .split('/')
    .map((seg) => (seg.startsWith(':') ? '[^/]+' : seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}$`);
}

/** Last middleware: OPTIONS → 200 with Allow, known path → 405, else 404 (JSON). */
export function fallback(routes: Route[]) {
  const compiled = routes.map((r) => ({ method: r.method, re: pattern(r.path) }));
  return (req: Request, res: Response, next: NextFunction): void => {
    const methods = new Set<string>();
    for (const r of compiled) if (r.re.test(req.path)) methods.add(r.method);
    if (methods.size === 0) return next(new RouteNotFoundError('no route'));
    if (methods.has('GET')) methods.add('HEAD');
    methods.add('OPTIONS');
    const allow = [...methods].sort();
    if (req.method === 'OPTIONS') {
      res.status(200).set('Allow', allow.join(', ')).end();
      return;
    }
    next(new MethodNotAllowedError(allow));
  };
}
