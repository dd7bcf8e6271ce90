// Sample fetches and converters: the names HAProxy 2.6 knows, what type each returns, how
// many arguments it takes, and the parser for `fetch(args),conv(args),...` expressions.
//
// The tables list names (per HAProxy's configuration manual, section 7.3) so that a typo is
// an error at load time, and give each output type so an ACL gets HAProxy's default match
// method. Whether the engine can *evaluate* a fetch is a separate question answered by
// compile/support.ts.

import type { MatchMethod, SampleFetch } from './model.ts';
import { LineError } from './units.ts';

export type SampleType = 'str' | 'sint' | 'bool' | 'ipv4' | 'ipv6' | 'addr' | 'bin' | 'meth' | 'any';

// name[/max arguments], grouped by output type.
const FETCH_TABLE: Record<string, string[]> = {
  any: [
    'var/2',
  ],
  bin: [
    'base32+src bin/1 distcc_body/2 payload/2 payload_lv/3 req.body req.body_param/1 req.hdrs',
    'req.hdrs_bin req.payload/2 req.payload_lv/3 res.body res.hdrs res.hdrs_bin res.payload/2',
    'res.payload_lv/3 ssl_bc_client_random ssl_bc_server_random ssl_bc_session_id',
    'ssl_bc_session_key ssl_bc_unique_id ssl_c_chain_der ssl_c_der ssl_c_serial ssl_c_sha1',
    'ssl_f_der ssl_f_serial ssl_f_sha1 ssl_fc_cipherlist_hex/1 ssl_fc_client_random',
    'ssl_fc_server_random ssl_fc_session_id ssl_fc_session_key ssl_fc_unique_id ssl_s_chain_der',
    'ssl_s_der ssl_s_serial ssl_s_sha1 url32+src',
  ],
  bool: [
    'always_false always_true bool/1 dst_is_local fc_dst_is_local fc_rcvd_proxy fc_src_is_local',
    'http_auth/1 http_first_req req.proto_http req.ssl_ec_ext req_proto_http res.cache_hit',
    'res.comp sc0_tracked/1 sc1_tracked/1 sc2_tracked/1 sc_tracked/2 src_is_local srv_is_up/1',
    'ssl_bc ssl_bc_is_resumed ssl_c_used ssl_fc ssl_fc_has_crt ssl_fc_has_early ssl_fc_has_sni',
    'ssl_fc_is_resumed stopping wait_end',
  ],
  ipv4: [
    'dst fc_dst fc_src hdr_ip/2 ipv4/1 req.hdr_ip/2 res.hdr_ip/2 shdr_ip/2 src url_ip',
  ],
  ipv6: [
    'ipv6/1',
  ],
  meth: [
    'meth/1 method',
  ],
  sint: [
    'avg_queue/1 base32 bc_dst bc_dst_port bc_err bc_http_major bc_src bc_src_port be_conn/1',
    'be_conn_free/1 be_id be_server_timeout be_sess_rate/1 be_tunnel_timeout connslots/1',
    'cook_cnt/1 cook_val/1 cpu_calls cpu_ns_avg cpu_ns_tot cur_server_timeout cur_tunnel_timeout',
    'date/2 date_us distcc_param/2 dst_conn dst_port fc_dst_port fc_err fc_fackets/1',
    'fc_http_major fc_lost/1 fc_reordering/1 fc_retrans/1 fc_rtt/1 fc_rttvar/1 fc_sacked/1',
    'fc_src_port fc_unacked/1 fe_client_timeout fe_conn/1 fe_id fe_req_rate/1 fe_sess_rate/1',
    'hdr_cnt/1 hdr_val/2 int/1 last_rule_line lat_ns_avg lat_ns_tot nbproc nbsrv/1 prio_class',
    'prio_offset proc queue/1 rand/1 rdp_cookie_cnt/1 rep_ssl_hello_type req.body_len',
    'req.body_size req.cook_cnt/1 req.cook_val/1 req.fhdr_cnt/1 req.hdr_cnt/1 req.hdr_val/2',
    'req.len req.rdp_cookie_cnt/1 req.ssl_hello_type req.ssl_st_ext req.ssl_ver req_len',
    'req_ssl_hello_type req_ssl_ver res.body_len res.body_size res.cook_cnt/1 res.cook_val/1',
    'res.fhdr_cnt/1 res.hdr_cnt/1 res.hdr_val/2 res.len res.ssl_hello_type sc0_bytes_in_rate/1',
    'sc0_bytes_out_rate/1 sc0_clr_gpc0/1 sc0_clr_gpc1/1 sc0_conn_cnt/1 sc0_conn_cur/1',
    'sc0_conn_rate/1 sc0_get_gpc0/1 sc0_get_gpc1/1 sc0_get_gpt0/1 sc0_gpc0_rate/1 sc0_gpc1_rate/1',
    'sc0_http_err_cnt/1 sc0_http_err_rate/1 sc0_http_fail_cnt/1 sc0_http_fail_rate/1',
    'sc0_http_req_cnt/1 sc0_http_req_rate/1 sc0_inc_gpc0/1 sc0_inc_gpc1/1 sc0_kbytes_in/1',
    'sc0_kbytes_out/1 sc0_sess_cnt/1 sc0_sess_rate/1 sc0_trackers/1 sc1_bytes_in_rate/1',
    'sc1_bytes_out_rate/1 sc1_clr_gpc/2 sc1_clr_gpc0/1 sc1_clr_gpc1/1 sc1_conn_cnt/1',
    'sc1_conn_cur/1 sc1_conn_rate/1 sc1_get_gpc0/1 sc1_get_gpc1/1 sc1_get_gpt0/1 sc1_gpc0_rate/1',
    'sc1_gpc1_rate/1 sc1_http_err_cnt/1 sc1_http_err_rate/1 sc1_http_fail_cnt/1',
    'sc1_http_fail_rate/1 sc1_http_req_cnt/1 sc1_http_req_rate/1 sc1_inc_gpc0/1 sc1_inc_gpc1/1',
    'sc1_kbytes_in/1 sc1_kbytes_out/1 sc1_sess_cnt/1 sc1_sess_rate/1 sc1_trackers/1',
    'sc2_bytes_in_rate/1 sc2_bytes_out_rate/1 sc2_clr_gpc0/1 sc2_clr_gpc1/1 sc2_conn_cnt/1',
    'sc2_conn_cur/1 sc2_conn_rate/1 sc2_get_gpc0/1 sc2_get_gpc1/1 sc2_get_gpt0/1 sc2_gpc0_rate/1',
    'sc2_gpc1_rate/1 sc2_http_err_cnt/1 sc2_http_err_rate/1 sc2_http_fail_cnt/1',
    'sc2_http_fail_rate/1 sc2_http_req_cnt/1 sc2_http_req_rate/1 sc2_inc_gpc0/1 sc2_inc_gpc1/1',
    'sc2_kbytes_in/1 sc2_kbytes_out/1 sc2_sess_cnt/1 sc2_sess_rate/1 sc2_trackers/1',
    'sc_bytes_in_rate/2 sc_bytes_out_rate/2 sc_clr_gpc/3 sc_clr_gpc0/2 sc_clr_gpc1/2',
    'sc_conn_cnt/2 sc_conn_cur/2 sc_conn_rate/2 sc_get_gpc/3 sc_get_gpc0/2 sc_get_gpc1/2',
    'sc_get_gpt/3 sc_get_gpt0/2 sc_gpc0_rate/2 sc_gpc1_rate/2 sc_gpc_rate/3 sc_http_err_cnt/2',
    'sc_http_err_rate/2 sc_http_fail_cnt/2 sc_http_fail_rate/2 sc_http_req_cnt/2',
    'sc_http_req_rate/2 sc_inc_gpc/3 sc_inc_gpc0/2 sc_inc_gpc1/2 sc_kbytes_in/2 sc_kbytes_out/2',
    'sc_sess_cnt/2 sc_sess_rate/2 sc_trackers/2 scook_cnt/1 scook_val/1 shdr_cnt/1 shdr_val/2',
    'so_id src_bytes_in_rate/1 src_bytes_out_rate/1 src_clr_gpc/2 src_clr_gpc0/1 src_clr_gpc1/1',
    'src_conn_cnt/1 src_conn_cur/1 src_conn_rate/1 src_get_gpc/2 src_get_gpc0/1 src_get_gpc1/1',
    'src_get_gpt/2 src_get_gpt0/1 src_gpc0_rate/1 src_gpc1_rate/1 src_gpc_rate/2',
    'src_http_err_cnt/1 src_http_err_rate/1 src_http_fail_cnt/1 src_http_fail_rate/1',
    'src_http_req_cnt/1 src_http_req_rate/1 src_inc_gpc/2 src_inc_gpc0/1 src_inc_gpc1/1',
    'src_kbytes_in/1 src_kbytes_out/1 src_port src_sess_cnt/1 src_sess_rate/1 src_updt_conn_cnt/1',
    'srv_conn/1 srv_conn_free/1 srv_id srv_iweight/1 srv_queue/1 srv_sess_rate/1 srv_uweight/1',
    'srv_weight/1 ssl_bc_alg_keysize ssl_bc_err ssl_bc_use_keysize ssl_c_ca_err',
    'ssl_c_ca_err_depth ssl_c_err ssl_c_verify ssl_c_version ssl_f_version ssl_fc_alg_keysize',
    'ssl_fc_cipherlist_xxh ssl_fc_err ssl_fc_protocol_hello_id ssl_fc_use_keysize ssl_s_version',
    'status table_avl/1 table_cnt/1 thread url32 url_port urlp_val/2',
  ],
  str: [
    'base baseq bc_err_str be_name capture.req.hdr/1 capture.req.method capture.req.uri',
    'capture.req.ver capture.res.hdr/1 capture.res.ver cook/1 cookie/1 env/1 fc_err_str',
    'fc_pp_authority fc_pp_unique_id fcgi.docroot fcgi.index fe_defbe fe_name hdr/2 hostname',
    'http_auth_bearer/1 http_auth_group/1 http_auth_pass http_auth_type http_auth_user',
    'last_rule_file path pathq query rdp_cookie/1 req.cook/1 req.fhdr/2 req.hdr/2 req.hdr_names/1',
    'req.rdp_cookie/1 req.ssl_alpn req.ssl_sni req.ver req_ssl_sni req_ver res.cache_name',
    'res.comp_algo res.cook/1 res.fhdr/2 res.hdr/2 res.hdr_names/1 res.ver resp_ver scook/1',
    'shdr/2 so_name srv_name ssl_bc_alpn ssl_bc_cipher ssl_bc_err_str ssl_bc_npn ssl_bc_protocol',
    'ssl_c_i_dn/3 ssl_c_key_alg ssl_c_notafter ssl_c_notbefore ssl_c_s_dn/3 ssl_c_sig_alg',
    'ssl_f_i_dn/3 ssl_f_key_alg ssl_f_notafter ssl_f_notbefore ssl_f_s_dn/3 ssl_f_sig_alg',
    'ssl_fc_alpn ssl_fc_cipher ssl_fc_cipherlist_bin/1 ssl_fc_cipherlist_str/1',
    'ssl_fc_client_early_traffic_secret ssl_fc_client_handshake_traffic_secret',
    'ssl_fc_client_traffic_secret_0 ssl_fc_early_exporter_secret ssl_fc_ecformats_bin',
    'ssl_fc_eclist_bin/1 ssl_fc_err_str ssl_fc_exporter_secret ssl_fc_extlist_bin/1 ssl_fc_npn',
    'ssl_fc_protocol ssl_fc_server_handshake_traffic_secret ssl_fc_server_traffic_secret_0',
    'ssl_fc_sni ssl_s_i_dn/3 ssl_s_key_alg ssl_s_notafter ssl_s_notbefore ssl_s_s_dn/3',
    'ssl_s_sig_alg str/1 unique-id url url_param/2 urlp/2 uuid/1',
  ],
};

const CONVERTER_TABLE: Record<string, string[]> = {
  addr: [
    'map_beg_ip/2 map_dir_ip/2 map_dom_ip/2 map_end_ip/2 map_int_ip/2 map_ip_ip/2 map_reg_ip/2',
    'map_str_ip/2 map_sub_ip/2',
  ],
  any: [
    'debug/2 json_query/2 jwt_header_query/2 jwt_payload_query/2 set-var/5 unset-var/1',
  ],
  bin: [
    'aes_gcm_dec/4 b64dec bytes/2 digest/1 fix_tag_value/1 hmac/2 htonl protobuf/2 sha1 sha2/1',
    'ub64dec ungrpc/2',
  ],
  bool: [
    'bool even fix_is_valid in_table/1 mqtt_is_valid not odd secure_memcmp/1',
  ],
  ipv4: [
    'ipmask/2',
  ],
  sint: [
    'add/1 and/1 cpl crc32/1 crc32c/1 div/1 djb2/1 hex2i jwt_verify/2 length map_beg_int/2',
    'map_dir_int/2 map_dom_int/2 map_end_int/2 map_int_int/2 map_ip_int/2 map_reg_int/2',
    'map_str_int/2 map_sub_int/2 mod/1 mul/1 nbsrv neg or/1 sdbm/1 srv_queue strcmp/1 sub/1',
    'table_bytes_in_rate/1 table_bytes_out_rate/1 table_conn_cnt/1 table_conn_cur/1',
    'table_conn_rate/1 table_gpc/2 table_gpc0/1 table_gpc0_rate/1 table_gpc1/1 table_gpc1_rate/1',
    'table_gpc_rate/2 table_gpt/2 table_gpt0/1 table_http_err_cnt/1 table_http_err_rate/1',
    'table_http_fail_cnt/1 table_http_fail_rate/1 table_http_req_cnt/1 table_http_req_rate/1',
    'table_kbytes_in/1 table_kbytes_out/1 table_server_id/1 table_sess_cnt/1 table_sess_rate/1',
    'table_trackers/1 wt6/1 xor/1 xxh3/1 xxh32/1 xxh64/1',
  ],
  str: [
    'add_item/3 base64 be2dec/3 be2hex/3 capture-req/1 capture-res/1 concat/3 cut_crlf field/3',
    'hex http_date/2 iif/2 json/1 language/2 lower ltime/2 ltrim/1 map/2 map_beg/2 map_dir/2',
    'map_dom/2 map_end/2 map_int/2 map_ip/2 map_reg/2 map_regm/2 map_str/2 map_sub/2',
    'mqtt_field_value/2 regsub/3 rtrim/1 ub64enc upper url_dec/1 url_enc/1 utime/2 word/3',
  ],
};

interface Known {
  type: SampleType;
  maxArgs: number;
}

function index(table: Record<string, string[]>): Map<string, Known> {
  const out = new Map<string, Known>();
  for (const [type, lines] of Object.entries(table)) {
    for (const entry of lines.join(' ').split(' ')) {
      const [name, max] = entry.split('/');
      out.set(name!, { type: type as SampleType, maxArgs: max === undefined ? 0 : Number(max) });
    }
  }
  return out;
}

const FETCHES = index(FETCH_TABLE);
const CONVERTERS = index(CONVERTER_TABLE);

/**
 * ACL keywords that are a fetch plus an implied match method (`path_beg` = `path -m beg`).
 * HAProxy keeps the keyword name in the ACL; the model does too (fetch.name = 'path_beg'),
 * with `match` holding the method. An explicit `-m` replaces the implied method while the
 * sample stays the base fetch's: `path_end -m str x` compares the whole path with x.
 */
const ACL_ALIASES = new Map<string, { base: string; match: MatchMethod }>();
{
  const families: [string, string][] = [
    ['base', 'base'],
    ['path', 'path'],
    ['url', 'url'],
    ['urlp', 'urlp'],
    ['hdr', 'req.hdr'],
    ['shdr', 'res.hdr'],
    ['cook', 'req.cook'],
    ['scook', 'res.cook'],
  ];
  const suffixes: MatchMethod[] = ['beg', 'dir', 'dom', 'end', 'len', 'reg', 'sub'];
  for (const [prefix, base] of families) {
    for (const s of suffixes) ACL_ALIASES.set(`${prefix}_${s}`, { base, match: s });
  }
  ACL_ALIASES.set('ssl_fc_sni_end', { base: 'ssl_fc_sni', match: 'end' });
  ACL_ALIASES.set('ssl_fc_sni_reg', { base: 'ssl_fc_sni', match: 'reg' });
  ACL_ALIASES.set('req_rdp_cookie', { base: 'req.rdp_cookie', match: 'str' });
  ACL_ALIASES.set('req_rdp_cookie_cnt', { base: 'req.rdp_cookie_cnt', match: 'int' });
}

/** Match method HAProxy picks for a sample of this type when no `-m` is given. */
export function defaultMatch(type: SampleType): MatchMethod {
  switch (type) {
    case 'sint':
      return 'int';
    case 'bool':
      return 'bool';
    case 'ipv4':
    case 'ipv6':
    case 'addr':
      return 'ip';
    case 'bin':
      return 'bin';
    default:
      return 'str';
  }
}

/** The ACL keyword's implied method, if `name` is one of the `<fetch>_<method>` aliases. */
export function aclAlias(name: string): { base: string; match: MatchMethod } | undefined {
  return ACL_ALIASES.get(name);
}

/** Output type of a parsed expression: the last converter's, else the fetch's. */
export function sampleType(fetch: SampleFetch): SampleType {
  const last = fetch.converters[fetch.converters.length - 1];
  if (last) return CONVERTERS.get(last.name)?.type ?? 'any';
  const alias = ACL_ALIASES.get(fetch.name);
  return FETCHES.get(alias ? alias.base : fetch.name)?.type ?? 'any';
}

/**
 * Parse `fetch[(args)][,conv[(args)]]...` starting at text[from]. Stops at the end of the
 * text or, when `stop` is given, at the first such character outside parentheses/quotes
 * (`]` for `%[...]`). Returns the expression and the index where parsing stopped.
 */
export function parseSampleAt(
  text: string,
  from: number,
  opts: { stop?: string; aclKeyword?: boolean } = {},
): { fetch: SampleFetch; end: number } {
  let i = from;
  const NAME = /[A-Za-z0-9_.+-]+/y;
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(text);
    if (!m) throw new LineError(`missing fetch method in sample expression '${text.slice(from)}'`);
    i += m[0].length;
    return m[0];
  };
  const args = (): string[] => {
    if (text[i] !== '(') return [];
    i++;
    const out: string[] = [];
    let cur = '';
    let q: string | undefined;
    let depth = 0;
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new LineError(`missing closing ')' in sample expression '${text.slice(from)}'`);
      i++;
      if (q) {
        if (c === '\\' && i < text.length) cur += text[i++];
        else if (c === q) q = undefined;
        else cur += c;
        continue;
      }
      if (c === "'" || c === '"') q = c;
      else if (c === '\\' && i < text.length) cur += text[i++];
      else if (c === '(') {
        depth++;
        cur += c;
      } else if (c === ')' && depth > 0) {
        depth--;
        cur += c;
      } else if (c === ')') {
        out.push(cur);
        break;
      } else if (c === ',' && depth === 0) {
        out.push(cur);
        cur = '';
      } else cur += c;
    }
    // `fetch()` means no argument.
    if (out.length === 1 && out[0] === '') return [];
    return out;
  };

  const fetchName = name();
  const alias = opts.aclKeyword ? ACL_ALIASES.get(fetchName) : undefined;
  const known = FETCHES.get(alias ? alias.base : fetchName);
  if (!known) throw new LineError(`unknown fetch method '${fetchName}'`);
  const fetchArgs = args();
  if (fetchArgs.length > known.maxArgs) {
    throw new LineError(`fetch method '${fetchName}' takes at most ${known.maxArgs} argument(s), got ${fetchArgs.length}`);
  }
  const fetch: SampleFetch = { name: fetchName, args: fetchArgs, converters: [] };
  while (text[i] === ',') {
    i++;
    const convName = name();
    const conv = CONVERTERS.get(convName);
    if (!conv) throw new LineError(`unknown converter '${convName}' in sample expression '${text.slice(from)}'`);
    const convArgs = args();
    if (convArgs.length > conv.maxArgs) {
      throw new LineError(`converter '${convName}' takes at most ${conv.maxArgs} argument(s), got ${convArgs.length}`);
    }
    fetch.converters.push({ name: convName, args: convArgs });
  }
  if (i < text.length && !(opts.stop && opts.stop.includes(text[i]!))) {
    throw new LineError(`unexpected '${text[i]}' after sample expression '${text.slice(from, i)}'`);
  }
  return { fetch, end: i };
}

/** A whole word that is one sample expression (e.g. `ssl_fc_sni`, `req.cook(SRV)`). */
export function parseSample(word: string, aclKeyword = false): SampleFetch {
  return parseSampleAt(word, 0, { aclKeyword }).fetch;
}

// Fetches that read the request as it is being received (its line, headers, body or
// payload), and fetches that read the response. HAProxy refuses the first kind in response
// rules and the second kind in request rules: that data is not there at that moment.
const REQUEST_ONLY = new Set(
  (
    'base base32 base32+src baseq cook cook_cnt cook_val fcgi.docroot fcgi.index hdr_cnt hdr_ip ' +
    'hdr_val http_auth http_auth_bearer http_auth_group http_auth_pass http_auth_type http_auth_user ' +
    'path pathq query rdp_cookie rdp_cookie_cnt req.body req.body_len req.body_param req.body_size ' +
    'req.cook req.cook_cnt req.cook_val req.fhdr req.fhdr_cnt req.hdr req.hdr_cnt req.hdr_ip ' +
    'req.hdr_names req.hdr_val req.hdrs req.hdrs_bin req.len req.payload req.payload_lv ' +
    'req.rdp_cookie req.rdp_cookie_cnt req.ssl_alpn req.ssl_ec_ext req.ssl_hello_type req.ssl_sni ' +
    'req.ssl_st_ext req.ssl_ver req.ver req_len req_ssl_hello_type req_ssl_sni req_ssl_ver req_ver ' +
    'url url32 url32+src url_ip url_param url_port urlp urlp_val'
  ).split(' '),
);
const RESPONSE_ONLY = new Set(
  (
    'capture.res.hdr rep_ssl_hello_type res.body res.body_len res.body_size res.comp res.comp_algo ' +
    'res.cook res.cook_cnt res.cook_val res.fhdr res.fhdr_cnt res.hdr res.hdr_cnt res.hdr_ip ' +
    'res.hdr_names res.hdr_val res.hdrs res.hdrs_bin res.len res.payload res.payload_lv ' +
    'res.ssl_hello_type res.ver resp_ver scook scook_cnt scook_val shdr shdr_cnt shdr_ip shdr_val status'
  ).split(' '),
);

/** Response data HAProxy keeps until the log line is written. */
const RESPONSE_KEPT = new Set(['status', 'capture.res.hdr', 'res.comp', 'res.comp_algo']);

/** When a fetch can be evaluated: only while the request arrives, only on the response, or any time. */
export function samplePhase(fetch: SampleFetch): 'request' | 'response' | 'any' {
  const name = ACL_ALIASES.get(fetch.name)?.base ?? fetch.name;
  if (REQUEST_ONLY.has(name)) return 'request';
  if (RESPONSE_ONLY.has(name)) return 'response';
  return 'any';
}

/** Whether a fetch still has its data when the log line is built (end of the stream). */
export function availableAtLog(fetch: SampleFetch): boolean {
  const name = ACL_ALIASES.get(fetch.name)?.base ?? fetch.name;
  return !REQUEST_ONLY.has(name) && (!RESPONSE_ONLY.has(name) || RESPONSE_KEPT.has(name));
}
