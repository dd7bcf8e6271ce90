#!/usr/bin/python3
"""Interop driver: Octavia's own controller code against the amphora-ts agent.

Run with the system interpreter that has Debian's python3-octavia (11.0.0):

    /usr/bin/python3 test/interop/driver.py '<json options>'

The controller side here is Octavia's code, imported and called, never re-implemented:
* the PKI is made the way Octavia makes it: a CA (as devstack's create_certificates
  does) and LocalCertGenerator.generate_cert_key_pair for the amphora's server certificate
  (CN and subjectAltName = amphora id) and for the controller's client certificate;
* the configuration is rendered by Octavia's JinjaTemplater from Octavia data models, inside
  HaproxyAmphoraLoadBalancerDriver.update_amphora_listeners (the controller's "ListenersUpdate"
  task: GET /, GET /info, render for the reported haproxy_version, PUT config, PUT reload);
* every call to the agent goes through AmphoraAPIClient1_0 (mutual TLS, hostname check
  against the amphora id, TLS 1.2 pinned, Octavia's retry rules);
* heartbeats are received by the health manager's UDPStatusGetter (unwrap_envelope: HMAC
  then zlib) and applied by its UpdateHealthDb._update_health over an in-memory stand-in for
  the database rows get_lb_for_health_update returns.

Protocol with the test (one JSON object per line):
  argv[1]  {"workdir", "base_path", "base_cert_dir", "heartbeat_key", "engine"}
  stdout   {"event": "ready", "amp_id", "server_pem", "client_ca", "heartbeat_port"}
  stdin    {"agent_port", "bind_host", "ipv6"}   (after the test started the agent)
  stdout   {"event": "check", "name", ...} per passed check, then
           {"event": "done"} and exit 0, or {"event": "fail", "error", "traceback"}, exit 1.
"""

import hashlib
import http.client
import http.server
import json
import os
import socket
import socketserver
import sys
import threading
import time
import traceback
from unittest import mock
import uuid

from oslo_config import cfg

from octavia.common import config as octavia_config  # noqa: F401 (registers the options)
from octavia.common import constants as c
from octavia.common import data_models as dm

CONF = cfg.CONF
LOOPBACK = '127.0.0.1'


def emit(event, **fields):
    sys.stdout.write(json.dumps(dict(event=event, **fields)) + '\n')
    sys.stdout.flush()


def check(name, condition, **detail):
    """Record a passed check, or fail the run with what was seen."""
    if not condition:
        raise AssertionError('%s: %s' % (name, json.dumps(detail, default=str)))
    emit('check', name=name)


def free_port(family=socket.AF_INET, host=LOOPBACK):
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------------------------- PKI

def make_pki(workdir, amp_id):
    """Two CAs (server side, client side) and the two leaf certificates, written where the
    agent and the controller expect them. Returns the paths."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from octavia.certificates.generator import local

    def make_ca(name):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, name)])
        now = datetime.datetime.utcnow()
        cert = (x509.CertificateBuilder()
                .subject_name(subject).issuer_name(subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - datetime.timedelta(minutes=5))
                .not_valid_after(now + datetime.timedelta(days=2))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(x509.KeyUsage(
                    digital_signature=True, key_cert_sign=True, crl_sign=True,
                    content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False,
                    encipher_only=False, decipher_only=False), critical=True)
                .sign(key, hashes.SHA256()))
        return (cert.public_bytes(serialization.Encoding.PEM),
                key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.TraditionalOpenSSL,
                                  serialization.NoEncryption()))

    server_ca, server_ca_key = make_ca('amphora-ts interop server CA')
    client_ca, client_ca_key = make_ca('amphora-ts interop client CA')
    gen = local.LocalCertGenerator
    # What the controller's cert_task.GenerateServerPEMTask does: CN = amphora id, one PEM
    # holding the certificate then the key.
    server = gen.generate_cert_key_pair(cn=amp_id, validity=86400, ca_cert=server_ca,
                                        ca_key=server_ca_key, ca_digest='sha256')
    client = gen.generate_cert_key_pair(cn='octavia-controller', validity=86400,
                                        ca_cert=client_ca, ca_key=client_ca_key,
                                        ca_digest='sha256')
    pki = os.path.join(workdir, 'pki')
    os.makedirs(pki, exist_ok=True)
    paths = {
        'server_pem': os.path.join(pki, 'server.pem'),      # agent: agent_server_cert
        'client_ca': os.path.join(pki, 'client_ca.pem'),    # agent: agent_server_ca
        'server_ca': os.path.join(pki, 'server_ca.pem'),    # controller: server_ca
        'client_pem': os.path.join(pki, 'client.pem'),      # controller: client_cert
    }
    contents = {
        'server_pem': server.certificate + server.private_key,
        'client_ca': client_ca,
        'server_ca': server_ca,
        'client_pem': client.certificate + client.private_key,
    }
    for name, path in paths.items():
        with open(path, 'wb') as f:
            f.write(contents[name])
        os.chmod(path, 0o600)
    return paths


# ------------------------------------------------------------------------------- members

class QuietHTTPServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        # Health checkers close with a reset once they have their answer: not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Members:
    """Local pool members: HTTP servers that answer with their name (and count requests,
    health checks apart), a TCP echo server, and a port where nothing listens."""

    def __init__(self):
        self.hits = {}
        self.servers = []
        self.lock = threading.Lock()

    def http(self, name):
        members = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = 'HTTP/1.1'

            def do_GET(self):
                body = ('%s\n' % name).encode()
                if self.path != '/healthz':
                    with members.lock:
                        members.hits[name] = members.hits.get(name, 0) + 1
                self.send_response(200)
                self.send_header('Content-Type', 'text/plain')
                self.send_header('Content-Length', str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        server = QuietHTTPServer((LOOPBACK, 0), Handler)
        server.daemon_threads = True
        self._serve(server)
        return server.server_address[1]

    def echo(self):
        class Echo(socketserver.BaseRequestHandler):
            def handle(self):
                while True:
                    data = self.request.recv(65536)
                    if not data:
                        return
                    self.request.sendall(data)

        server = socketserver.ThreadingTCPServer((LOOPBACK, 0), Echo)
        server.daemon_threads = True
        self._serve(server)
        return server.server_address[1]

    def _serve(self, server):
        self.servers.append(server)
        threading.Thread(target=server.serve_forever, daemon=True).start()

    def close(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()


# ----------------------------------------------------------------------- the load balancer

def uid():
    return str(uuid.uuid4())


def build_lb(amp, member_ports):
    """An Octavia LB with an HTTP listener (round robin, HTTP health monitor, a member that
    is down, a disabled member), a TCP listener (least connections, no monitor) and a
    disabled listener (rendered nowhere, expected nowhere)."""
    project = uuid.uuid4().hex
    lb_id = uid()
    lb = dm.LoadBalancer(id=lb_id, project_id=project, enabled=True,
                         topology=c.TOPOLOGY_SINGLE, provisioning_status=c.ACTIVE,
                         operating_status=c.OFFLINE, amphorae=[amp], listeners=[],
                         pools=[])
    lb.vip = dm.Vip(load_balancer_id=lb_id, ip_address=LOOPBACK)
    amp.load_balancer = lb
    amp.load_balancer_id = lb_id

    hm = dm.HealthMonitor(id=uid(), type=c.HEALTH_MONITOR_HTTP, delay=1, timeout=1,
                          fall_threshold=2, rise_threshold=1, http_method='GET',
                          url_path='/healthz', expected_codes='200', enabled=True,
                          provisioning_status=c.ACTIVE)
    web = dm.Pool(id=uid(), project_id=project, protocol=c.PROTOCOL_HTTP,
                  lb_algorithm=c.LB_ALGORITHM_ROUND_ROBIN, enabled=True,
                  provisioning_status=c.ACTIVE, operating_status=c.OFFLINE,
                  tls_enabled=False, health_monitor=hm, load_balancer=lb,
                  load_balancer_id=lb_id)
    web.members = [
        dm.Member(id=uid(), ip_address=LOOPBACK, protocol_port=member_ports['a'], weight=1,
                  enabled=True, provisioning_status=c.ACTIVE, operating_status=c.OFFLINE,
                  pool=web),
        dm.Member(id=uid(), ip_address=LOOPBACK, protocol_port=member_ports['b'], weight=1,
                  enabled=True, provisioning_status=c.ACTIVE, operating_status=c.OFFLINE,
                  pool=web),
        dm.Member(id=uid(), ip_address=LOOPBACK, protocol_port=member_ports['dead'], weight=1,
                  enabled=True, provisioning_status=c.ACTIVE, operating_status=c.OFFLINE,
                  pool=web),
        dm.Member(id=uid(), ip_address=LOOPBACK, protocol_port=member_ports['a'], weight=1,
                  enabled=False, provisioning_status=c.ACTIVE, operating_status=c.OFFLINE,
                  pool=web),
    ]
    tcp = dm.Pool(id=uid(), project_id=project, protocol=c.PROTOCOL_TCP,
                  lb_algorithm=c.LB_ALGORITHM_LEAST_CONNECTIONS, enabled=True,
                  provisioning_status=c.ACTIVE, operating_status=c.OFFLINE,
                  tls_enabled=False, load_balancer=lb, load_balancer_id=lb_id)
    tcp.members = [dm.Member(id=uid(), ip_address=LOOPBACK, protocol_port=member_ports['echo'],
                             weight=1, enabled=True, provisioning_status=c.ACTIVE,
                             operating_status=c.OFFLINE, pool=tcp)]

    def listener(protocol, port, pool, enabled=True):
        lst = dm.Listener(id=uid(), project_id=project, protocol=protocol,
                          protocol_port=port, connection_limit=-1, enabled=enabled,
                          provisioning_status=c.ACTIVE, operating_status=c.OFFLINE,
                          load_balancer=lb, load_balancer_id=lb_id,
                          default_pool=pool, default_pool_id=pool.id if pool else None,
                          pools=[pool] if pool else [], l7policies=[],
                          insert_headers={'X-Forwarded-For': 'true'} if protocol == c.PROTOCOL_HTTP else {},
                          timeout_client_data=50000, timeout_member_connect=5000,
                          timeout_member_data=50000, timeout_tcp_inspect=0,
                          tls_certificate_id=None, sni_containers=[])
        if pool:
            pool.listeners = (pool.listeners or []) + [lst]
        return lst

    http_l = listener(c.PROTOCOL_HTTP, free_port(), web)
    tcp_l = listener(c.PROTOCOL_TCP, free_port(), tcp)
    off_l = listener(c.PROTOCOL_TCP, free_port(), None, enabled=False)
    lb.listeners = [http_l, tcp_l, off_l]
    lb.pools = [web, tcp]
    return lb


# ------------------------------------------------------------------------ health manager

class FakeDb:
    """The rows the health manager reads (AmphoraRepository.get_lb_for_health_update's flat
    dict) and the operating statuses it writes back, for one LB and one amphora."""

    def __init__(self, amp, lb):
        self.amp_id = amp.id
        self.lb = lb
        self.status = {lb.id: lb.operating_status}
        for lst in lb.listeners:
            self.status[lst.id] = lst.operating_status
        for pool in lb.pools:
            self.status[pool.id] = pool.operating_status
            for m in pool.members:
                self.status[m.id] = m.operating_status
        self.last_update = []

    def lb_for_health_update(self, session, amphora_id):
        if amphora_id != self.amp_id:
            return {}
        lb = self.lb
        row = {'id': lb.id, 'enabled': lb.enabled,
               'provisioning_status': lb.provisioning_status,
               'operating_status': self.status[lb.id]}
        if lb.listeners:
            row['listeners'] = {
                lst.id: {'operating_status': self.status[lst.id], 'protocol': lst.protocol,
                         'enabled': lst.enabled} for lst in lb.listeners}
        if lb.pools:
            row['pools'] = {
                p.id: {'operating_status': self.status[p.id],
                       'members': {m.id: {'operating_status': self.status[m.id]}
                                   for m in p.members}} for p in lb.pools}
        return row

    def repo(self):
        db = self

        class Repo:
            def update(self, session, entity_id, operating_status=None, **kw):
                db.status[entity_id] = operating_status

        return Repo()

    def health_repo(self):
        db = self

        class HealthRepo:
            def replace(self, session, amphora_id, last_update=None):
                db.last_update.append((amphora_id, last_update))

        return HealthRepo()


class HealthManager:
    """Octavia's receiving side: UDPStatusGetter for the socket and the envelope,
    UpdateHealthDb for what a heartbeat means."""

    def __init__(self):
        from octavia.amphorae.drivers.health import heartbeat_udp
        from octavia.common import exceptions
        self.mod = heartbeat_udp
        self.exceptions = exceptions
        self.getter = heartbeat_udp.UDPStatusGetter()
        self.port = self.getter.sock.getsockname()[1]
        self.messages = []
        self.dropped = 0  # datagrams refused by unwrap_envelope (HMAC mismatch)
        self.db = None

    def attach(self, db):
        self.db = db
        updater = self.mod.UpdateHealthDb()
        updater.amphora_repo = mock.Mock()
        updater.amphora_repo.get_lb_for_health_update.side_effect = db.lb_for_health_update
        updater.amphora_health_repo = db.health_repo()
        updater.listener_repo = db.repo()
        updater.pool_repo = db.repo()
        updater.member_repo = db.repo()
        updater.loadbalancer_repo = db.repo()
        self.updater = updater

    def receive(self, timeout):
        """Next heartbeat (dict) within `timeout` seconds, applied to the fake DB."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                msg, src = self.getter.dorecv()
            except socket.timeout:
                continue
            except self.exceptions.InvalidHMACException:
                self.dropped += 1
                continue
            self.messages.append(msg)
            if self.db is not None:
                with mock.patch.object(self.mod.db_api, 'get_session'):
                    self.updater._update_health(msg, src)
            return msg
        raise AssertionError('no heartbeat within %ss' % timeout)

    def wait(self, what, predicate, timeout=40):
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            last = self.receive(max(1, deadline - time.time()))
            if predicate(last):
                return last
        raise AssertionError('%s: not seen within %ss; last heartbeat %s; statuses %s'
                             % (what, timeout, json.dumps(last), json.dumps(self.db.status if self.db else None)))


# ------------------------------------------------------------------------------ traffic

def http_get(port, path='/'):
    conn = http.client.HTTPConnection(LOOPBACK, port, timeout=10)
    try:
        conn.request('GET', path, headers={'Connection': 'close'})
        resp = conn.getresponse()
        return resp.status, resp.read().decode()
    finally:
        conn.close()


def tcp_echo(port, payload):
    with socket.create_connection((LOOPBACK, port), timeout=10) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        data = b''
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk


# ----------------------------------------------------------------------------- scenario

def configure(opts, pki):
    from oslo_log import log as logging
    logging.register_options(CONF)  # [DEFAULT] debug, rendered into the agent config
    CONF([], project='octavia', default_config_files=[])
    CONF.set_override('base_path', opts['base_path'], 'haproxy_amphora')
    CONF.set_override('base_cert_dir', opts['base_cert_dir'], 'haproxy_amphora')
    CONF.set_override('client_cert', pki['client_pem'], 'haproxy_amphora')
    CONF.set_override('server_ca', pki['server_ca'], 'haproxy_amphora')
    CONF.set_override('connection_max_retries', 60, 'haproxy_amphora')
    CONF.set_override('connection_retry_interval', 1, 'haproxy_amphora')
    CONF.set_override('rest_request_conn_timeout', 5, 'haproxy_amphora')
    CONF.set_override('rest_request_read_timeout', 60, 'haproxy_amphora')
    CONF.set_override('cert_manager', 'local_cert_manager', 'certificates')
    CONF.set_override('heartbeat_key', opts['heartbeat_key'], 'health_manager')
    CONF.set_override('bind_ip', LOOPBACK, 'health_manager')
    CONF.set_override('bind_port', 0, 'health_manager')
    # Rendered into the agent config by PUT /config; the HM also drops a heartbeat processed
    # later than this after receipt (this driver processes each one as it reads it).
    CONF.set_override('heartbeat_interval', 1, 'health_manager')
    CONF.set_override('agent_server_ca', pki['client_ca'], 'amphora_agent')
    CONF.set_override('agent_server_cert', pki['server_pem'], 'amphora_agent')


def scenario(opts, pki, hm, members, member_ports, agent_port, bind_host, ipv6):
    from octavia.amphorae.drivers.haproxy import rest_api_driver

    CONF.set_override('bind_port', agent_port, 'haproxy_amphora')
    CONF.set_override('bind_host', bind_host, 'haproxy_amphora')
    CONF.set_override('controller_ip_port_list', ['%s:%d' % (LOOPBACK, hm.port)], 'health_manager')
    amp = dm.Amphora(id=opts['amp_id'], status=c.AMPHORA_ALLOCATED,
                     role=c.ROLE_STANDALONE, lb_network_ip=LOOPBACK, compute_id=uid())
    lb = build_lb(amp, member_ports)
    http_l, tcp_l, off_l = lb.listeners
    web, tcp = lb.pools
    m_a, m_b, m_dead, m_off = web.members
    (m_echo,) = tcp.members
    enabled = sorted([http_l.id, tcp_l.id])

    driver = rest_api_driver.HaproxyAmphoraLoadBalancerDriver()
    client = driver.clients['1.0']

    # --- version discovery (GET /, which the client requests as '//': werkzeug merges the
    # slashes) and /info, as AmphoraComputeConnectivityWait does. A 404 here would make the
    # controller fall back to the legacy 0.5 API.
    driver._populate_amphora_api_version(amp)
    check('GET / answers api_version 1.0', amp.api_version == '1.0', got=amp.api_version,
          hint="the client requests 'https://host:port/' + '/' = '//', which werkzeug merges into '/'")
    info = client.get_info(amp)
    check('/info has the reference fields with their types',
          isinstance(info.get('hostname'), str) and info.get('api_version') == '1.0'
          and isinstance(info.get('haproxy_version'), str)
          and isinstance(info.get('keepalived_version'), str)
          and isinstance(info.get('ipvsadm_version'), str), got=info)
    major, minor = info['haproxy_version'].split('.')[:2]
    check('/info haproxy_version starts with <int>.<int>', major.isdigit() and minor.isdigit(),
          got=info['haproxy_version'])
    if opts['engine'] == 'proxy-core':
        check('proxy-core reports the HAProxy 2.6 dialect', (major, minor) == ('2', '6'),
              got=info['haproxy_version'])
    if ipv6:
        amp6 = dm.Amphora(id=amp.id, lb_network_ip='::1')
        amp6.api_version = '1.0'
        info6 = client.get_info(amp6)
        check('the API answers on ::1 too', info6 == info, got=info6)

    # --- ListenersUpdate: the controller renders, uploads and reloads
    driver.update_amphora_listeners(lb, amp)
    rendered = driver.jinja_combo.build_config(
        host_amphora=amp, listeners=[http_l, tcp_l, off_l], tls_certs={},
        haproxy_versions=[major, minor])
    stored = client.get(amp, 'loadbalancer/%s/haproxy' % lb.id)
    check('the agent stores the rendered config byte for byte',
          stored.status_code == 200 and stored.text == rendered,
          status=stored.status_code, etag=stored.headers.get('ETag'))
    check('ETag of the stored config is its md5',
          stored.headers.get('ETag', '').strip('"') == hashlib.md5(rendered.encode()).hexdigest(),
          etag=stored.headers.get('ETag'))

    # --- /details and /listeners
    details = client.get_details(amp)
    ints = ('haproxy_count', 'cpu_count', 'lvs_listener_process_count')
    check('/details has the reference fields with their types',
          all(isinstance(details.get(k), int) for k in ints)
          and details.get('active') is True and details.get('api_version') == '1.0'
          and isinstance(details.get('networks'), dict)
          and isinstance(details['cpu'].get('total'), int)
          and all(isinstance(details['cpu'].get(k), str) for k in ('user', 'system', 'soft_irq'))
          and all(isinstance(details['memory'].get(k), int)
                  for k in ('total', 'free', 'buffers', 'cached', 'swap_used', 'shared', 'slab'))
          and all(isinstance(details['disk'].get(k), int) for k in ('used', 'available'))
          and len(details.get('load', [])) == 3 and all(isinstance(x, str) for x in details['load'])
          and details.get('topology') == 'SINGLE' and details.get('topology_status') == 'OK'
          and details.get('packages') == {} and isinstance(details.get('active_tuned_profiles'), str),
          got=details)
    check('/details lists the enabled listeners and one running LB',
          details['listeners'] == enabled and details['haproxy_count'] == 1, got=details)
    listing = client.get_all_listeners(amp)
    check('/listeners reports each listener ACTIVE with its type',
          sorted((x['uuid'], x['status'], x['type']) for x in listing)
          == sorted([(http_l.id, 'ACTIVE', 'HTTP'), (tcp_l.id, 'ACTIVE', 'TCP')]), got=listing)

    # --- certificate upload as _upload_cert does it (md5 check, then PUT)
    pem = (open(pki['server_ca'], 'rb').read())
    name = hashlib.sha1(pem).hexdigest() + '.pem'
    driver._upload_cert(amp, lb.id, pem, hashlib.md5(pem).hexdigest(), name)
    check('uploaded certificate md5 reads back',
          client.get_cert_md5sum(amp, lb.id, name) == hashlib.md5(pem).hexdigest())
    client.delete_cert_pem(amp, lb.id, name)

    # --- traffic through the VIP reaches the members
    answers = [http_get(http_l.protocol_port) for _ in range(12)]
    check('HTTP through the VIP answers 200', all(s == 200 for s, _ in answers), got=answers)
    names = {body.strip() for _, body in answers}
    check('round robin reaches both live members', names == {'member-a', 'member-b'}
          and members.hits.get('member-a', 0) + members.hits.get('member-b', 0) == 12
          and min(members.hits.get('member-a', 0), members.hits.get('member-b', 0)) >= 1,
          answers=sorted(names), members_received=members.hits)
    echoed = tcp_echo(tcp_l.protocol_port, b'hello through the amphora\n')
    check('TCP through the VIP reaches the echo member', echoed == b'hello through the amphora\n',
          got=echoed.decode(errors='replace'))

    # --- heartbeats, as the health manager sees them
    db = FakeDb(amp, lb)
    hm.attach(db)
    web_key = '%s:%s' % (web.id, http_l.id)
    tcp_key = '%s:%s' % (tcp.id, tcp_l.id)

    def converged(msg):
        pools = msg.get('pools', {})
        web_members = pools.get(web_key, {}).get('members', {})
        return (web_members.get(m_dead.id, '').startswith('DOWN')
                and web_members.get(m_a.id) == 'UP' and web_members.get(m_b.id) == 'UP')

    msg = hm.wait('health checks settled (dead member DOWN, live members UP)', converged)
    check('heartbeat is version 3 from this amphora', msg['ver'] == 3 and msg['id'] == amp.id,
          got=msg)
    check('heartbeat lists exactly the enabled listeners', sorted(msg['listeners']) == enabled,
          got=sorted(msg['listeners']))
    check('the health manager refreshes liveness (listener count matches)',
          any(a == amp.id for a, _ in db.last_update), last_update=len(db.last_update))
    check('pools are keyed <pool_id>:<listener_id>', sorted(msg['pools']) == sorted([web_key, tcp_key]),
          got=sorted(msg['pools']))
    check('listeners are OPEN', all(v['status'] == 'OPEN' for v in msg['listeners'].values()),
          got=msg['listeners'])
    web_members = msg['pools'][web_key]['members']
    check('member statuses are HAProxy strings',
          web_members.get(m_a.id) == 'UP' and web_members.get(m_b.id) == 'UP'
          and web_members.get(m_off.id) == 'MAINT'
          and msg['pools'][tcp_key]['members'] == {m_echo.id: 'no check'}
          and msg['pools'][web_key]['status'] == 'UP' and msg['pools'][tcp_key]['status'] == 'UP',
          got=msg['pools'])
    st = db.status
    check('the health manager derives the operating statuses',
          st[http_l.id] == c.ONLINE and st[tcp_l.id] == c.ONLINE
          and st[off_l.id] == c.OFFLINE
          and st[m_a.id] == c.ONLINE and st[m_b.id] == c.ONLINE and st[m_dead.id] == c.ERROR
          and st[m_off.id] == c.OFFLINE and st[m_echo.id] == c.NO_MONITOR
          and st[web.id] == c.DEGRADED and st[tcp.id] == c.ONLINE
          and st[lb.id] == c.DEGRADED, got=st)

    # --- stats: deltas that add up to the traffic sent
    seqs = [m['seq'] for m in hm.messages]
    check('seq increases', all(b > a for a, b in zip(seqs, seqs[1:])), got=seqs)
    before = len(hm.messages)
    for _ in range(5):
        http_get(http_l.protocol_port)
    tcp_echo(tcp_l.protocol_port, b'x' * 1000)

    def totals():
        t = {}
        for m in hm.messages[before:]:
            for lid, lst in m['listeners'].items():
                acc = t.setdefault(lid, {'totconns': 0, 'rx': 0, 'tx': 0})
                for k in acc:
                    acc[k] += lst['stats'][k]
        return t

    def counted(_msg):
        t = totals()
        return (t.get(http_l.id, {}).get('totconns', 0) >= 5
                and t.get(tcp_l.id, {}).get('rx', 0) >= 1000
                and t.get(tcp_l.id, {}).get('tx', 0) >= 1000)

    hm.wait('stats deltas covering the new traffic', counted)
    check('stats are deltas that add up to the traffic', True, totals=totals())
    quiet = hm.receive(15)
    quiet = hm.receive(15)
    check('with no traffic the deltas fall back to zero',
          all(v['stats']['totconns'] == 0 and v['stats']['rx'] == 0
              for v in quiet['listeners'].values()), got=quiet['listeners'])

    # --- PUT /config (admin "amphora configure"): the controller renders the agent config
    # with a new heartbeat key; the next heartbeats are signed with it, no restart.
    from octavia.amphorae.backends.agent import agent_jinja_cfg
    new_key = opts['heartbeat_key'] + '-rotated'
    CONF.set_override('heartbeat_key', new_key, 'health_manager')
    agent_config = agent_jinja_cfg.AgentJinjaTemplater().build_agent_config(amp.id, c.TOPOLOGY_SINGLE)
    driver.update_amphora_agent_config(amp, agent_config)
    hm.getter.key = new_key
    dropped = hm.dropped
    msg = hm.receive(15)
    check('after PUT /config the heartbeats carry the new key', msg['id'] == amp.id,
          dropped_with_old_key=hm.dropped - dropped)

    # --- a member update: full re-render, upload, reload (3.3)
    m_b.enabled = False
    driver.update_amphora_listeners(lb, amp)
    hm.wait('member-b reported MAINT after the update',
            lambda m: m.get('pools', {}).get(web_key, {}).get('members', {}).get(m_b.id) == 'MAINT')
    check('a disabled member goes OFFLINE in the health manager', db.status[m_b.id] == c.OFFLINE,
          got=db.status[m_b.id])
    b_before = members.hits.get('member-b', 0)
    answers = [http_get(http_l.protocol_port) for _ in range(6)]
    check('after the reload only member-a serves', {b.strip() for _, b in answers} == {'member-a'}
          and members.hits.get('member-b', 0) == b_before, got=answers, members_received=members.hits)

    # --- removing the last listener: DELETE /listeners/<lb_id> (3.2, 3.6)
    lb.listeners = []
    client.delete_listener(amp, lb.id)
    details = client.get_details(amp)
    check('after delete /details lists no listener', details['listeners'] == []
          and details['haproxy_count'] == 0, got=details)
    msg = hm.wait('heartbeat with no listener', lambda m: m['listeners'] == {} and m['pools'] == {})
    check('after delete the heartbeat reports nothing', True)
    r = client.delete(amp, 'listeners/%s' % uid())
    check('deleting an unknown LB is 200 (idempotent)', r.status_code == 200,
          status=r.status_code, body=r.text)


def main():
    opts = json.loads(sys.argv[1])
    os.makedirs(opts['workdir'], exist_ok=True)
    amp_id = opts.get('amp_id') or uid()
    opts['amp_id'] = amp_id
    pki = make_pki(opts['workdir'], amp_id)
    configure(opts, pki)
    hm = HealthManager()
    members = Members()
    ports = {'a': members.http('member-a'), 'b': members.http('member-b'),
             'echo': members.echo(), 'dead': free_port()}
    emit('ready', amp_id=amp_id, server_pem=pki['server_pem'], client_ca=pki['client_ca'],
         heartbeat_port=hm.port)
    line = sys.stdin.readline()
    if not line:
        emit('fail', error='stdin closed before the agent was started', traceback='')
        return 1
    go = json.loads(line)
    try:
        scenario(opts, pki, hm, members, ports, int(go['agent_port']), go['bind_host'],
                 bool(go.get('ipv6')))
    except Exception as e:  # report everything to the test, then fail
        emit('fail', error='%s: %s' % (type(e).__name__, e), traceback=traceback.format_exc())
        return 1
    finally:
        members.close()
    emit('done', heartbeats=len(hm.messages))
    return 0


if __name__ == '__main__':
    sys.exit(main())
