// The systemd service manager: the unit rendered from templates/proxy-core.service.hbs and
// the systemctl calls. systemd itself does not run here, so `systemctl` is a small stand-in
// that records its calls and runs the unit's own ExecStartPre/ExecStart/ExecReload lines:
// the rendered unit is exercised for real (HAProxy validates, starts, reloads on SIGUSR2).

import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAgentConfig } from '../../agent/config.ts';
import { EngineSpec } from '../../agent/lb/engine.ts';
import { silentLogger } from '../../agent/lb/log.ts';
import { LoadBalancerStore } from '../../agent/lb/store.ts';
import { SystemdServiceManager, systemdQuote } from '../../agent/lb/systemd.ts';
import type { AgentHandle } from '../../agent/main.ts';
import {
  AMP_ID,
  type AgentDir,
  eventually,
  freePort,
  httpGet,
  LB_ID,
  makeAgentDir,
  makePki,
  type Member,
  memberId,
  type Pki,
  renderLbConfig,
  request,
  startMember,
  startTestAgent,
} from './helpers.ts';

// A stand-in for systemctl: logs "<args>" to calls.log; start/reload/stop run the unit's lines.
const FAKE_SYSTEMCTL = (unitDir: string, log: string) => `#!/bin/bash
echo "$*" >> ${log}
unit="${unitDir}/$2"
line() { grep "^$1=" "$unit" | cut -d= -f2- ; }
pidfile() { line ExecStart | sed -E 's/.* -p ([^ ]+).*/\\1/' ; }
case "$1" in
  daemon-reload|enable|disable) exit 0 ;;
  start)
    if [ -f "$(pidfile)" ] && kill -0 "$(cat "$(pidfile)")" 2>/dev/null; then exit 0; fi
    $(line ExecStartPre) || exit 1
    setsid $(line ExecStart) >> ${log}.engine 2>&1 < /dev/null &
    exit 0 ;;
  reload)
    [ -f "$(pidfile)" ] || { echo "Unit $2 is not active, cannot reload." >&2; exit 1; }
    MAINPID=$(cat "$(pidfile)")
    while IFS= read -r cmd; do eval "\${cmd//\\$MAINPID/$MAINPID}" || exit 1; done < <(line ExecReload)
    exit 0 ;;
  stop)
    [ -f "$(pidfile)" ] || exit 0
    pid=$(cat "$(pidfile)"); kill "$pid" 2>/dev/null
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || exit 0; sleep 0.1; done
    kill -9 "$pid"; exit 0 ;;
  status) echo "fake status of $2"; exit 3 ;;
esac
echo "fake systemctl: unsupported $*" >&2; exit 1
`;

let pki: Pki;
let dir: AgentDir;
let agent: AgentHandle;
let member: Member;
let callsLog: string;
let unitDir: string;

beforeAll(async () => {
  pki = makePki();
  member = await startMember('solo');
  const probe = makeAgentDir(pki); // only to get a temp dir for the unit dir and the stand-in
  unitDir = join(probe.dir, 'units');
  (await import('node:fs')).mkdirSync(unitDir);
  callsLog = join(probe.dir, 'calls.log');
  const systemctl = join(probe.dir, 'systemctl');
  writeFileSync(systemctl, FAKE_SYSTEMCTL(unitDir, callsLog));
  chmodSync(systemctl, 0o755);
  dir = makeAgentDir(pki, { service_manager: 'systemd', systemd_unit_dir: unitDir, systemctl_path: systemctl });
  dir.cleanup = ((c) => () => {
    c();
    probe.cleanup();
  })(dir.cleanup);
  agent = await startTestAgent(dir);
});

afterAll(async () => {
  for (const lb of agent.store.list()) await agent.lifecycle.remove(lb);
  await agent.close();
  await member.close();
  dir.cleanup();
});

const calls = () => (existsSync(callsLog) ? readFileSync(callsLog, 'utf8').trim().split('\n') : []);

describe('systemd service manager', () => {
  it('quotes arguments for systemd command lines (specifiers and variables escaped)', () => {
    expect(systemdQuote('/var/lib/octavia/x.cfg')).toBe('/var/lib/octavia/x.cfg');
    expect(systemdQuote('a b')).toBe('"a b"');
    expect(systemdQuote('100%')).toBe('100%%');
    expect(systemdQuote('$HOME')).toBe('"$$HOME"');
  });

  it('renders a unit that validates before start and reload and runs the engine with -f cfg -f usergroup -p pid -L peer', () => {
    const cfg = parseAgentConfig([
      { path: 'x.conf', text: `[haproxy_amphora]\nbase_path = /var/lib/octavia\n[amphora_ts]\nengine = haproxy\nnetns = amphora-haproxy\n` },
    ]);
    const store = new LoadBalancerStore(cfg);
    const m = new SystemdServiceManager(store, new EngineSpec(cfg), () => 'h9VrZysCv0u5NLWyvFqoaxS-N1M', silentLogger, {
      unitDir: '/usr/lib/systemd/system',
      systemctl: 'systemctl',
    });
    expect(m.unitName(LB_ID)).toBe(`haproxy-${LB_ID}.service`);
    const unit = m.renderUnit(LB_ID);
    const base = `/var/lib/octavia/${LB_ID}`;
    const files = `-f ${base}/haproxy.cfg -f /var/lib/octavia/haproxy-default-user-group.conf`;
    expect(unit).toContain(`ExecStartPre=/usr/sbin/haproxy -c -q -L h9VrZysCv0u5NLWyvFqoaxS-N1M ${files}\n`);
    expect(unit).toContain(
      `ExecStart=/sbin/ip netns exec amphora-haproxy /usr/sbin/haproxy -Ws ${files} -p ${base}/${LB_ID}.pid -L h9VrZysCv0u5NLWyvFqoaxS-N1M\n`,
    );
    expect(unit).toContain('Type=notify\n');
    expect(unit).toContain('ExecReload=/bin/kill -USR2 $MAINPID\n');
    expect(unit).toContain('Wants=syslog.service amphora-netns.service\n');
    expect(unit).toContain('WantedBy=multi-user.target');

    const pcCfg = parseAgentConfig([{ path: 'x.conf', text: `[amphora_ts]\nengine = proxy-core\nnetns =\n` }]);
    const pc = new SystemdServiceManager(new LoadBalancerStore(pcCfg), new EngineSpec(pcCfg), () => 'p', silentLogger, {
      unitDir: '/u',
      systemctl: 'systemctl',
    });
    expect(pc.unitName(LB_ID)).toBe(`proxy-core-${LB_ID}.service`);
    const pcUnit = pc.renderUnit(LB_ID);
    expect(pcUnit).toContain(`ExecStart=${process.execPath} `);
    expect(pcUnit).toMatch(/bin\/proxy-core\.js -V -f /);
    expect(pcUnit).toContain('Type=simple\n');
    expect(pcUnit).not.toContain('netns');
  });

  it('upload installs and enables the unit; reload of a stopped LB is systemctl start; reload; stop; delete disables and removes', async () => {
    const port = agent.address.port;
    const vipPort = await freePort();
    const text = renderLbConfig({ base: dir.base, vipPort, members: [{ id: memberId(1), port: member.port }] });
    const unit = `haproxy-${LB_ID}.service`;

    expect((await request(port, pki, 'PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, text)).status).toBe(202);
    expect(existsSync(join(unitDir, unit))).toBe(true);
    expect(calls()).toEqual(['daemon-reload', `enable ${unit}`]);

    const start = await request(port, pki, 'PUT', `/1.0/loadbalancer/${LB_ID}/reload`);
    expect(start.status, start.text).toBe(202);
    expect(start.json().details).toContain('started');
    expect(calls().slice(-1)).toEqual([`start ${unit}`]);
    expect(agent.store.isRunning(LB_ID)).toBe(true);
    await eventually(async () => (await httpGet(vipPort)).body === 'solo', 'traffic');

    // the same upload again (a controller retry) changes nothing: no systemctl call at all
    expect((await request(port, pki, 'PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, text)).status).toBe(202);
    const reload = await request(port, pki, 'PUT', `/1.0/loadbalancer/${LB_ID}/reload`);
    expect(reload.status, reload.text).toBe(202);
    expect(calls().slice(-2)).toEqual([`start ${unit}`, `reload ${unit}`]);
    expect((await httpGet(vipPort)).body).toBe('solo');

    const stop = await request(port, pki, 'PUT', `/1.0/loadbalancer/${LB_ID}/stop`);
    expect(stop.status).toBe(202);
    expect(calls().slice(-1)).toEqual([`stop ${unit}`]);
    expect(agent.store.isRunning(LB_ID)).toBe(false);

    expect((await request(port, pki, 'DELETE', `/1.0/listeners/${LB_ID}`)).status).toBe(200);
    expect(calls().slice(-3)).toEqual([`stop ${unit}`, `disable ${unit}`, 'daemon-reload']);
    expect(existsSync(join(unitDir, unit))).toBe(false);
  });

  it('a failing systemctl start → 500 "Error starting haproxy" with systemctl\'s output', async () => {
    const port = agent.address.port;
    const busy = await import('node:net').then((net) => net.createServer());
    const vipPort = await freePort();
    await new Promise<void>((r) => busy.listen(vipPort, '127.0.0.1', () => r()));
    try {
      const text = renderLbConfig({ base: dir.base, vipPort, members: [{ id: memberId(1), port: member.port }] });
      expect((await request(port, pki, 'PUT', `/1.0/loadbalancer/${AMP_ID}/${LB_ID}/haproxy`, text)).status).toBe(202);
      // make ExecStartPre fail: the stand-in refuses to start on a failing check
      writeFileSync(join(dir.base, LB_ID, 'haproxy.cfg'), `${text}\nfrontend x\n    bind nowhere\n`);
      const r = await request(port, pki, 'PUT', `/1.0/loadbalancer/${LB_ID}/start`);
      expect(r.status).toBe(500);
      expect(r.json().message).toBe('Error starting haproxy');
      expect(r.json().details).toContain(`systemctl start haproxy-${LB_ID}.service failed`);
    } finally {
      await new Promise<void>((r) => busy.close(() => r()));
      await request(agent.address.port, pki, 'DELETE', `/1.0/listeners/${LB_ID}`);
    }
  });
});
