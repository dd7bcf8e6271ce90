// Responses the engine writes itself: errors (400, 403, 408, 502, 503, 504 …) and redirects.
//
// Error responses are complete HTTP/1.1 messages with `Connection: close`, a text/html body
// of our own wording, built once at load as Buffers (one write, no formatting per error).
// The set of statuses is HAProxy's (those `deny_status` and errorfiles accept); any other
// status still gets a response, built on first use and kept.

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

function build(status: number, withBody: boolean): Buffer {
  const reason = reasonPhrase(status);
  const body = `<html><head><title>${status} ${reason}</title></head><body><h1>${status} ${reason}</h1>\n<p>${TEXTS[status] ?? reason + '.'}</p></body></html>\n`;
  const head =
    `HTTP/1.1 ${status} ${reason}\r\n` +
    `Content-Length: ${Buffer.byteLength(body)}\r\n` +
    'Cache-Control: no-cache\r\n' +
    'Content-Type: text/html\r\n' +
    'Connection: close\r\n' +
    '\r\n';
  return Buffer.from(withBody ? head + body : head, 'latin1');
}

const full = new Map<number, Buffer>();
const headOnly = new Map<number, Buffer>();
for (const s of Object.keys(REASONS)) {
  full.set(Number(s), build(Number(s), true));
  headOnly.set(Number(s), build(Number(s), false));
}

/** The complete error response for `status` (no body for a HEAD request). Ends with the connection. */
export function errorResponse(status: number, head = false): Buffer {
  const map = head ? headOnly : full;
  let b = map.get(status);
  if (!b) {
    b = build(status, !head);
    map.set(status, b);
  }
  return b;
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
