// haproxy.cfg texts for the runtime tests, shaped like the ones Octavia renders.

export interface MemberLine {
  name: string;
  port: number;
  weight?: number;
  extra?: string;
}

export interface TcpConfigOptions {
  port: number;
  members: MemberLine[];
  nbthread?: number;
  statsSocket?: string;
  /** Global maxconn. */
  maxconn?: number;
  /** Frontend maxconn. */
  feMaxconn?: number;
  mode?: 'tcp' | 'http';
  globalExtra?: string[];
  /** More frontends: name → port, all to the same backend. */
  moreFrontends?: Record<string, number>;
  bindAddress?: string;
}

export function proxyConfig(o: TcpConfigOptions): string {
  const mode = o.mode ?? 'tcp';
  const g = ['global'];
  if (o.maxconn !== undefined) g.push(`    maxconn ${o.maxconn}`);
  if (o.nbthread !== undefined) g.push(`    nbthread ${o.nbthread}`);
  if (o.statsSocket) g.push(`    stats socket ${o.statsSocket} mode 0666 level user`);
  for (const l of o.globalExtra ?? []) g.push(`    ${l}`);
  const fe = (name: string, port: number) =>
    [
      `frontend ${name}`,
      ...(o.feMaxconn !== undefined ? [`    maxconn ${o.feMaxconn}`] : []),
      `    bind ${o.bindAddress ?? '127.0.0.1'}:${port}`,
      `    mode ${mode}`,
      `    default_backend pool`,
      '',
    ].join('\n');
  return [
    ...g,
    '',
    'defaults',
    `    mode ${mode}`,
    '    timeout client 20s',
    '    timeout server 20s',
    '    timeout connect 2s',
    '',
    fe('listener', o.port),
    ...Object.entries(o.moreFrontends ?? {}).map(([n, p]) => fe(n, p)),
    'backend pool',
    `    mode ${mode}`,
    '    balance roundrobin',
    ...o.members.map((m) => `    server ${m.name} 127.0.0.1:${m.port} weight ${m.weight ?? 1}${m.extra ? ' ' + m.extra : ''}`),
    '',
  ].join('\n');
}
