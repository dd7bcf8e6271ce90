// Responses the engine writes itself: errors (400, 403, 408, 502, 503, 504 …) and redirects.
//
// Two shapes, as HAProxy 2.6 sends them (header set and order from HAProxy, body wording ours):
//
// - errors of the HTTP/1 layer (400 malformed, 408 head timeout, 413, 422, 501): the
//   connection ends, `Content-Length, Cache-Control, Connection: close, Content-Type`;
// - replies of the request processing (403 deny / deny_status, 502, 503, 504): header names
//   in lower case like every header HAProxy writes through HTX, no Connection header, and the
//   client connection stays open when the request was fully read; otherwise (or when the
//   client asked for close) `connection: close` is appended and the connection ends.
//
// All built once as Buffers (one write, nothing formatted per error); a status outside the
// table gets its response built on first use and kept.

import { Buffer } from 'node:buffer';

const REASONS: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  407: 'Proxy Authentication Required',
  408: 'Request Timeout',
  410: 'Gone',
  413: 'Payload Too Large',
  421: 'Misdirected Request',
  422: 'Unprocessable Content',
  425: 'Too Early',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** One sentence per status, shown in the body. */
const TEXTS: Record<number, string> = {
  200: 'The service is ready.',
  400: 'The request could not be understood by the load balancer.',
  401: 'Authentication is needed to reach this resource.',
  403: 'Access to this resource is forbidden by the load balancer rules.',
  404: 'Nothing is served at this address.',
  405: 'This method is not allowed here.',
  407: 'Authentication with the proxy is needed first.',
  408: 'The request took too long to arrive.',
  410: 'This resource is gone.',
  413: 'The request carries a body it is not allowed to carry.',
  421: 'This request was sent to a server that cannot answer it.',
  422: 'The request body uses an encoding the load balancer cannot process.',
  425: 'The request was sent too early.',
  429: 'Too many requests were sent; try again later.',
  431: 'The request headers are too large.',
  500: 'The load balancer hit an internal error.',
  501: 'The request uses a feature the load balancer does not implement.',
  502: 'The backend server sent an invalid or incomplete response.',
  503: 'No backend server is available to handle this request.',
  504: 'The backend server did not answer in time.',
};

export function reasonPhrase(status: number): string {
  return REASONS[status] ?? (status < 300 ? 'OK' : status < 400 ? 'Redirect' : status < 500 ? 'Client Error' : 'Server Error');
}

function body(status: number): string {
  const reason = reasonPhrase(status);
  return `<html><head><title>${status} ${reason}</title></head><body><h1>${status} ${reason}</h1>\n<p>${TEXTS[status] ?? reason + '.'}</p></body></html>\n`;
}

/** Variants kept per status: [mux error, mux error head-only, reply, reply head-only, + close]. */
const cache = new Map<number, Buffer[]>();

function variants(status: number): Buffer[] {
  let v = cache.get(status);
  if (v) return v;
  const reason = reasonPhrase(status);
  const b = body(status);
  const len = Buffer.byteLength(b, 'latin1');
  const mux =
    `HTTP/1.1 ${status} ${reason}\r\nContent-Length: ${len}\r\nCache-Control: no-cache\r\n` +
    'Connection: close\r\nContent-Type: text/html\r\n\r\n';
  const reply = `HTTP/1.1 ${status} ${reason}\r\ncontent-length: ${len}\r\ncache-control: no-cache\r\ncontent-type: text/html\r\n`;
  v = [
    Buffer.from(mux + b, 'latin1'),
    Buffer.from(mux, 'latin1'),
    Buffer.from(reply + '\r\n' + b, 'latin1'),
    Buffer.from(reply + '\r\n', 'latin1'),
    Buffer.from(reply + 'connection: close\r\n\r\n' + b, 'latin1'),
    Buffer.from(reply + 'connection: close\r\n\r\n', 'latin1'),
  ];
  cache.set(status, v);
  return v;
}

for (const s of Object.keys(REASONS)) variants(Number(s));

/** An HTTP/1-layer error (400, 408, 413, 422, 501): complete, `Connection: close`; the connection ends. */
export function errorResponse(status: number, head = false): Buffer {
  return variants(status)[head ? 1 : 0]!;
}

/** A reply of request processing (deny, 502, 503, 504); `close` appends `connection: close`. */
export function replyResponse(status: number, head: boolean, close: boolean): Buffer {
  return variants(status)[(close ? 4 : 2) + (head ? 1 : 0)]!;
}

const REDIRECT_REASONS: Record<number, string> = {
  301: 'Moved Permanently',
  302: 'Found',
  303: 'See Other',
  307: 'Temporary Redirect',
  308: 'Permanent Redirect',
};

/** Precomputed start of a redirect response: status line and the fixed headers before Location. */
export function redirectPrefix(code: number): string {
  const c = REDIRECT_REASONS[code] ? code : 302;
  // HAProxy 2.6 emits its own header names in lower case (HTX); so do we.
  return `HTTP/1.1 ${c} ${REDIRECT_REASONS[c]}\r\ncontent-length: 0\r\nlocation: `;
}

/** Fixed headers after Location: 302/303/307 carry `cache-control: no-cache` as HAProxy does. */
export function redirectSuffix(code: number): string {
  return code === 302 || code === 303 || code === 307 || !REDIRECT_REASONS[code] ? '\r\ncache-control: no-cache\r\n' : '\r\n';
}
