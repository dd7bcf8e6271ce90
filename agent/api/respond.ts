// Responses as Octavia's agent writes them: JSON with compact separators and an
// application/json content type (the controller looks for that substring, contract 1.5).

import type { NextFunction, Request, Response } from 'express';
import { AgentError, BadRequestError, toErrorResponse } from '../errors.ts';
import type { Logger } from '../lb/log.ts';

export function sendJson(res: Response, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.status(status).set(headers).type('application/json').send(JSON.stringify(body));
}

/** Express error middleware: every failure through the one error table (agent/errors.ts). */
export function errorHandler(log: Logger) {
  return (err: unknown, req: Request, res: Response, _next: NextFunction): void => {
    const known = frameworkError(err) ?? err;
    const mapped = toErrorResponse(known);
    // Expected failures are one line; anything else is a bug worth its stack.
    if (!(known instanceof AgentError)) log.error(`${req.method} ${req.originalUrl}: ${(err as Error)?.stack ?? String(err)}`);
    else if (mapped.status >= 500) log.error(`${req.method} ${req.originalUrl}: ${known.message}`);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    sendJson(res, mapped.status, mapped.body, mapped.headers);
  };
}

/** Errors raised by Express itself (malformed percent-encoding in a path, ...) carry a 4xx
 *  `status`; map them to werkzeug's BadRequest shape. */
function frameworkError(err: unknown): unknown {
  if (err instanceof AgentError) return undefined;
  const status = (err as { status?: unknown })?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    return new BadRequestError(String((err as Error).message));
  }
  return undefined;
}

