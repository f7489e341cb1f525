//! The directives Squid knows, to tell a misspelt one from a real one.
//!
//! Transcribed from the `TAG:` lines of the squid.conf that Debian's
//! squid-openssl 5.7-2+deb12u6 installs (Squid 5.7), which document the
//! directives, obsolete ones included (Squid reports those itself), plus
//! the 37 aliases and retired names Squid 5.7 still recognises without a
//! `TAG:` line (`redirect_program`, `no_cache`, ...): found by running
//! `squid -k parse` on a line holding each directive-like name in its
//! binary and keeping the names it did not call "unrecognized".
//! `include`, `if`, `else` and `endif` are read by the parser before
//! directives and are not listed.

/// Sorted, for a binary search.
pub const DIRECTIVES: [&str; 421] = [
    "accept_filter",
    "access_log",
    "acl",
    "acl_uses_indirect_client",
    "adaptation_access",
    "adaptation_masterx_shared_names",
    "adaptation_meta",
    "adaptation_send_client_ip",
    "adaptation_send_username",
    "adaptation_service_chain",
    "adaptation_service_iteration_limit",
    "adaptation_service_set",
    "adaptation_uses_indirect_client",
    "adapted_http_access",
    "allow_underscore",
    "always_direct",
    "announce_file",
    "announce_host",
    "announce_period",
    "announce_port",
    "append_domain",
    "as_whois_server",
    "ascii_port",
    "auth_param",
    "auth_schemes",
    "authenticate_cache_garbage_interval",
    "authenticate_ip_ttl",
    "authenticate_ttl",
    "background_ping_rate",
    "balance_on_multiple_ip",
    "broken_posts",
    "broken_vary_encoding",
    "buffered_logs",
    "cache",
    "cache_access_log",
    "cache_dir",
    "cache_effective_group",
    "cache_effective_user",
    "cache_host_domain",
    "cache_log",
    "cache_mem",
    "cache_mgr",
    "cache_miss_revalidate",
    "cache_peer",
    "cache_peer_access",
    "cache_peer_domain",
    "cache_replacement_policy",
    "cache_store_log",
    "cache_swap_high",
    "cache_swap_log",
    "cache_swap_low",
    "cache_swap_state",
    "cache_vary",
    "cachemgr_passwd",
    "check_hostnames",
    "chroot",
    "chunked_request_body_max_size",
    "client_db",
    "client_delay_access",
    "client_delay_initial_bucket_level",
    "client_delay_parameters",
    "client_delay_pools",
    "client_dst_passthru",
    "client_idle_pconn_timeout",
    "client_ip_max_connections",
    "client_lifetime",
    "client_netmask",
    "client_persistent_connections",
    "client_request_buffer_max_size",
    "clientside_mark",
    "clientside_tos",
    "collapsed_forwarding",
    "collapsed_forwarding_access",
    "collapsed_forwarding_shared_entries_limit",
    "configuration_includes_quoted_values",
    "connect_retries",
    "connect_timeout",
    "coredump_dir",
    "cpu_affinity_map",
    "dead_peer_timeout",
    "debug_options",
    "delay_access",
    "delay_class",
    "delay_initial_bucket_level",
    "delay_parameters",
    "delay_pool_uses_indirect_client",
    "delay_pools",
    "deny_info",
    "detect_broken_pconn",
    "digest_bits_per_entry",
    "digest_generation",
    "digest_rebuild_chunk_percentage",
    "digest_rebuild_period",
    "digest_rewrite_period",
    "digest_swapout_chunk_size",
    "diskd_program",
    "dns_defnames",
    "dns_multicast_local",
    "dns_nameservers",
    "dns_packet_max",
    "dns_retransmit_interval",
    "dns_testnames",
    "dns_timeout",
    "dns_v4_fallback",
    "dns_v4_first",
    "ecap_enable",
    "ecap_service",
    "email_err_data",
    "emulate_httpd_log",
    "err_html_text",
    "err_page_stylesheet",
    "error_default_language",
    "error_directory",
    "error_log_languages",
    "error_map",
    "esi_parser",
    "eui_lookup",
    "extension_methods",
    "external_acl_type",
    "external_refresh_check",
    "follow_x_forwarded_for",
    "force_request_body_continuation",
    "forward_log",
    "forward_max_tries",
    "forward_timeout",
    "forwarded_for",
    "fqdncache_size",
    "ftp_client_idle_timeout",
    "ftp_eprt",
    "ftp_epsv",
    "ftp_epsv_all",
    "ftp_list_width",
    "ftp_passive",
    "ftp_port",
    "ftp_sanitycheck",
    "ftp_telnet_protocol",
    "ftp_user",
    "global_internal_static",
    "half_closed_clients",
    "happy_eyeballs_connect_gap",
    "happy_eyeballs_connect_limit",
    "happy_eyeballs_connect_timeout",
    "header_access",
    "hierarchy_stoplist",
    "high_memory_warning",
    "high_page_fault_warning",
    "high_response_time_warning",
    "hopeless_kid_revival_delay",
    "host_verify_strict",
    "hostname_aliases",
    "hosts_file",
    "htcp_access",
    "htcp_clr_access",
    "htcp_port",
    "http_accel_surrogate_remote",
    "http_access",
    "http_access2",
    "http_port",
    "http_reply_access",
    "http_upgrade_request_protocols",
    "httpd_accel_no_pmtu_disc",
    "httpd_accel_surrogate_id",
    "httpd_suppress_version_string",
    "https_port",
    "icap_206_enable",
    "icap_access",
    "icap_class",
    "icap_client_username_encode",
    "icap_client_username_header",
    "icap_connect_timeout",
    "icap_default_options_ttl",
    "icap_enable",
    "icap_io_timeout",
    "icap_log",
    "icap_persistent_connections",
    "icap_preview_enable",
    "icap_preview_size",
    "icap_retry",
    "icap_retry_limit",
    "icap_send_client_ip",
    "icap_send_client_username",
    "icap_service",
    "icap_service_failure_limit",
    "icap_service_revival_delay",
    "icap_uses_indirect_client",
    "icon_directory",
    "icp_access",
    "icp_hit_stale",
    "icp_port",
    "icp_query_timeout",
    "ident_lookup_access",
    "ident_timeout",
    "ie_refresh",
    "ignore_expect_100",
    "ignore_ims_on_miss",
    "ignore_unknown_nameservers",
    "incoming_dns_average",
    "incoming_http_average",
    "incoming_icp_average",
    "incoming_rate",
    "incoming_tcp_average",
    "incoming_udp_average",
    "ipcache_high",
    "ipcache_low",
    "ipcache_size",
    "loadable_modules",
    "location_rewrite_access",
    "location_rewrite_children",
    "location_rewrite_concurrency",
    "location_rewrite_program",
    "log_access",
    "log_fqdn",
    "log_icap",
    "log_icp_queries",
    "log_ip_on_direct",
    "log_mime_hdrs",
    "log_uses_indirect_client",
    "logfile_daemon",
    "logfile_rotate",
    "logformat",
    "mail_from",
    "mail_program",
    "mark_client_connection",
    "mark_client_packet",
    "max_filedesc",
    "max_filedescriptors",
    "max_open_disk_fds",
    "max_stale",
    "maximum_icp_query_timeout",
    "maximum_object_size",
    "maximum_object_size_in_memory",
    "maximum_single_addr_tries",
    "mcast_groups",
    "mcast_icp_query_timeout",
    "mcast_miss_addr",
    "mcast_miss_encode_key",
    "mcast_miss_port",
    "mcast_miss_ttl",
    "memory_cache_mode",
    "memory_cache_shared",
    "memory_pools",
    "memory_pools_limit",
    "memory_replacement_policy",
    "mime_table",
    "min_dns_poll_cnt",
    "min_http_poll_cnt",
    "min_icp_poll_cnt",
    "min_tcp_poll_cnt",
    "min_udp_poll_cnt",
    "minimum_direct_hops",
    "minimum_direct_rtt",
    "minimum_expiry_time",
    "minimum_icp_query_timeout",
    "minimum_object_size",
    "miss_access",
    "negative_dns_ttl",
    "negative_ttl",
    "neighbor_type_domain",
    "netdb_filename",
    "netdb_high",
    "netdb_low",
    "netdb_ping_period",
    "never_direct",
    "no_cache",
    "nonhierarchical_direct",
    "note",
    "offline_mode",
    "on_unsupported_protocol",
    "pconn_lifetime",
    "peer_connect_timeout",
    "persistent_connection_after_error",
    "persistent_request_timeout",
    "pid_filename",
    "pinger_enable",
    "pinger_program",
    "pipeline_prefetch",
    "positive_dns_ttl",
    "prefer_direct",
    "proxy_protocol_access",
    "qos_flows",
    "query_icmp",
    "quick_abort_max",
    "quick_abort_min",
    "quick_abort_pct",
    "range_offset_limit",
    "read_ahead_gap",
    "read_timeout",
    "redirect_children",
    "redirect_program",
    "redirect_rewrites_host_header",
    "redirector_access",
    "redirector_bypass",
    "referer_log",
    "referrer_log",
    "refresh_all_ims",
    "refresh_pattern",
    "refresh_stale_hit",
    "relaxed_header_parser",
    "reload_into_ims",
    "reply_body_max_size",
    "reply_header_access",
    "reply_header_add",
    "reply_header_max_size",
    "reply_header_replace",
    "request_body_max_size",
    "request_entities",
    "request_header_access",
    "request_header_add",
    "request_header_max_size",
    "request_header_replace",
    "request_start_timeout",
    "request_timeout",
    "response_delay_pool",
    "response_delay_pool_access",
    "retry_on_error",
    "send_hit",
    "server_http11",
    "server_idle_pconn_timeout",
    "server_pconn_for_nonretriable",
    "server_persistent_connections",
    "shared_memory_locking",
    "shared_transient_entries_limit",
    "short_icon_urls",
    "shutdown_lifetime",
    "sleep_after_fork",
    "snmp_access",
    "snmp_incoming_address",
    "snmp_outgoing_address",
    "snmp_port",
    "spoof_client_ip",
    "ssl_bump",
    "ssl_engine",
    "ssl_unclean_shutdown",
    "sslcrtd_children",
    "sslcrtd_program",
    "sslcrtvalidator_children",
    "sslcrtvalidator_program",
    "sslpassword_program",
    "sslproxy_cafile",
    "sslproxy_capath",
    "sslproxy_cert_adapt",
    "sslproxy_cert_error",
    "sslproxy_cert_sign",
    "sslproxy_cert_sign_hash",
    "sslproxy_cipher",
    "sslproxy_client_certificate",
    "sslproxy_client_key",
    "sslproxy_flags",
    "sslproxy_foreign_intermediate_certs",
    "sslproxy_options",
    "sslproxy_session_cache_size",
    "sslproxy_session_ttl",
    "sslproxy_version",
    "stats_collection",
    "store_avg_object_size",
    "store_dir_select_algorithm",
    "store_id_access",
    "store_id_bypass",
    "store_id_children",
    "store_id_extras",
    "store_id_program",
    "store_miss",
    "store_objects_per_bucket",
    "storeurl_rewrite_access",
    "storeurl_rewrite_bypass",
    "storeurl_rewrite_children",
    "storeurl_rewrite_program",
    "strip_query_terms",
    "tcp_outgoing_address",
    "tcp_outgoing_ds",
    "tcp_outgoing_dscp",
    "tcp_outgoing_mark",
    "tcp_outgoing_tos",
    "tcp_recv_bufsize",
    "test_reachability",
    "tls_outgoing_options",
    "tproxy_uses_indirect_client",
    "udp_incoming_address",
    "udp_outgoing_address",
    "udp_port",
    "umask",
    "unique_hostname",
    "unlinkd_program",
    "update_headers",
    "upgrade_http0.9",
    "uri_whitespace",
    "url_rewrite_access",
    "url_rewrite_bypass",
    "url_rewrite_children",
    "url_rewrite_concurrency",
    "url_rewrite_extras",
    "url_rewrite_host_header",
    "url_rewrite_program",
    "url_rewrite_timeout",
    "useragent_log",
    "vary_ignore_expire",
    "via",
    "visible_hostname",
    "wais_relay_host",
    "wais_relay_port",
    "wccp2_address",
    "wccp2_assignment_method",
    "wccp2_forwarding_method",
    "wccp2_rebuild_wait",
    "wccp2_return_method",
    "wccp2_router",
    "wccp2_service",
    "wccp2_service_info",
    "wccp2_weight",
    "wccp_address",
    "wccp_router",
    "wccp_version",
    "windows_ipaddrchangemonitor",
    "workers",
    "write_timeout",
    "zero_buffers",
    "zph_local",
    "zph_mode",
    "zph_option",
    "zph_parent",
    "zph_sibling",
];

/// Directives Squid 5.7 still knows but ignores, saying so with an ERROR:
/// `ERROR: Directive 'NAME' is obsolete.` Found by running `squid -k
/// parse` on a line of each directive above.
pub const OBSOLETE: [&str; 55] = [
    "balance_on_multiple_ip",
    "broken_vary_encoding",
    "cache_host_domain",
    "cache_peer_domain",
    "cache_vary",
    "chunked_request_body_max_size",
    "dns_testnames",
    "dns_v4_fallback",
    "dns_v4_first",
    "emulate_httpd_log",
    "error_map",
    "extension_methods",
    "external_refresh_check",
    "forward_log",
    "ftp_list_width",
    "header_access",
    "hierarchy_stoplist",
    "httpd_accel_no_pmtu_disc",
    "ie_refresh",
    "ignore_expect_100",
    "ignore_ims_on_miss",
    "incoming_rate",
    "location_rewrite_access",
    "location_rewrite_children",
    "location_rewrite_concurrency",
    "location_rewrite_program",
    "log_access",
    "log_fqdn",
    "log_icap",
    "log_ip_on_direct",
    "maximum_single_addr_tries",
    "referer_log",
    "referrer_log",
    "refresh_stale_hit",
    "server_http11",
    "sslproxy_cafile",
    "sslproxy_capath",
    "sslproxy_cipher",
    "sslproxy_client_certificate",
    "sslproxy_client_key",
    "sslproxy_flags",
    "sslproxy_options",
    "sslproxy_version",
    "update_headers",
    "upgrade_http0.9",
    "url_rewrite_concurrency",
    "useragent_log",
    "wais_relay_host",
    "wais_relay_port",
    "zero_buffers",
    "zph_local",
    "zph_mode",
    "zph_option",
    "zph_parent",
    "zph_sibling",
];

/// Directives Debian's Squid 5.7 was built without: it ignores them with
/// `ERROR: 'NAME' requires WHAT` (found as [`OBSOLETE`] was).
pub const UNBUILT: [(&str, &str); 7] = [
    ("esi_parser", "--enable-esi"),
    ("high_memory_warning", "GNU Malloc with mstats()"),
    ("mcast_miss_addr", "-DMULTICAST_MISS_STREAM define"),
    ("mcast_miss_encode_key", "-DMULTICAST_MISS_STREAM define"),
    ("mcast_miss_port", "-DMULTICAST_MISS_STREAM define"),
    ("mcast_miss_ttl", "-DMULTICAST_MISS_STREAM define"),
    ("windows_ipaddrchangemonitor", "MS Windows"),
];

/// The ACL types Squid 5.7 (Debian's squid-openssl build) accepts; any
/// other is fatal (`FATAL: Invalid ACL type 'NAME'`). Found by running
/// `squid -k parse` on `acl a NAME` for every word in its binary and in
/// squid.conf.documented.
pub const ACL_TYPES: [&str; 63] = [
    "adaptation_service",
    "all-of",
    "annotate_client",
    "annotate_transaction",
    "any-of",
    "arp",
    "at_step",
    "browser",
    "ca_cert",
    "client_connection_mark",
    "clientside_mark",
    "connections_encrypted",
    "dst",
    "dst_as",
    "dstdom_regex",
    "dstdomain",
    "eui64",
    "ext_user",
    "ext_user_regex",
    "external",
    "has",
    "hier_code",
    "http_status",
    "ident",
    "ident_regex",
    "localip",
    "localport",
    "max_user_ip",
    "maxconn",
    "method",
    "myip",
    "myport",
    "myportname",
    "note",
    "peername",
    "peername_regex",
    "port",
    "proto",
    "proxy_auth",
    "proxy_auth_regex",
    "random",
    "referer_regex",
    "rep_header",
    "rep_mime_type",
    "req_header",
    "req_mime_type",
    "server_cert_fingerprint",
    "snmp_community",
    "squid_error",
    "src",
    "src_as",
    "srcdom_regex",
    "srcdomain",
    "ssl::server_name",
    "ssl::server_name_regex",
    "ssl_error",
    "tag",
    "time",
    "transaction_initiator",
    "url_regex",
    "urllogin",
    "urlpath_regex",
    "user_cert",
];

/// Why Squid ignores a directive it knows, in its own words; `None` when
/// it takes the directive.
pub fn ignored(name: &str) -> Option<String> {
    if OBSOLETE.binary_search(&name).is_ok() {
        return Some(format!("ERROR: Directive '{name}' is obsolete."));
    }
    UNBUILT
        .iter()
        .find(|(d, _)| *d == name)
        .map(|(_, what)| format!("ERROR: '{name}' requires {what}"))
}

/// Whether Squid knows `name` as an ACL type.
pub fn acl_type(name: &str) -> bool {
    ACL_TYPES.binary_search(&name).is_ok()
}

/// Whether Squid knows `name` as a directive.
pub fn known(name: &str) -> bool {
    DIRECTIVES.binary_search(&name).is_ok()
}

/// The known directive closest to a misspelt one, if one is close: the
/// fewest edits, then the longest shared beginning (`htp_port` is
/// `http_port` rather than `ftp_port`).
pub fn suggestion(name: &str) -> Option<&'static str> {
    let shared = |d: &str| {
        name.chars()
            .zip(d.chars())
            .take_while(|(a, b)| a == b)
            .count()
    };
    // Edits are at least the difference in length: only names within two
    // characters of its length are compared, so a hostile file of
    // unknown lines costs a few comparisons per line, not 400.
    let len = name.chars().count();
    DIRECTIVES
        .iter()
        .filter(|d| d.len().abs_diff(len) <= 2 && bag_distance(name, d) <= 2)
        .map(|d| {
            (
                strsim::osa_distance(name, d),
                std::cmp::Reverse(shared(d)),
                *d,
            )
        })
        .filter(|(distance, _, _)| *distance <= 2)
        .min()
        .map(|(_, _, d)| d)
}

/// A lower bound of the edit distance (with transpositions) between `a`
/// and a directive `d`, in one pass each: the characters one has and the
/// other lacks, counted as multisets. A rearrangement costs nothing here,
/// so a name that cannot be within two edits is dropped before the
/// quadratic comparison (a line of noise usually shares few letters with
/// any directive).
fn bag_distance(a: &str, d: &str) -> usize {
    // Directives are ASCII; anything else in `a` is a letter none has.
    let mut count = [0i32; 128];
    let mut foreign = 0;
    for c in a.chars() {
        match usize::try_from(u32::from(c)).ok().filter(|&i| i < 128) {
            Some(i) => count[i] += 1,
            None => foreign += 1,
        }
    }
    for b in d.bytes() {
        count[usize::from(b) & 127] -= 1;
    }
    let more: i32 = count.iter().filter(|&&n| n > 0).sum();
    let fewer: i32 = -count.iter().filter(|&&n| n < 0).sum::<i32>();
    (more + foreign).max(fewer).unsigned_abs() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bound never drops a directive the full comparison would have
    /// accepted: for words made by up to three random edits of every
    /// directive (and noise), the answer with the bound equals the
    /// answer without it.
    #[test]
    fn the_bag_bound_never_changes_a_suggestion() {
        let without = |name: &str| {
            let shared = |d: &str| {
                name.chars()
                    .zip(d.chars())
                    .take_while(|(a, b)| a == b)
                    .count()
            };
            let len = name.chars().count();
            DIRECTIVES
                .iter()
                .filter(|d| d.len().abs_diff(len) <= 2)
                .map(|d| {
                    (
                        strsim::osa_distance(name, d),
                        std::cmp::Reverse(shared(d)),
                        *d,
                    )
                })
                .filter(|(distance, _, _)| *distance <= 2)
                .min()
                .map(|(_, _, d)| d)
        };
        // A small deterministic generator: no dependency for a test.
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |n: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % n as u64) as usize
        };
        let alphabet: Vec<char> = "abcdefghijklmnopqrstuvwxyz_0123456789é".chars().collect();
        let mut tried = 0;
        // Every third directive: the whole table takes seconds unoptimized.
        for d in DIRECTIVES.iter().step_by(3) {
            for _ in 0..8 {
                let mut w: Vec<char> = d.chars().collect();
                for _ in 0..=next(3) {
                    let at = next(w.len() + 1);
                    match next(4) {
                        0 if at < w.len() => {
                            w.remove(at);
                        }
                        1 if at + 1 < w.len() => w.swap(at, at + 1),
                        2 if at < w.len() => w[at] = alphabet[next(alphabet.len())],
                        _ => w.insert(at, alphabet[next(alphabet.len())]),
                    }
                }
                let word: String = w.into_iter().collect();
                assert_eq!(suggestion(&word), without(&word), "{word:?}");
                tried += 1;
            }
        }
        assert!(tried > 800, "{tried}");
        for noise in ["", "#", "zzzz", "éé_é", "http_acces\u{0}", "acl acl"] {
            assert_eq!(suggestion(noise), without(noise), "{noise:?}");
        }
    }

    #[test]
    fn known_and_suggested() {
        assert!(DIRECTIVES.windows(2).all(|w| w[0] < w[1]));
        assert!(known("http_access") && known("acl") && known("ssl_bump"));
        assert!(!known("http_acess") && !known("include"));
        assert_eq!(suggestion("http_acess"), Some("http_access"));
        assert_eq!(suggestion("http_prot"), Some("http_port"));
        assert_eq!(suggestion("ssl_bmp"), Some("ssl_bump"));
        assert_eq!(suggestion("frobnicate"), None);
        assert!(OBSOLETE.windows(2).all(|w| w[0] < w[1]));
        assert!(ACL_TYPES.windows(2).all(|w| w[0] < w[1]));
        assert!(
            OBSOLETE
                .iter()
                .chain(UNBUILT.iter().map(|(d, _)| d))
                .all(|d| known(d))
        );
        assert_eq!(
            ignored("dns_v4_first").as_deref(),
            Some("ERROR: Directive 'dns_v4_first' is obsolete.")
        );
        assert!(ignored("esi_parser").is_some_and(|w| w.ends_with("requires --enable-esi")));
        assert_eq!(ignored("http_access"), None);
        assert!(acl_type("dstdomain") && acl_type("ssl::server_name") && !acl_type("acltype"));
    }
}
