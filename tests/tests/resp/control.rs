//! Client control as operators use it: CLIENT KILL (old and filter forms),
//! CLIENT PAUSE/UNPAUSE holding writes or everything, CLIENT NO-EVICT, and
//! MONITOR streaming other clients' commands with secrets redacted.

use std::thread;
use std::time::Duration;

use meridian_tests::TestServer;
use meridian_tests::call::{err, ok, q};

fn field(info: &str, name: &str) -> String {
    info.split_whitespace()
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or_else(|| panic!("no {name} in {info}"))
        .to_string()
}

fn client_list(c: &mut redis::Connection) -> String {
    ok(c, &["CLIENT", "LIST"])
}

#[test]
fn client_kill_closes_the_clients_its_filters_match() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let mut victim = s.conn();
    let victim_id: i64 = ok(&mut victim, &["CLIENT", "ID"]);

    assert_eq!(
        ok::<i64>(
            &mut admin,
            &["CLIENT", "KILL", "ID", &victim_id.to_string()]
        ),
        1
    );
    assert!(
        q::<String>(&mut victim, &["PING"]).is_err(),
        "killed client still served"
    );

    // Old form: by address, answered OK; an unknown address is an error.
    let mut by_addr = s.conn();
    let info: String = ok(&mut by_addr, &["CLIENT", "INFO"]);
    let addr = field(&info, "addr");
    let _: () = ok(&mut admin, &["CLIENT", "KILL", &addr]);
    assert!(q::<String>(&mut by_addr, &["PING"]).is_err());
    assert_eq!(
        err(&mut admin, &["CLIENT", "KILL", "127.0.0.1:1"]),
        "ERR No such client"
    );

    // A client waiting in BLPOP is killed too; a filter kills all it
    // matches but, by default, not the caller.
    drop((victim, by_addr));
    let blocked = s.client();
    let waiter = thread::spawn(move || {
        let mut c = blocked.get_connection().expect("connect");
        q::<Option<(String, String)>>(&mut c, &["BLPOP", "nothing", "0"])
    });
    assert!(meridian_tests::eventually(Duration::from_secs(10), || {
        let list = client_list(&mut admin);
        list.contains("cmd=blpop") && list.lines().count() == 2
    }));
    let killed: i64 = ok(&mut admin, &["CLIENT", "KILL", "TYPE", "normal"]);
    assert_eq!(killed, 1, "SKIPME yes is the default: only the waiter goes");
    assert!(waiter.join().expect("thread").is_err());
    assert_eq!(ok::<String>(&mut admin, &["PING"]), "PONG");

    // Filters are checked before anyone is killed.
    for (args, want) in [
        (vec!["ID", "0"], "ERR client-id should be greater than 0"),
        (vec!["TYPE", "bogus"], "ERR Unknown client type 'bogus'"),
        (vec!["USER", "nobody"], "ERR No such user 'nobody'"),
        (vec!["SKIPME", "maybe"], "ERR syntax error"),
        (vec!["NOSUCH", "x"], "ERR syntax error"),
        // Three words are the old form: "ID" is taken for an address.
        (vec!["ID"], "ERR No such client"),
    ] {
        let mut words = vec!["CLIENT", "KILL"];
        words.extend(args);
        assert_eq!(err(&mut admin, &words), want, "{words:?}");
    }
    assert_eq!(
        ok::<i64>(&mut admin, &["CLIENT", "KILL", "TYPE", "master"]),
        0
    );

    // SKIPME no: a client may kill itself; it gets its answer, then the close.
    let me: i64 = ok(&mut admin, &["CLIENT", "ID"]);
    let n: i64 = ok(
        &mut admin,
        &["CLIENT", "KILL", "ID", &me.to_string(), "SKIPME", "no"],
    );
    assert_eq!(n, 1);
    assert!(q::<String>(&mut admin, &["PING"]).is_err());
}

#[test]
fn client_pause_write_holds_writes_until_unpaused_and_lets_reads_through() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let mut reader = s.conn();
    let _: () = ok(&mut admin, &["SET", "k", "before"]);
    let _: () = ok(&mut admin, &["CLIENT", "PAUSE", "100000", "WRITE"]);

    let mut writer = s.conn();
    let held = thread::spawn(move || q::<String>(&mut writer, &["SET", "k", "after"]));
    // The writer shows as blocked while reads carry on.
    assert!(meridian_tests::eventually(Duration::from_secs(10), || {
        client_list(&mut reader).contains("flags=b")
    }));
    assert_eq!(ok::<String>(&mut reader, &["GET", "k"]), "before");
    assert!(!held.is_finished());

    let _: () = ok(&mut admin, &["CLIENT", "UNPAUSE"]);
    assert_eq!(held.join().expect("thread").expect("SET ran"), "OK");
    assert_eq!(ok::<String>(&mut reader, &["GET", "k"]), "after");
}

#[test]
fn client_pause_all_holds_every_command_and_ends_by_itself() {
    let s = TestServer::start();
    let mut admin = s.conn();
    let _: () = ok(&mut admin, &["SET", "k", "v"]);
    // Connected before the pause: connecting may itself send commands.
    let mut other = s.conn();
    let mut held_conn = s.conn();
    let _: () = ok(&mut admin, &["CLIENT", "PAUSE", "100000", "ALL"]);
    let held = thread::spawn(move || q::<String>(&mut held_conn, &["GET", "k"]));
    thread::sleep(Duration::from_millis(200));
    assert!(!held.is_finished(), "a read ran during a pause of ALL");
    // CLIENT UNPAUSE is never held, so the pause can be lifted.
    let _: () = ok(&mut other, &["CLIENT", "UNPAUSE"]);
    assert_eq!(held.join().expect("thread").expect("GET ran"), "v");

    // A short pause ends by itself; the held command then runs.
    let _: () = ok(&mut admin, &["CLIENT", "PAUSE", "300"]);
    assert_eq!(ok::<String>(&mut other, &["GET", "k"]), "v");

    assert_eq!(
        err(&mut admin, &["CLIENT", "PAUSE", "-1"]),
        "ERR timeout is not an integer or out of range"
    );
    assert_eq!(
        err(&mut admin, &["CLIENT", "PAUSE", "10", "SOMETIMES"]),
        "ERR syntax error"
    );
}

#[test]
fn client_no_evict_is_shown_in_client_list() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(&mut c, &["CLIENT", "NO-EVICT", "on"]);
    let info: String = ok(&mut c, &["CLIENT", "INFO"]);
    assert!(field(&info, "flags").contains('e'), "{info}");
    let _: () = ok(&mut c, &["CLIENT", "NO-EVICT", "off"]);
    let info: String = ok(&mut c, &["CLIENT", "INFO"]);
    assert!(!field(&info, "flags").contains('e'), "{info}");
    assert_eq!(
        err(&mut c, &["CLIENT", "NO-EVICT", "maybe"]),
        "ERR syntax error"
    );
}

#[test]
fn monitor_streams_other_clients_commands_with_secrets_redacted() {
    let s = TestServer::start();
    let mut monitor = s.raw();
    assert_eq!(monitor.roundtrip(b"MONITOR\r\n", 5), b"+OK\r\n");
    let mut c = s.conn();
    let _: () = ok(&mut c, &["SET", "k", "a \"b\"\n"]);
    let _ = q::<String>(&mut c, &["AUTH", "default", "hunter2"]);
    let _: Vec<String> = ok(&mut c, &["CONFIG", "GET", "maxmemory"]);
    let _: String = ok(&mut c, &["ECHO", "last"]);

    let mut seen = String::new();
    assert!(
        meridian_tests::eventually(Duration::from_secs(10), || {
            seen.push_str(&String::from_utf8_lossy(&monitor.read_at_least(1)));
            seen.contains("\"ECHO\" \"last\"")
        }),
        "{seen}"
    );
    let lines: Vec<&str> = seen.lines().collect();
    let set = lines
        .iter()
        .find(|l| l.contains("\"SET\""))
        .unwrap_or_else(|| panic!("no SET in {seen}"));
    assert!(set.starts_with('+'), "{set}");
    assert!(
        set.ends_with(r#""SET" "k" "a \"b\"\n""#),
        "arguments as sent, quoted as Redis does: {set}"
    );
    assert!(set.contains("[0 127.0.0.1:"), "{set}");
    assert!(
        seen.contains(r#""AUTH" "(redacted)" "(redacted)""#),
        "{seen}"
    );
    assert!(!seen.contains("hunter2"), "{seen}");
    assert!(
        !seen.contains("CONFIG"),
        "admin commands are not shown: {seen}"
    );
}

#[test]
fn wait_on_a_single_region_answers_zero_at_once() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = ok(&mut c, &["SET", "k", "v"]);
    assert_eq!(ok::<i64>(&mut c, &["WAIT", "1", "0"]), 0);
    assert_eq!(err(&mut c, &["WAIT", "1", "-1"]), "ERR timeout is negative");
    assert_eq!(
        err(&mut c, &["WAIT", "x", "0"]),
        "ERR value is not an integer or out of range"
    );
}
