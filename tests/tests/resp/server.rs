//! Server commands: DBSIZE FLUSHALL TIME INFO COMMAND CONFIG, and the
//! redis-cli start-up that depends on them.

use std::collections::HashMap;

use meridian_tests::TestServer;
use meridian_tests::call::{err, ok as q};
use redis::{Connection, Value};

/// Parses INFO text into (section headers, key → value), checking the
/// framing: CRLF lines, `# Header` lines, blank lines between sections.
fn parse_info(text: &str) -> (Vec<String>, HashMap<String, String>) {
    assert!(
        !text.contains('\n') || text.contains("\r\n"),
        "lines end in CRLF"
    );
    let mut headers = Vec::new();
    let mut fields = HashMap::new();
    for line in text.split("\r\n") {
        if line.is_empty() {
            continue;
        }
        if let Some(h) = line.strip_prefix("# ") {
            headers.push(h.to_string());
        } else {
            let (k, v) = line
                .split_once(':')
                .unwrap_or_else(|| panic!("bad INFO line {line:?}"));
            fields.insert(k.to_string(), v.to_string());
        }
    }
    (headers, fields)
}

fn info(c: &mut Connection, args: &[&str]) -> (Vec<String>, HashMap<String, String>) {
    let mut all = vec!["INFO"];
    all.extend_from_slice(args);
    let text: String = q(c, &all);
    parse_info(&text)
}

#[test]
fn dbsize_flushall_and_flushdb() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 0);
    q::<()>(&mut c, &["MSET", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 3);
    assert_eq!(q::<String>(&mut c, &["FLUSHALL"]), "OK");
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 0);
    assert_eq!(q::<Option<String>>(&mut c, &["GET", "a"]), None);
    q::<()>(&mut c, &["SET", "a", "1"]);
    assert_eq!(q::<String>(&mut c, &["FLUSHDB", "ASYNC"]), "OK");
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 0);
    q::<()>(&mut c, &["SET", "a", "1"]);
    assert_eq!(q::<String>(&mut c, &["FLUSHALL", "sync"]), "OK");
    assert_eq!(q::<i64>(&mut c, &["DBSIZE"]), 0);
    assert!(err(&mut c, &["FLUSHALL", "later"]).contains("syntax error"));
    assert!(err(&mut c, &["DBSIZE", "x"]).contains("wrong number of arguments for 'dbsize'"));
    // Memory accounting returns to zero with the keys.
    let (_, f) = info(&mut c, &["memory"]);
    assert_eq!(f["used_memory_dataset"], "0");
}

#[test]
fn time_returns_seconds_and_microseconds() {
    let s = TestServer::start();
    let mut c = s.conn();
    let (secs, micros): (String, String) = q(&mut c, &["TIME"]);
    let secs: u64 = secs.parse().unwrap();
    let micros: u64 = micros.parse().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(secs.abs_diff(now) <= 2);
    assert!(micros < 1_000_000);
}

#[test]
fn info_default_sections_and_fields() {
    let s = TestServer::start();
    let mut c = s.conn();
    q::<()>(&mut c, &["SET", "a", "1"]);
    q::<()>(&mut c, &["SET", "t", "1", "EX", "100"]);
    let _: Option<String> = q(&mut c, &["GET", "a"]);
    let _: Option<String> = q(&mut c, &["GET", "missing"]);
    let (headers, f) = info(&mut c, &[]);
    assert_eq!(
        headers,
        [
            "Server",
            "Clients",
            "Memory",
            "Persistence",
            "Stats",
            "Replication",
            "CPU",
            "Modules",
            "Errorstats",
            "Cluster",
            "Keyspace"
        ]
    );
    assert_eq!(f["redis_version"], "7.0.15");
    assert_eq!(f["redis_mode"], "standalone");
    assert_eq!(f["tcp_port"], s.port().to_string());
    assert_eq!(f["process_id"], std::process::id().to_string());
    assert_eq!(f["run_id"].len(), 40);
    assert!(f["arch_bits"] == "64" || f["arch_bits"] == "32");
    assert!(!f["meridian_version"].is_empty());
    assert_eq!(f["meridian_region"], "local");
    assert!(f["uptime_in_seconds"].parse::<u64>().is_ok());
    assert_eq!(f["uptime_in_days"], "0");
    assert_eq!(f["hz"], "10");
    assert!(f["connected_clients"].parse::<u64>().unwrap() >= 1);
    assert_eq!(f["blocked_clients"], "0");
    assert!(f["used_memory"].parse::<u64>().unwrap() > 0);
    assert!(f["used_memory_rss"].parse::<u64>().unwrap() > 0);
    assert!(f["used_memory_dataset"].parse::<u64>().unwrap() > 0);
    assert!(f["used_memory_human"].ends_with(['B', 'K', 'M', 'G']));
    assert_eq!(f["maxmemory"], "0");
    assert_eq!(f["maxmemory_human"], "0B");
    assert_eq!(f["maxmemory_policy"], "noeviction");
    assert_eq!(f["mem_allocator"], "jemalloc");
    assert_eq!(f["loading"], "0");
    assert_eq!(f["rdb_changes_since_last_save"], "0");
    assert_eq!(f["aof_enabled"], "0");
    assert!(f["total_commands_processed"].parse::<u64>().unwrap() >= 4);
    assert!(f["total_connections_received"].parse::<u64>().unwrap() >= 1);
    assert_eq!(f["keyspace_hits"], "1");
    assert_eq!(f["keyspace_misses"], "1");
    assert_eq!(f["expired_keys"], "0");
    assert_eq!(f["evicted_keys"], "0");
    assert_eq!(f["pubsub_channels"], "0");
    assert_eq!(f["role"], "master");
    assert_eq!(f["connected_slaves"], "0");
    assert_eq!(f["cluster_enabled"], "0");
    assert!(f.contains_key("used_cpu_user"));
    assert_eq!(f["db0"], "keys=2,expires=1,avg_ttl=0");
    assert!(!f.keys().any(|k| k.starts_with("cmdstat_")));
}

#[test]
fn info_section_selection() {
    let s = TestServer::start();
    let mut c = s.conn();
    let (h, _) = info(&mut c, &["keyspace"]);
    assert_eq!(h, ["Keyspace"]);
    // Several sections come out in Redis's order, whatever the request order.
    let (h, _) = info(&mut c, &["KEYSPACE", "cpu", "server"]);
    assert_eq!(h, ["Server", "CPU", "Keyspace"]);
    let (h, _) = info(&mut c, &["all"]);
    assert!(h.contains(&"Commandstats".to_string()));
    assert_eq!(h.len(), 12);
    let (h, _) = info(&mut c, &["everything"]);
    assert_eq!(h.len(), 12);
    let (h, _) = info(&mut c, &["default"]);
    assert_eq!(h.len(), 11);
    let (h, _) = info(&mut c, &["default", "commandstats"]);
    assert_eq!(h.len(), 12);
    let text: String = q(&mut c, &["INFO", "nosuchsection"]);
    assert_eq!(text, "");
    // Framing as Redis: sections separated by one blank line, no trailer.
    let text: String = q(&mut c, &["INFO", "server", "cluster"]);
    assert!(text.starts_with("# Server\r\nredis_version:7.0.15\r\n"));
    assert!(text.ends_with("\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n"));
    // An empty keyspace shows the header only.
    let text: String = q(&mut c, &["INFO", "keyspace"]);
    assert_eq!(text, "# Keyspace\r\n");
}

#[test]
fn info_commandstats_and_errorstats() {
    let s = TestServer::start();
    let mut c = s.conn();
    for _ in 0..3 {
        let _: Option<String> = q(&mut c, &["GET", "k"]);
    }
    let _ = err(&mut c, &["NOSUCHCOMMAND"]);
    let _ = err(&mut c, &["GET"]);
    let (_, f) = info(&mut c, &["commandstats"]);
    let get = &f["cmdstat_get"];
    assert!(get.starts_with("calls=3,usec="), "{get}");
    assert!(get.contains(",usec_per_call="), "{get}");
    let (_, f) = info(&mut c, &["errorstats"]);
    assert_eq!(f["errorstat_ERR"], "count=2");
    let (_, f) = info(&mut c, &["stats"]);
    assert_eq!(f["total_error_replies"], "2");

    assert_eq!(q::<String>(&mut c, &["CONFIG", "RESETSTAT"]), "OK");
    let (_, f) = info(&mut c, &["stats", "commandstats", "errorstats"]);
    assert_eq!(f["total_error_replies"], "0");
    assert_eq!(f["keyspace_misses"], "0");
    assert!(!f.contains_key("cmdstat_get"));
    assert!(!f.contains_key("errorstat_ERR"));
}

#[test]
fn info_is_verbatim_in_resp3_and_bulk_in_resp2() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let r = raw.roundtrip(b"INFO cluster\r\n", 35);
    assert_eq!(r, b"$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n");
    let _ = raw.roundtrip(b"HELLO 3\r\n", 100);
    let r = raw.roundtrip(b"INFO cluster\r\n", 39);
    assert_eq!(r, b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n");
}

#[test]
fn redis_cli_info_works() {
    let s = TestServer::start();
    s.cli(&["SET", "k", "v"]);
    let out = s.cli(&["INFO"]);
    assert!(out.contains("# Server"), "{out}");
    assert!(out.contains("redis_version:7.0.15"));
    assert!(out.contains("db0:keys=1,expires=0,avg_ttl=0"));
    let ks = s.cli(&["INFO", "keyspace"]);
    assert!(ks.starts_with("# Keyspace"), "{ks}");
}

#[test]
fn config_get_set_round_trip() {
    let s = TestServer::start();
    let mut c = s.conn();
    let v: HashMap<String, String> = q(&mut c, &["CONFIG", "GET", "maxmemory"]);
    assert_eq!(v["maxmemory"], "0");
    assert_eq!(
        q::<String>(&mut c, &["CONFIG", "SET", "maxmemory", "2mb"]),
        "OK"
    );
    let v: HashMap<String, String> = q(&mut c, &["CONFIG", "GET", "maxmemory"]);
    assert_eq!(v["maxmemory"], "2097152");
    let (_, f) = info(&mut c, &["memory"]);
    assert_eq!(f["maxmemory"], "2097152");
    assert_eq!(f["maxmemory_human"], "2.00M");
    assert_eq!(
        q::<String>(
            &mut c,
            &[
                "CONFIG",
                "SET",
                "maxmemory-policy",
                "ALLKEYS-LRU",
                "maxmemory-samples",
                "7"
            ]
        ),
        "OK"
    );
    let v: HashMap<String, String> = q(&mut c, &["CONFIG", "GET", "maxmemory*"]);
    assert_eq!(v.len(), 3, "{v:?}");
    assert_eq!(v["maxmemory-policy"], "allkeys-lru");
    assert_eq!(v["maxmemory-samples"], "7");
    // Several patterns, no duplicates; case-insensitive names.
    let v: Vec<String> = q(&mut c, &["CONFIG", "GET", "MAXMEMORY", "max*", "port"]);
    assert_eq!(v.len(), 8, "{v:?}");
    let v: HashMap<String, String> = q(&mut c, &["CONFIG", "GET", "*"]);
    assert_eq!(v["port"], s.port().to_string());
    assert_eq!(v["save"], "");
    assert_eq!(v["appendonly"], "no");
    assert_eq!(v["databases"], "1");
    let v: HashMap<String, String> = q(&mut c, &["CONFIG", "GET", "nosuch"]);
    assert!(v.is_empty());
    assert_eq!(q::<String>(&mut c, &["CONFIG", "SET", "save", ""]), "OK");
    assert_eq!(
        q::<String>(&mut c, &["CONFIG", "SET", "appendonly", "no"]),
        "OK"
    );
}

#[test]
fn config_set_errors_follow_redis() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let cases: [(&[u8], &str); 10] = [
        (
            b"CONFIG SET maxmemory abc\r\n",
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value\r\n",
        ),
        (
            b"CONFIG SET nosuch 1\r\n",
            "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n",
        ),
        (
            b"CONFIG SET maxmemory-policy sometimes\r\n",
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction\r\n",
        ),
        (
            b"CONFIG SET maxmemory 1 maxmemory 2\r\n",
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter\r\n",
        ),
        (
            b"CONFIG SET maxmemory-samples 0\r\n",
            "-ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 2147483647 inclusive\r\n",
        ),
        (
            b"CONFIG SET maxmemory\r\n",
            "-ERR wrong number of arguments for 'config|set' command\r\n",
        ),
        (b"CONFIG SET maxmemory 1 2\r\n", "-ERR syntax error\r\n"),
        (
            b"CONFIG GET\r\n",
            "-ERR wrong number of arguments for 'config|get' command\r\n",
        ),
        (
            b"CONFIG REWRITE\r\n",
            "-ERR The server is running without a config file\r\n",
        ),
        (
            b"CONFIG FOO\r\n",
            "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n",
        ),
    ];
    for (input, want) in cases {
        let got = raw.roundtrip(input, want.len());
        assert_eq!(String::from_utf8_lossy(&got), want);
    }
    // A bad value anywhere means nothing is applied.
    let r = raw.roundtrip(b"CONFIG SET maxmemory 5mb maxmemory-policy bad\r\n", 60);
    assert!(r.starts_with(b"-ERR CONFIG SET failed"));
    let mut c = s.conn();
    let v: HashMap<String, String> = q(&mut c, &["CONFIG", "GET", "maxmemory"]);
    assert_eq!(v["maxmemory"], "0");
    assert!(err(&mut c, &["CONFIG", "SET", "port", "1"]).contains("can't set immutable config"));
}

#[test]
fn config_get_is_a_map_in_resp3() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let _ = raw.roundtrip(b"HELLO 3\r\n", 100);
    let r = raw.roundtrip(b"CONFIG GET maxmemory\r\n", 30);
    assert_eq!(r, b"%1\r\n$9\r\nmaxmemory\r\n$1\r\n0\r\n");
}

#[test]
fn command_count_info_docs_and_list() {
    let s = TestServer::start();
    let mut c = s.conn();
    let count: i64 = q(&mut c, &["COMMAND", "COUNT"]);
    assert!(count > 20, "{count}");
    let list: Vec<String> = q(&mut c, &["COMMAND", "LIST"]);
    assert_eq!(list.len() as i64, count);
    assert!(list.contains(&"get".to_string()));
    let all: Vec<Value> = q(&mut c, &["COMMAND"]);
    assert_eq!(all.len() as i64, count);
    let filtered: Vec<String> = q(&mut c, &["COMMAND", "LIST", "FILTERBY", "PATTERN", "ex*"]);
    assert!(filtered.contains(&"expire".to_string()));
    assert!(filtered.iter().all(|n| n.starts_with("ex")));

    let info: Vec<Value> = q(&mut c, &["COMMAND", "INFO", "get", "nosuch", "DEL"]);
    assert_eq!(info.len(), 3);
    assert_eq!(info[1], Value::Nil);
    let Value::Array(get) = &info[0] else {
        panic!("{:?}", info[0])
    };
    assert_eq!(get.len(), 10);
    assert_eq!(get[0], Value::BulkString(b"get".to_vec()));
    assert_eq!(get[1], Value::Int(2));
    let flags: Vec<String> = redis::from_redis_value_ref(&get[2]).unwrap();
    assert!(flags.contains(&"readonly".to_string()));
    assert_eq!(
        (&get[3], &get[4], &get[5]),
        (&Value::Int(1), &Value::Int(1), &Value::Int(1))
    );
    let Value::Array(del) = &info[2] else {
        panic!()
    };
    assert_eq!(del[1], Value::Int(-2));
    assert_eq!(del[4], Value::Int(-1));

    let docs: Vec<Value> = q(&mut c, &["COMMAND", "DOCS", "get"]);
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0], Value::BulkString(b"get".to_vec()));
    let fields: HashMap<String, String> = redis::from_redis_value_ref(&docs[1]).unwrap();
    assert_eq!(fields["group"], "string");
    assert_eq!(fields["since"], "1.0.0");
    assert!(!fields["summary"].is_empty());
    let all_docs: Vec<Value> = q(&mut c, &["COMMAND", "DOCS"]);
    assert_eq!(all_docs.len() as i64, 2 * count);

    let keys: Vec<String> = q(&mut c, &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]);
    assert_eq!(keys, ["a", "b"]);
    assert!(
        err(&mut c, &["COMMAND", "GETKEYS", "PING", "x"])
            .contains("The command has no key arguments")
    );
    assert!(err(&mut c, &["COMMAND", "GETKEYS", "nosuch", "x"]).contains("Invalid command"));
    assert!(
        err(&mut c, &["COMMAND", "GETKEYS", "GET", "a", "b"])
            .contains("Invalid number of arguments specified for command")
    );
    assert!(err(&mut c, &["COMMAND", "GETKEYS", "GET"]).contains("'command|getkeys'"));
    assert!(err(&mut c, &["COMMAND", "FOO"]).contains("unknown subcommand 'FOO'"));
}

#[test]
fn command_docs_is_a_map_in_resp3() {
    let s = TestServer::start();
    let mut raw = s.raw();
    let _ = raw.roundtrip(b"HELLO 3\r\n", 100);
    let r = raw.roundtrip(b"COMMAND DOCS ttl\r\n", 40);
    let text = String::from_utf8_lossy(&r);
    assert!(
        text.starts_with("%1\r\n$3\r\nttl\r\n%3\r\n$7\r\nsummary\r\n"),
        "{text}"
    );
}

#[test]
fn redis_cli_interactive_startup_works() {
    let s = TestServer::start();
    assert_eq!(s.cli(&["--no-raw", "PING"]), "PONG");
    // Without a command redis-cli starts its REPL, which loads COMMAND DOCS
    // first and aborts if the reply is malformed.
    let out = s.cli_stdin(&[], "SET a 1\nGET a\nDBSIZE\n");
    assert_eq!(out, "OK\n1\n1", "{out}");
}
