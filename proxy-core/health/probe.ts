// The health-check interface: one method, several small implementations (tcp.ts, tls.ts,
// ssl-hello.ts, http.ts, external.ts), each a file of its own like HAProxy's check kinds.
//
// A probe runs one check against one member and says what HAProxy would have said: the
// check status code (`L4OK`, `L7STS`, ...), the layer 5-7 code when there is one (HTTP status,
// exit status of an external command) and the text HAProxy shows in `last_chk`. It never
// throws and never retries; rise/fall bookkeeping belongs to the checker.

/** HAProxy's check statuses, as `show stat` prints them in `check_status`. */
export type CheckStatus =
  | 'UNK'
  | 'INI'
  | 'SOCKERR'
  | 'L4OK'
  | 'L4TOUT'
  | 'L4CON'
  | 'L6OK'
  | 'L6TOUT'
  | 'L6RSP'
  | 'L7TOUT'
  | 'L7RSP'
  | 'L7OK'
  | 'L7OKC'
  | 'L7STS'
  | 'PROCERR'
  | 'PROCTOUT'
  | 'PROCOK';

/** `check_desc`: the short description HAProxy prints beside each status. */
export const CHECK_DESC: Record<CheckStatus, string> = {
  UNK: 'Unknown',
  INI: 'Initializing',
  SOCKERR: 'Socket error',
  L4OK: 'Layer4 check passed',
  L4TOUT: 'Layer4 timeout',
  L4CON: 'Layer4 connection problem',
  L6OK: 'Layer6 check passed',
  L6TOUT: 'Layer6 timeout',
  L6RSP: 'Layer6 invalid response',
  L7TOUT: 'Layer7 timeout',
  L7RSP: 'Layer7 invalid response',
  L7OK: 'Layer7 check passed',
  L7OKC: 'Layer7 check conditionally passed',
  L7STS: 'Layer7 wrong status',
  PROCERR: 'External check error',
  PROCTOUT: 'External check timeout',
  PROCOK: 'External check passed',
};

/** Statuses that count as a passed check (towards `rise`). */
const PASSED: ReadonlySet<CheckStatus> = new Set(['L4OK', 'L6OK', 'L7OK', 'L7OKC', 'PROCOK']);

export function isPassed(status: CheckStatus): boolean {
  return PASSED.has(status);
}

export interface ProbeResult {
  status: CheckStatus;
  /** HTTP status (L7OK, L7STS) or exit status (PROCOK, PROCERR, 0 for PROCTOUT). */
  code?: number;
  /** `last_chk`: the reason text ("Connection refused", the HTTP reason phrase...), '' if none. */
  info: string;
  /** True once a TCP connection to the member was established (HAProxy's need_conn_est). */
  connected?: boolean;
}

/** Everything a probe needs about the member it checks; built once per member by spec.ts. */
export interface ProbeTarget {
  /** Backend and server names (logs, external-check environment). */
  backend: string;
  server: string;
  /** Address and port to probe: `addr`/`port` overrides applied. */
  host: string;
  port: number;
  /**
   * Connect timeout. Without `timeout check` this is the whole check's budget (`inter`, as
   * HAProxy does): `readTimeout` is then undefined and the reply must arrive within what is left.
   */
  connectTimeout: number;
  /** `timeout check`: how long the reply may take once connected. */
  readTimeout: number | undefined;
}

/** One kind of health check. */
export interface Probe {
  /** Run one check; resolve (never reject) with its result. Aborting `signal` must release
   *  every socket, timer and child process at once; the result is then ignored. */
  probe(target: ProbeTarget, signal: AbortSignal): Promise<ProbeResult>;
}

/** Milliseconds left for the reply phase, given when the check started (performance.now()). */
export function replyBudget(target: ProbeTarget, startedAt: number): number {
  if (target.readTimeout !== undefined) return target.readTimeout;
  return Math.max(1, target.connectTimeout - (performance.now() - startedAt));
}

/** The strerror() text HAProxy shows for a socket error code, as glibc words it. */
export function errnoText(err: unknown): string {
  const code = (err as { code?: string } | undefined)?.code;
  switch (code) {
    case 'ECONNREFUSED':
      return 'Connection refused';
    case 'ECONNRESET':
      return 'Connection reset by peer';
    case 'EHOSTUNREACH':
      return 'No route to host';
    case 'ENETUNREACH':
      return 'Network is unreachable';
    case 'ETIMEDOUT':
      return 'Connection timed out';
    case 'EADDRNOTAVAIL':
      return 'Cannot assign requested address';
    case 'EPIPE':
      return 'Broken pipe';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'Name resolution failed';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
