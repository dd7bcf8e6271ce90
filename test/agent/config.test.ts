// The agent's configuration file: oslo.config's INI dialect, Octavia's option names and
// defaults (contract 5), our [amphora_ts] section, and PUT /config's live options.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { applyLiveOptions, loadAgentConfig, parseAgentConfig, parseIni, updateConfigFile } from '../../agent/config.ts';
import { AgentConfigError, ConfigUpdateError } from '../../agent/errors.ts';
import { minTlsVersion } from '../../agent/api/server.ts';
import { parseArgs } from '../../agent/main.ts';

const parse = (text: string, more: string[] = []) =>
  parseAgentConfig([{ path: 'a.conf', text }, ...more.map((t, i) => ({ path: `more${i}.conf`, text: t }))]);

// What Octavia's AgentJinjaTemplater renders (master), with example values.
const OCTAVIA_RENDERED = `[DEFAULT]
debug = False
use_syslog = True
syslog_log_facility = LOG_LOCAL1

[haproxy_amphora]
base_cert_dir = /var/lib/octavia/certs
base_path = /var/lib/octavia
bind_host = ::
bind_port = 9443
haproxy_cmd = /usr/sbin/haproxy
respawn_count = 2
respawn_interval = 2
use_upstart = True
user_log_facility = 0
administrative_log_facility = 1

[health_manager]
controller_ip_port_list = 192.168.0.5:5555, [fd00::5]:5555
heartbeat_interval = 10
heartbeat_key = insecure

[amphora_agent]
agent_server_ca = /etc/octavia/certs/client_ca.pem
agent_server_cert = /etc/octavia/certs/server.pem
agent_server_network_dir = /etc/octavia/interfaces/
agent_request_read_timeout = 180
amphora_id = 5e1c2a40-9f3c-4e55-9a5d-111111111111
amphora_udp_driver = keepalived_lvs
agent_tls_protocol = TLSv1.2
administrative_log_facility = 1
user_log_facility = 0

[controller_worker]
loadbalancer_topology = SINGLE
`;

let tmp: string | undefined;
afterEach(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  tmp = undefined;
});

describe('reading amphora-agent.conf', () => {
  it('reads the file Octavia renders, with its option names and values', () => {
    const c = parse(OCTAVIA_RENDERED);
    expect(c.haproxy_amphora).toEqual({
      base_path: '/var/lib/octavia',
      base_cert_dir: '/var/lib/octavia/certs',
      bind_host: '::',
      bind_port: 9443,
      haproxy_cmd: '/usr/sbin/haproxy',
    });
    expect(c.health_manager).toEqual({
      controller_ip_port_list: ['192.168.0.5:5555', '[fd00::5]:5555'],
      heartbeat_interval: 10,
      heartbeat_key: 'insecure',
    });
    expect(c.amphora_agent.amphora_id).toBe('5e1c2a40-9f3c-4e55-9a5d-111111111111');
    expect(c.amphora_agent.agent_tls_protocol).toBe('TLSv1.2');
    expect(c.controller_worker.loadbalancer_topology).toBe('SINGLE');
    expect(c.DEFAULT).toEqual({ debug: false, use_syslog: true, syslog_log_facility: 'LOG_LOCAL1' });
  });

  it('uses Octavia\'s defaults for absent options, and ours for [amphora_ts]', () => {
    const c = parse('');
    expect(c.haproxy_amphora.bind_host).toBe('::');
    expect(c.haproxy_amphora.bind_port).toBe(9443);
    expect(c.haproxy_amphora.base_path).toBe('/var/lib/octavia');
    expect(c.amphora_agent.agent_server_cert).toBe('/etc/octavia/certs/server.pem');
    expect(c.amphora_agent.agent_server_ca).toBe('/etc/octavia/certs/client_ca.pem');
    expect(c.amphora_agent.agent_request_read_timeout).toBe(180);
    expect(c.health_manager.heartbeat_interval).toBe(10);
    expect(c.health_manager.controller_ip_port_list).toEqual([]);
    expect(c.health_manager.heartbeat_key).toBeUndefined();
    expect(c.amphora_ts.engine).toBe('proxy-core');
    expect(c.amphora_ts.service_manager).toBe('systemd');
    expect(c.amphora_ts.netns).toBe('amphora-haproxy');
    expect(c.amphora_ts.haproxy_path).toBe('/usr/sbin/haproxy');
    expect(c.amphora_ts.proxy_core_path).toMatch(/bin\/proxy-core\.js$/);
  });

  it('follows oslo.config\'s syntax: ":" or "=", comments, quotes, continuation lines, last value wins', () => {
    const ini = parseIni(
      `# comment\n[Health_Manager]\nheartbeat_key: "s3cret"\n; other comment\ncontroller_ip_port_list = a:1,\n  b:2\n\nheartbeat_interval=5\nheartbeat_interval = 7\n`,
      'x.conf',
    );
    const hm = ini.get('health_manager')!;
    expect(hm.get('heartbeat_key')!.value).toBe('s3cret');
    expect(hm.get('controller_ip_port_list')!.value).toBe('a:1,\nb:2');
    expect(hm.get('heartbeat_interval')!.value).toBe('7');
  });

  it('later --config-file files override earlier ones', () => {
    const c = parse('[health_manager]\nheartbeat_interval = 3\n[amphora_ts]\nengine = haproxy\n', ['[health_manager]\nheartbeat_interval = 4\n']);
    expect(c.health_manager.heartbeat_interval).toBe(4);
    expect(c.amphora_ts.engine).toBe('haproxy');
  });

  it('ignores options nobody registered in Octavia\'s sections (as oslo.config does)', () => {
    const c = parse('[haproxy_amphora]\nrest_request_conn_timeout = 10\n[keepalived_vrrp]\nvrrp_advert_int = 1\n[nova]\nenable_anti_affinity = False\n');
    expect(c.haproxy_amphora.bind_port).toBe(9443);
  });

  it('an unknown option in [amphora_ts] is an error naming the option, file and line', () => {
    expect(() => parse('[amphora_ts]\nengine = haproxy\nengnie = proxy-core\n')).toThrow(AgentConfigError);
    expect(() => parse('[amphora_ts]\nengine = haproxy\nengnie = proxy-core\n')).toThrow(/a\.conf:3: unknown option "engnie" in \[amphora_ts\]/);
  });

  it('refuses bad values with the file and line', () => {
    expect(() => parse('[amphora_ts]\nengine = nginx\n')).toThrow(/a\.conf:2: \[amphora_ts\] engine must be one of proxy-core, haproxy/);
    expect(() => parse('[amphora_ts]\nservice_manager = upstart\n')).toThrow(/service_manager/);
    expect(() => parse('[haproxy_amphora]\nbind_port = http\n')).toThrow(/a\.conf:2: \[haproxy_amphora\] bind_port must be an integer/);
    expect(() => parse('[haproxy_amphora]\nbind_port = 70000\n')).toThrow(/out of range/);
    expect(() => parse('[DEFAULT]\ndebug = maybe\n')).toThrow(/boolean/);
    expect(() => parse('[controller_worker]\nloadbalancer_topology = ACTIVE_ACTIVE\n')).toThrow(/loadbalancer_topology/);
    expect(() => parse('no section = 1\n')).toThrow(/outside of any \[section\]/);
    expect(() => parse('[health_manager]\n  continuation\n')).toThrow(/continuation/);
  });

  it('an empty netns means the agent\'s own namespace', () => {
    expect(parse('[amphora_ts]\nnetns =\n').amphora_ts.netns).toBe('');
  });

  it('the TLS minimum follows agent_tls_protocol but never rises above TLS 1.2 (the controller pins 1.2)', () => {
    expect(minTlsVersion('TLSv1.2')).toBe('TLSv1.2');
    expect(minTlsVersion('TLSv1.3')).toBe('TLSv1.2');
    expect(minTlsVersion('TLSv1.1')).toBe('TLSv1.1');
    expect(minTlsVersion('SSLv3')).toBe('TLSv1');
  });

  it('loadAgentConfig names an unreadable file', () => {
    expect(() => loadAgentConfig(['/nonexistent/amphora-agent.conf'])).toThrow(/cannot read config file \/nonexistent\/amphora-agent\.conf/);
  });
});

describe('command line', () => {
  it('takes --config-file FILE and --config-file=FILE, repeatable, like oslo.config', () => {
    expect(parseArgs(['--config-file', '/a.conf', '--config-file=/b.conf'])).toEqual({ configFiles: ['/a.conf', '/b.conf'] });
    expect(() => parseArgs([])).toThrow(/usage/);
    expect(() => parseArgs(['--config-file'])).toThrow(/needs a file/);
    expect(() => parseArgs(['--bogus'])).toThrow(/unknown argument --bogus/);
  });
});

describe('live options (PUT /config)', () => {
  it('applyLiveOptions copies exactly the four mutable options, in place, and names what changed', () => {
    const current = parse(OCTAVIA_RENDERED);
    const hm = current.health_manager;
    const next = parse(
      OCTAVIA_RENDERED.replace('heartbeat_key = insecure', 'heartbeat_key = other')
        .replace('heartbeat_interval = 10', 'heartbeat_interval = 2')
        .replace('loadbalancer_topology = SINGLE', 'loadbalancer_topology = ACTIVE_STANDBY')
        .replace('bind_port = 9443', 'bind_port = 1234')
        .replace('base_path = /var/lib/octavia', 'base_path = /elsewhere'),
    );
    expect(applyLiveOptions(current, next)).toEqual([
      'health_manager.heartbeat_key',
      'health_manager.heartbeat_interval',
      'controller_worker.loadbalancer_topology',
    ]);
    expect(current.health_manager).toBe(hm); // same object: readers see the change
    expect(hm.heartbeat_key).toBe('other');
    expect(hm.heartbeat_interval).toBe(2);
    expect(current.haproxy_amphora.bind_port).toBe(9443);
    expect(current.haproxy_amphora.base_path).toBe('/var/lib/octavia');
  });

  it('updateConfigFile writes the first --config-file atomically and applies the live options', async () => {
    tmp = mkdtempSync(join(tmpdir(), 'agent-config-'));
    const file = join(tmp, 'amphora-agent.conf');
    writeFileSync(file, OCTAVIA_RENDERED);
    const cfg = loadAgentConfig([file]);
    const next = OCTAVIA_RENDERED.replace('192.168.0.5:5555, [fd00::5]:5555', '10.0.0.1:5555');
    expect(await updateConfigFile(cfg, next)).toEqual(['health_manager.controller_ip_port_list']);
    expect(readFileSync(file, 'utf8')).toBe(next);
    expect(cfg.health_manager.controller_ip_port_list).toEqual(['10.0.0.1:5555']);
  });

  it('a new file the agent could not start with is refused before anything is written', async () => {
    tmp = mkdtempSync(join(tmpdir(), 'agent-config-'));
    const file = join(tmp, 'amphora-agent.conf');
    writeFileSync(file, OCTAVIA_RENDERED);
    const cfg = loadAgentConfig([file]);
    await expect(updateConfigFile(cfg, '[health_manager]\nheartbeat_interval = often\n')).rejects.toThrow(ConfigUpdateError);
    expect(readFileSync(file, 'utf8')).toBe(OCTAVIA_RENDERED);
    expect(cfg.health_manager.heartbeat_interval).toBe(10);
  });

  it('without a --config-file there is nowhere to write: ConfigUpdateError', async () => {
    await expect(updateConfigFile(parseAgentConfig([]), '')).rejects.toThrow(/without --config-file/);
  });
});
