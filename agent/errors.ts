// Every error the agent can answer, in one table: a named class per failure with a stable
// `code`, and ERRORS[code] saying which HTTP status and JSON body the controller gets.
//
// Two body shapes exist because Octavia's agent has two (contract 1.6): application errors
// are {"message", "details"?}; framework errors (unknown route, wrong method, unhandled
// exception) are werkzeug's {"error": "<code> <Name>: <description>", "http_code": <code>}.
// The controller only distinguishes statuses (400/401/403/404/405/409/500/503 raise, anything
// else counts as success, contract 1.5/8.3), so every failure here uses one of those: a 413 or
// a 501 would read as success to it.

/** Base of every error the API turns into a response. */
export abstract class AgentError extends Error {
  abstract readonly code: ErrorCode;
}

/** `GET|PUT /loadbalancer/<lb_id>/...` for an LB without a stored haproxy.cfg. */
export class LoadBalancerNotFoundError extends AgentError {
  readonly code = 'LB_NOT_FOUND';
  readonly lbId: string;
  constructor(lbId: string) {
    super(`No loadbalancer with UUID: ${lbId}`);
    this.lbId = lbId;
  }
}

/** GET of a certificate file that is not stored. */
export class CertificateNotFoundError extends AgentError {
  readonly code = 'CERT_NOT_FOUND';
  readonly filename: string;
  constructor(filename: string) {
    super(`No certificate with filename: ${filename}`);
    this.filename = filename;
  }
}

/** Certificate filename that is neither `<uuid>.pem` nor `<40 hex>.pem` (checked before any path is built). */
export class InvalidFilenameError extends AgentError {
  readonly code = 'CERT_BAD_FILENAME';
  constructor(filename: string) {
    super(`Filename has wrong format: ${filename}`);
  }
}

/** An id in the path that is not a UUID (checked before any path is built). */
export class InvalidIdError extends AgentError {
  readonly code = 'BAD_ID';
  constructor(kind: string, value: string) {
    super(`Invalid ${kind} id: ${JSON.stringify(value)}`);
  }
}

/** `PUT /loadbalancer/<id>/<action>` with an action other than start/stop/reload. */
export class UnknownActionError extends AgentError {
  readonly code = 'UNKNOWN_ACTION';
  constructor(action: string) {
    super(`Unknown action: ${action}`);
  }
}

/** An uploaded haproxy.cfg the engine's validator refused; `message` is the validator output. */
export class InvalidConfigError extends AgentError {
  readonly code = 'INVALID_CONFIG';
}

/** A body the agent refuses before storing it (too large, not a certificate+key...). */
export class InvalidBodyError extends AgentError {
  readonly code = 'INVALID_BODY';
}

/** start/stop/reload of an LB's engine failed; `message` is the service manager's output. */
export class ServiceActionError extends AgentError {
  readonly code = 'SERVICE_ACTION_FAILED';
  readonly action: string;
  constructor(action: string, output: string) {
    super(output);
    this.action = action;
  }
}

/** DELETE of a running LB whose engine would not stop. */
export class ServiceStopError extends AgentError {
  readonly code = 'SERVICE_STOP_FAILED';
}

/** PUT /config failed (unreadable/invalid config, write error). */
export class ConfigUpdateError extends AgentError {
  readonly code = 'CONFIG_UPDATE_FAILED';
}

/** PUT /certificate could not store the new server certificate. */
export class CertificateUpdateError extends AgentError {
  readonly code = 'SERVER_CERT_UPDATE_FAILED';
}

/** An API 1.0 endpoint this agent does not implement yet (plug, interface, vrrp, udp_listener). */
export class NotImplementedError extends AgentError {
  readonly code = 'NOT_IMPLEMENTED';
  readonly feature: string;
  constructor(feature: string) {
    super(`${feature} is not implemented by this amphora agent (amphora-ts)`);
    this.feature = feature;
  }
}

/** A request the framework could not make sense of (bad percent-encoding...): werkzeug BadRequest. */
export class BadRequestError extends AgentError {
  readonly code = 'BAD_REQUEST';
}

/** No route for the path (werkzeug NotFound). */
export class RouteNotFoundError extends AgentError {
  readonly code = 'ROUTE_NOT_FOUND';
}

/** The path exists for other methods (werkzeug MethodNotAllowed); `allow` feeds the Allow header. */
export class MethodNotAllowedError extends AgentError {
  readonly code = 'METHOD_NOT_ALLOWED';
  readonly allow: string[];
  constructor(allow: string[]) {
    super('method not allowed');
    this.allow = allow;
  }
}

/** Anything unexpected (werkzeug InternalServerError). */
export class InternalError extends AgentError {
  readonly code = 'INTERNAL';
}

/** Error in the agent's own configuration file: reported at start (not an HTTP error). */
export class AgentConfigError extends Error {
  readonly code = 'AGENT_CONFIG';
}

export interface ErrorResponse {
  status: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

// werkzeug's descriptions, so framework errors read exactly like the reference agent's.
const WERKZEUG_400 =
  '400 Bad Request: The browser (or proxy) sent a request that this server could not understand.';
const WERKZEUG_404 =
  '404 Not Found: The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.';
const WERKZEUG_405 = '405 Method Not Allowed: The method is not allowed for the requested URL.';
const WERKZEUG_500 =
  '500 Internal Server Error: The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.';

/** The one table: error code → status, JSON body, headers. */
const ERRORS = {
  LB_NOT_FOUND: (e: LoadBalancerNotFoundError) => ({
    status: 404,
    body: { message: 'Loadbalancer Not Found', details: e.message },
  }),
  CERT_NOT_FOUND: (e: CertificateNotFoundError) => ({
    status: 404,
    body: { message: 'Certificate Not Found', details: e.message },
  }),
  CERT_BAD_FILENAME: (e: InvalidFilenameError) => ({
    status: 400,
    body: { message: 'Filename has wrong format', details: e.message },
  }),
  BAD_ID: (e: InvalidIdError) => ({ status: 400, body: { message: 'Invalid Request', details: e.message } }),
  UNKNOWN_ACTION: (e: UnknownActionError) => ({ status: 400, body: { message: 'Invalid Request', details: e.message } }),
  INVALID_CONFIG: (e: InvalidConfigError) => ({ status: 400, body: { message: 'Invalid request', details: e.message } }),
  INVALID_BODY: (e: InvalidBodyError) => ({ status: 400, body: { message: 'Invalid request', details: e.message } }),
  SERVICE_ACTION_FAILED: (e: ServiceActionError) => ({
    // Octavia's text is "Error <action>ing haproxy" whatever the engine (so "stoping", sic).
    status: 500,
    body: { message: `Error ${e.action}ing haproxy`, details: e.message },
  }),
  SERVICE_STOP_FAILED: (e: ServiceStopError) => ({
    status: 500,
    body: { message: 'Error stopping haproxy', details: e.message },
  }),
  CONFIG_UPDATE_FAILED: (e: ConfigUpdateError) => ({
    status: 500,
    body: { message: 'Unable to update amphora-agent configuration.', details: e.message },
  }),
  SERVER_CERT_UPDATE_FAILED: (e: CertificateUpdateError) => ({
    status: 500,
    body: { message: 'Unable to update the agent server certificate.', details: e.message },
  }),
  // 500, not 501: the controller treats 501 as success (contract 1.5) and would go on as if
  // the VIP were plugged; a 500 fails the flow at once with this message, and is not retried
  // (only connection errors, timeouts and non-JSON 404s are).
  NOT_IMPLEMENTED: (e: NotImplementedError) => ({
    status: 500,
    body: { message: 'Not implemented', details: e.message },
  }),
  BAD_REQUEST: () => ({ status: 400, body: { error: WERKZEUG_400, http_code: 400 } }),
  ROUTE_NOT_FOUND: () => ({ status: 404, body: { error: WERKZEUG_404, http_code: 404 } }),
  METHOD_NOT_ALLOWED: (e: MethodNotAllowedError) => ({
    status: 405,
    body: { error: WERKZEUG_405, http_code: 405 },
    headers: { Allow: e.allow.join(', ') },
  }),
  INTERNAL: () => ({ status: 500, body: { error: WERKZEUG_500, http_code: 500 } }),
} as const satisfies Record<string, (e: never) => ErrorResponse>;

export type ErrorCode = keyof typeof ERRORS;

/** The response for any thrown value: AgentErrors through the table, anything else as a 500. */
export function toErrorResponse(err: unknown): ErrorResponse {
  if (err instanceof AgentError) {
    const render = ERRORS[err.code] as (e: AgentError) => ErrorResponse;
    return render(err);
  }
  return ERRORS.INTERNAL();
}
