//! Bitmap commands; expected answers are what Redis 7.0 replies to the same
//! commands.

use meridian_tests::TestServer;
use redis::{Connection, RedisResult};

fn q<T: redis::FromRedisValue>(c: &mut Connection, args: &[&str]) -> RedisResult<T> {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(c)
}

fn int(c: &mut Connection, args: &[&str]) -> i64 {
    q(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

fn err(c: &mut Connection, args: &[&str]) -> String {
    match q::<redis::Value>(c, args) {
        Ok(v) => panic!("{args:?} succeeded: {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bitcount_and_bitpos_answer_as_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = q(&mut c, &["SET", "s", "foobar"]).unwrap();
    for (args, want) in [
        (&["BITCOUNT", "s"][..], 26),
        (&["BITCOUNT", "s", "0", "0"], 4),
        (&["BITCOUNT", "s", "1", "1"], 6),
        (&["BITCOUNT", "s", "5", "30", "BIT"], 17),
        (&["BITCOUNT", "s", "-2", "-1"], 7),
        (&["BITCOUNT", "missing"], 0),
        (&["BITPOS", "s", "1"], 1),
        (&["BITPOS", "s", "0"], 0),
        (&["BITPOS", "s", "1", "2"], 17),
        (&["BITPOS", "s", "1", "2", "-1", "BYTE"], 17),
        (&["BITPOS", "s", "1", "7", "15", "BIT"], 9),
        (&["BITPOS", "missing", "0"], 0),
        (&["BITPOS", "missing", "1"], -1),
    ] {
        assert_eq!(int(&mut c, args), want, "{args:?}");
    }
    // Looking for a clear bit in an all-ones string without an end: the
    // first bit past it.
    let _: () = redis::cmd("SET")
        .arg("ff")
        .arg(&[0xffu8, 0xff][..])
        .query(&mut c)
        .unwrap();
    assert_eq!(int(&mut c, &["BITPOS", "ff", "0"]), 16);
    assert_eq!(int(&mut c, &["BITPOS", "ff", "0", "0", "-1"]), -1);
    assert!(err(&mut c, &["BITCOUNT", "s", "0"]).contains("syntax error"));
    assert!(err(&mut c, &["BITPOS", "s", "2"]).contains("The bit argument must be 1 or 0."));
}

#[test]
fn setbit_getbit_grow_the_string_and_check_arguments() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(int(&mut c, &["SETBIT", "b", "7", "1"]), 0);
    assert_eq!(int(&mut c, &["SETBIT", "b", "7", "0"]), 1);
    assert_eq!(int(&mut c, &["GETBIT", "b", "7"]), 0);
    assert_eq!(int(&mut c, &["SETBIT", "b", "20", "1"]), 0);
    let v: Vec<u8> = q(&mut c, &["GET", "b"]).unwrap();
    assert_eq!(v, [0, 0, 0x08]);
    assert_eq!(int(&mut c, &["GETBIT", "b", "20"]), 1);
    assert_eq!(int(&mut c, &["GETBIT", "b", "100000"]), 0);
    assert_eq!(int(&mut c, &["GETBIT", "missing", "3"]), 0);
    for bad in ["4294967296", "-1", "x"] {
        assert!(
            err(&mut c, &["SETBIT", "b", bad, "1"])
                .contains("bit offset is not an integer or out of range"),
            "{bad}"
        );
    }
    assert!(
        err(&mut c, &["SETBIT", "b", "1", "2"]).contains("bit is not an integer or out of range")
    );
    let _: i64 = q(&mut c, &["LPUSH", "l", "x"]).unwrap();
    assert!(err(&mut c, &["SETBIT", "l", "0", "1"]).contains("WRONGTYPE"));
    assert!(err(&mut c, &["GETBIT", "l", "0"]).contains("WRONGTYPE"));
}

#[test]
fn bitop_combines_strings_as_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: () = q(&mut c, &["SET", "a", "abc"]).unwrap();
    let _: () = q(&mut c, &["SET", "c", "xyzw"]).unwrap();
    for (op, want) in [
        ("AND", &b"``b\0"[..]),
        ("OR", b"y{{w"),
        ("XOR", b"\x19\x1b\x19w"),
    ] {
        assert_eq!(int(&mut c, &["BITOP", op, "d", "a", "c"]), 4, "{op}");
        let got: Vec<u8> = q(&mut c, &["GET", "d"]).unwrap();
        assert_eq!(got, want, "{op}");
    }
    assert_eq!(int(&mut c, &["BITOP", "NOT", "d", "a"]), 3);
    let got: Vec<u8> = q(&mut c, &["GET", "d"]).unwrap();
    assert_eq!(got, [!b'a', !b'b', !b'c']);
    // An empty result deletes the destination.
    assert_eq!(int(&mut c, &["BITOP", "AND", "d", "none1", "none2"]), 0);
    assert_eq!(int(&mut c, &["EXISTS", "d"]), 0);
    assert!(
        err(&mut c, &["BITOP", "NOT", "d", "a", "c"])
            .contains("BITOP NOT must be called with a single source key.")
    );
    assert!(err(&mut c, &["BITOP", "NAND", "d", "a"]).contains("syntax error"));
}

/// A BITFIELD reply as Option<i64> per operation.
fn fields(c: &mut Connection, args: &[&str]) -> Vec<Option<i64>> {
    q(c, args).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

#[test]
fn bitfield_reads_writes_and_overflows_as_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    assert_eq!(
        fields(
            &mut c,
            &[
                "BITFIELD", "bf", "SET", "i8", "0", "100", "GET", "i8", "0", "INCRBY", "i8", "0",
                "50", "OVERFLOW", "SAT", "INCRBY", "i8", "0", "100", "OVERFLOW", "FAIL", "INCRBY",
                "i8", "0", "1", "GET", "u4", "0", "GET", "i4", "0", "SET", "u8", "#1", "255",
                "GET", "u8", "8",
            ]
        ),
        [
            Some(0),
            Some(100),
            Some(-106),
            Some(-6),
            Some(-5),
            Some(15),
            Some(-1),
            Some(0),
            Some(255)
        ]
    );
    assert_eq!(int(&mut c, &["STRLEN", "bf"]), 2);
    // A failed write still grows the string to the farthest bit written.
    assert_eq!(
        fields(
            &mut c,
            &[
                "BITFIELD", "bf2", "OVERFLOW", "FAIL", "SET", "u8", "100", "300"
            ]
        ),
        [None]
    );
    assert_eq!(int(&mut c, &["STRLEN", "bf2"]), 14);
    assert_eq!(
        fields(
            &mut c,
            &["BITFIELD", "bf2", "SET", "u8", "0", "-1", "GET", "u8", "0"]
        ),
        [Some(0), Some(255)]
    );
    assert_eq!(
        fields(
            &mut c,
            &["BITFIELD_RO", "bf", "GET", "i8", "0", "GET", "u16", "#1"]
        ),
        [Some(-5), Some(0)]
    );
    assert_eq!(
        fields(&mut c, &["BITFIELD", "nokey", "GET", "i64", "0"]),
        [Some(0)]
    );
    assert_eq!(int(&mut c, &["EXISTS", "nokey"]), 0);
    assert_eq!(
        fields(&mut c, &["BITFIELD", "bf"]),
        Vec::<Option<i64>>::new()
    );
    assert_eq!(
        fields(&mut c, &["BITFIELD", "bf", "GET", "i8", "4294967295"]),
        [Some(0)]
    );
    assert_eq!(
        fields(
            &mut c,
            &[
                "BITFIELD",
                "bf",
                "OVERFLOW",
                "WRAP",
                "INCRBY",
                "i64",
                "0",
                "9223372036854775807",
                "INCRBY",
                "i64",
                "0",
                "9223372036854775807"
            ]
        ),
        [Some(8934860185726353407), Some(-288511851128422402)]
    );
    assert_eq!(
        fields(
            &mut c,
            &[
                "BITFIELD", "bf", "OVERFLOW", "SAT", "INCRBY", "u63", "0", "-1", "SET", "i3", "5",
                "9", "GET", "i3", "5"
            ]
        ),
        [Some(9079116111290564606), Some(3), Some(3)]
    );
}

#[test]
fn bitfield_errors_are_redis_lines() {
    let s = TestServer::start();
    let mut c = s.conn();
    let _: i64 = q(&mut c, &["LPUSH", "lst", "a"]).unwrap();
    let bad_type = "Invalid bitfield type. Use something like i16 u8. Note that u64 is not supported but i64 is.";
    for (args, want) in [
        (&["BITFIELD", "bf", "GET", "u64", "0"][..], bad_type),
        (&["BITFIELD", "bf", "GET", "x8", "0"], bad_type),
        (&["BITFIELD", "bf", "GET", "i65", "0"], bad_type),
        (
            &["BITFIELD", "bf", "GET", "i8", "-1"],
            "bit offset is not an integer or out of range",
        ),
        (
            &["BITFIELD", "bf", "GET", "i8", "#x"],
            "bit offset is not an integer or out of range",
        ),
        (
            &["BITFIELD", "bf", "GET", "i8", "4294967296"],
            "bit offset is not an integer or out of range",
        ),
        (
            &["BITFIELD", "bf", "SET", "i8", "0", "x"],
            "value is not an integer or out of range",
        ),
        (
            &["BITFIELD", "bf", "OVERFLOW", "foo"],
            "Invalid OVERFLOW type specified",
        ),
        (&["BITFIELD", "bf", "foo"], "syntax error"),
        (&["BITFIELD", "bf", "GET", "i8"], "syntax error"),
        (
            &["BITFIELD_RO", "bf", "SET", "i8", "0", "1"],
            "BITFIELD_RO only supports the GET subcommand",
        ),
        (
            &["BITFIELD", "lst", "GET", "i8", "0"],
            "Operation against a key holding the wrong kind of value",
        ),
    ] {
        let e = err(&mut c, args);
        assert!(e.contains(want), "{args:?}: {e}");
    }
}
