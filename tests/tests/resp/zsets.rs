//! Sorted-set commands against Redis 7 behaviour: options, ranges, ranks,
//! pops, set algebra, error strings and the exact RESP2/RESP3 reply shapes
//! (checked on the wire).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use meridian_tests::TestServer;
use redis::Commands;

/// A raw connection that sends commands and returns each reply exactly as
/// it came over the wire, so shapes (flat vs pairs, double vs bulk) are
/// asserted precisely.
struct Wire {
    r: BufReader<TcpStream>,
}

impl Wire {
    fn new(s: &TestServer, resp3: bool) -> Wire {
        let stream = TcpStream::connect(s.addr()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut w = Wire {
            r: BufReader::new(stream),
        };
        if resp3 {
            assert!(w.cmd(&["HELLO", "3"]).starts_with('%'));
        }
        w
    }

    fn send(&mut self, args: &[&str]) {
        let mut out = format!("*{}\r\n", args.len()).into_bytes();
        for a in args {
            out.extend_from_slice(format!("${}\r\n{a}\r\n", a.len()).as_bytes());
        }
        self.r.get_mut().write_all(&out).unwrap();
    }

    /// Reads one complete reply.
    fn read(&mut self) -> String {
        let mut out = String::new();
        self.read_into(&mut out);
        out
    }

    fn read_into(&mut self, out: &mut String) {
        let mut line = String::new();
        self.r.read_line(&mut line).unwrap();
        assert!(line.ends_with("\r\n"), "truncated reply: {out}{line:?}");
        out.push_str(&line);
        let n: i64 = line[1..line.len() - 2].parse().unwrap_or(0);
        match line.as_bytes()[0] {
            b'$' | b'=' | b'!' if n >= 0 => {
                let mut buf = vec![0; n as usize + 2];
                self.r.read_exact(&mut buf).unwrap();
                out.push_str(&String::from_utf8_lossy(&buf));
            }
            b'*' | b'~' | b'>' => (0..n).for_each(|_| self.read_into(out)),
            b'%' | b'|' => (0..2 * n).for_each(|_| self.read_into(out)),
            _ => {}
        }
    }

    fn cmd(&mut self, args: &[&str]) -> String {
        self.send(args);
        self.read()
    }

    /// Runs `line` split on spaces (no argument here contains one).
    fn run(&mut self, line: &str) -> String {
        let args: Vec<&str> = line.split(' ').collect();
        self.cmd(&args)
    }
}

/// RESP2 encoding of an array of bulk strings.
fn bulks(items: &[&str]) -> String {
    let mut s = format!("*{}\r\n", items.len());
    for i in items {
        s.push_str(&format!("${}\r\n{i}\r\n", i.len()));
    }
    s
}

fn err(line: &str) -> String {
    format!("-{line}\r\n")
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn zadd_options() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    assert_eq!(w.run("ZADD z 1 a 2 b 3 c"), ":3\r\n");
    assert_eq!(w.run("ZADD z 1 a 5 d"), ":1\r\n");
    // NX: only new members.
    assert_eq!(w.run("ZADD z NX 100 a 4 e"), ":1\r\n");
    assert_eq!(w.run("ZSCORE z a"), "$1\r\n1\r\n");
    // XX: only existing members; never creates the key.
    assert_eq!(w.run("ZADD z XX 10 a 1 f"), ":0\r\n");
    assert_eq!(w.run("ZSCORE z a"), "$2\r\n10\r\n");
    assert_eq!(w.run("ZSCORE z f"), "$-1\r\n");
    assert_eq!(w.run("ZADD nokey XX 1 a"), ":0\r\n");
    assert_eq!(w.run("GET nokey"), "$-1\r\n");
    // CH counts updates too; unchanged scores are not changes.
    assert_eq!(w.run("ZADD z CH 10 a 20 b 1 new"), ":2\r\n");
    // GT / LT update only upward / downward, but still add new members.
    assert_eq!(w.run("ZADD z GT CH 5 a 30 b 7 g"), ":2\r\n");
    assert_eq!(w.run("ZSCORE z a"), "$2\r\n10\r\n");
    assert_eq!(w.run("ZSCORE z b"), "$2\r\n30\r\n");
    assert_eq!(w.run("ZADD z LT CH 5 a 40 b"), ":1\r\n");
    assert_eq!(w.run("ZSCORE z a"), "$1\r\n5\r\n");
    assert_eq!(w.run("ZSCORE z b"), "$2\r\n30\r\n");
    assert_eq!(w.run("ZADD z xx gt ch 6 a"), ":1\r\n");
    assert_eq!(w.run("ZCARD z"), ":7\r\n");
}

#[test]
fn zadd_errors() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    assert_eq!(
        w.run("ZADD z NX XX 1 a"),
        err("ERR XX and NX options at the same time are not compatible")
    );
    for bad in ["ZADD z GT LT 1 a", "ZADD z NX GT 1 a", "ZADD z NX LT 1 a"] {
        assert_eq!(
            w.run(bad),
            err("ERR GT, LT, and/or NX options at the same time are not compatible"),
            "{bad}"
        );
    }
    assert_eq!(
        w.run("ZADD z INCR 1 a 2 b"),
        err("ERR INCR option supports a single increment-element pair")
    );
    assert_eq!(w.run("ZADD z nan a"), err("ERR value is not a valid float"));
    assert_eq!(w.run("ZADD z abc a"), err("ERR value is not a valid float"));
    assert_eq!(w.run("ZADD z 1 a 2"), err("ERR syntax error"));
    assert_eq!(w.run("ZADD z 1 a foo"), err("ERR syntax error"));
    assert_eq!(w.run("ZADD z NX CH"), err("ERR syntax error"));
    assert_eq!(
        w.run("ZADD z 1"),
        err("ERR wrong number of arguments for 'zadd' command")
    );
    // A failed ZADD changes nothing, even for the valid pairs before the bad one.
    assert_eq!(
        w.run("ZADD z 1 a x b"),
        err("ERR value is not a valid float")
    );
    assert_eq!(w.run("ZCARD z"), ":0\r\n");
}

#[test]
fn incr_and_score_formatting() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    assert_eq!(w.run("ZINCRBY z 1.5 m"), "$3\r\n1.5\r\n");
    assert_eq!(w.run("ZSCORE z m"), "$3\r\n1.5\r\n");
    assert_eq!(w.run("ZINCRBY z 2 m"), "$3\r\n3.5\r\n");
    assert_eq!(w.run("ZINCRBY z -3.5 m"), "$1\r\n0\r\n");
    assert_eq!(w.run("ZADD z INCR 2.25 m"), "$4\r\n2.25\r\n");
    // INCR under a failed condition answers nil.
    assert_eq!(w.run("ZADD z NX INCR 1 m"), "$-1\r\n");
    assert_eq!(w.run("ZADD z XX INCR 1 other"), "$-1\r\n");
    assert_eq!(w.run("ZADD z GT INCR -1 m"), "$-1\r\n");
    assert_eq!(w.run("ZADD z INCR +inf m"), "$3\r\ninf\r\n");
    assert_eq!(
        w.run("ZADD z INCR -inf m"),
        err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(
        w.run("ZINCRBY z -inf m"),
        err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(
        w.run("ZINCRBY z abc m"),
        err("ERR value is not a valid float")
    );
    assert_eq!(w.run("ZSCORE z m"), "$3\r\ninf\r\n");
    assert_eq!(w.run("ZADD f 0.1 a 1e20 b -0 c 3.0 d -2.5e-3 e"), ":5\r\n");
    assert_eq!(
        w.run("ZRANGE f 0 -1 WITHSCORES"),
        bulks(&["e", "-0.0025", "c", "0", "a", "0.1", "d", "3", "b", "1e+20"])
    );
    // The typed client agrees.
    let mut c = s.conn();
    let score: f64 = c.zscore("z", "m").unwrap();
    assert_eq!(score, f64::INFINITY);
    let v: f64 = c.zincr("f", "a", 0.4).unwrap();
    assert_eq!(v, 0.5);
}

#[test]
fn remove_count_and_emptied_key_disappears() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    w.run("ZADD z 1 a 2 b 3 c");
    assert_eq!(w.run("ZREM z a nope a"), ":1\r\n");
    assert_eq!(w.run("ZREM nokey a"), ":0\r\n");
    assert_eq!(w.run("ZCARD z"), ":2\r\n");
    assert_eq!(w.run("ZREM z b c"), ":2\r\n");
    assert_eq!(w.run("ZCARD z"), ":0\r\n");
    // The key is gone: GET sees nothing (no WRONGTYPE) and SET recreates it.
    assert_eq!(w.run("GET z"), "$-1\r\n");
    assert_eq!(w.run("ZADD z 1 a"), ":1\r\n");
    assert_eq!(w.run("ZPOPMIN z"), bulks(&["a", "1"]));
    assert_eq!(w.run("GET z"), "$-1\r\n");
    w.run("ZADD z 1 a 2 b");
    assert_eq!(w.run("ZREMRANGEBYSCORE z -inf +inf"), ":2\r\n");
    assert_eq!(w.run("GET z"), "$-1\r\n");
    // ZADD XX on a missing key does not leave an empty key behind.
    assert_eq!(w.run("ZADD z XX 1 a"), ":0\r\n");
    assert_eq!(w.run("GET z"), "$-1\r\n");
}

#[test]
fn scores_counts_and_lexcounts() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    w.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(
        w.run("ZMSCORE z a nope e"),
        "*3\r\n$1\r\n1\r\n$-1\r\n$1\r\n5\r\n"
    );
    assert_eq!(w.run("ZMSCORE nokey a b"), "*2\r\n$-1\r\n$-1\r\n");
    assert_eq!(w.run("ZCARD nokey"), ":0\r\n");
    assert_eq!(w.run("ZCOUNT z -inf +inf"), ":5\r\n");
    assert_eq!(w.run("ZCOUNT z (1 (5"), ":3\r\n");
    assert_eq!(w.run("ZCOUNT z 2 2"), ":1\r\n");
    assert_eq!(w.run("ZCOUNT z 4 2"), ":0\r\n");
    assert_eq!(w.run("ZCOUNT z (2 (2"), ":0\r\n");
    assert_eq!(w.run("ZCOUNT z a b"), err("ERR min or max is not a float"));
    w.run("ZADD l 0 a 0 b 0 c 0 d");
    assert_eq!(w.run("ZLEXCOUNT l - +"), ":4\r\n");
    assert_eq!(w.run("ZLEXCOUNT l [b (d"), ":2\r\n");
    assert_eq!(w.run("ZLEXCOUNT l (a [c"), ":2\r\n");
    assert_eq!(w.run("ZLEXCOUNT l + -"), ":0\r\n");
    assert_eq!(
        w.run("ZLEXCOUNT l a b"),
        err("ERR min or max not valid string range item")
    );
}

#[test]
fn range_by_rank() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    w.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(w.run("ZRANGE z 1 3"), bulks(&["b", "c", "d"]));
    assert_eq!(w.run("ZRANGE z -2 -1"), bulks(&["d", "e"]));
    assert_eq!(w.run("ZRANGE z -100 0"), bulks(&["a"]));
    assert_eq!(w.run("ZRANGE z 3 100"), bulks(&["d", "e"]));
    assert_eq!(w.run("ZRANGE z 3 1"), "*0\r\n");
    assert_eq!(w.run("ZRANGE z 10 20"), "*0\r\n");
    assert_eq!(w.run("ZRANGE nokey 0 -1"), "*0\r\n");
    assert_eq!(
        w.run("ZRANGE z 0 -1 REV"),
        bulks(&["e", "d", "c", "b", "a"])
    );
    assert_eq!(
        w.run("ZRANGE z 0 1 REV WITHSCORES"),
        bulks(&["e", "5", "d", "4"])
    );
    assert_eq!(w.run("ZREVRANGE z -1 -1"), bulks(&["a"]));
    assert_eq!(
        w.run("ZREVRANGE z 0 1 WITHSCORES"),
        bulks(&["e", "5", "d", "4"])
    );
    assert_eq!(
        w.run("ZRANGE z 0 0 WITHSCORES WITHSCORES"),
        bulks(&["a", "1"])
    );
    assert_eq!(
        w.run("ZRANGE z a b"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        w.run("ZRANGE z 0 1 LIMIT 1 2"),
        err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    assert_eq!(
        w.run("ZREVRANGE z 0 1 LIMIT 0 1"),
        err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    assert_eq!(w.run("ZRANGE z 0 -1 FOO"), err("ERR syntax error"));
    assert_eq!(w.run("ZREVRANGE z 0 -1 BYSCORE"), err("ERR syntax error"));
}

#[test]
fn range_by_score() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    w.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(w.run("ZRANGE z (1 3 BYSCORE"), bulks(&["b", "c"]));
    assert_eq!(w.run("ZRANGE z 3 (1 BYSCORE REV"), bulks(&["c", "b"]));
    assert_eq!(
        w.run("ZRANGE z -inf +inf BYSCORE LIMIT 1 2"),
        bulks(&["b", "c"])
    );
    assert_eq!(
        w.run("ZRANGE z +inf -inf BYSCORE REV LIMIT 1 2 WITHSCORES"),
        bulks(&["d", "4", "c", "3"])
    );
    // Negative offset: nothing; negative count: everything after the offset.
    assert_eq!(w.run("ZRANGE z -inf +inf BYSCORE LIMIT -1 2"), "*0\r\n");
    assert_eq!(
        w.run("ZRANGE z -inf +inf BYSCORE LIMIT 1 -1"),
        bulks(&["b", "c", "d", "e"])
    );
    assert_eq!(w.run("ZRANGE z -inf +inf BYSCORE LIMIT 1 0"), "*0\r\n");
    assert_eq!(w.run("ZRANGE z -inf +inf BYSCORE LIMIT 9 9"), "*0\r\n");
    assert_eq!(w.run("ZRANGEBYSCORE z (1 (5"), bulks(&["b", "c", "d"]));
    assert_eq!(w.run("ZRANGEBYSCORE z 5 inf"), bulks(&["e"]));
    assert_eq!(w.run("ZRANGEBYSCORE z 5 3"), "*0\r\n");
    assert_eq!(
        w.run("ZRANGEBYSCORE z 1 2 WITHSCORES LIMIT 0 1"),
        bulks(&["a", "1"])
    );
    assert_eq!(
        w.run("ZREVRANGEBYSCORE z 5 3 WITHSCORES"),
        bulks(&["e", "5", "d", "4", "c", "3"])
    );
    assert_eq!(w.run("ZREVRANGEBYSCORE z (5 (3"), bulks(&["d"]));
    assert_eq!(w.run("ZREVRANGEBYSCORE z 3 5"), "*0\r\n");
    assert_eq!(
        w.run("ZREVRANGEBYSCORE z +inf -inf LIMIT 0 2"),
        bulks(&["e", "d"])
    );
    w.run("ZADD z -inf neg +inf pos");
    assert_eq!(w.run("ZRANGEBYSCORE z -inf -inf"), bulks(&["neg"]));
    assert_eq!(w.run("ZRANGEBYSCORE z (5 +inf"), bulks(&["pos"]));
    assert_eq!(w.run("ZRANGEBYSCORE z (-inf (1"), "*0\r\n");
    for bad in [
        "ZRANGE z abc 1 BYSCORE",
        "ZRANGE z (a 1 BYSCORE",
        "ZRANGEBYSCORE z 1 [2",
    ] {
        assert_eq!(w.run(bad), err("ERR min or max is not a float"), "{bad}");
    }
    assert_eq!(w.run("ZRANGEBYSCORE z 1 2 REV"), err("ERR syntax error"));
    assert_eq!(
        w.run("ZRANGEBYSCORE z 0 10 LIMIT 1"),
        err("ERR syntax error")
    );
    assert_eq!(w.run("ZRANGE z 1 2 BYSCORE BYLEX"), err("ERR syntax error"));
    assert_eq!(
        w.run("ZRANGE z 1 2 BYSCORE LIMIT a 1"),
        err("ERR value is not an integer or out of range")
    );
}

#[test]
fn range_by_lex() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    w.run("ZADD z 0 a 0 b 0 c 0 d 0 e");
    assert_eq!(w.run("ZRANGE z [a (c BYLEX"), bulks(&["a", "b"]));
    assert_eq!(w.run("ZRANGE z (c + BYLEX"), bulks(&["d", "e"]));
    assert_eq!(w.run("ZRANGE z + [d BYLEX REV"), bulks(&["e", "d"]));
    assert_eq!(w.run("ZRANGEBYLEX z - + LIMIT 1 2"), bulks(&["b", "c"]));
    assert_eq!(
        w.run("ZREVRANGEBYLEX z + - LIMIT 0 3"),
        bulks(&["e", "d", "c"])
    );
    assert_eq!(w.run("ZRANGEBYLEX z [c [a"), "*0\r\n");
    assert_eq!(w.run("ZRANGEBYLEX z + -"), "*0\r\n");
    assert_eq!(w.run("ZRANGEBYLEX z [bb [cc"), bulks(&["c"]));
    assert_eq!(
        w.run("ZRANGE z - + BYLEX WITHSCORES"),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    assert_eq!(
        w.run("ZRANGEBYLEX z - + WITHSCORES"),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    for bad in [
        "ZRANGE z a c BYLEX",
        "ZRANGEBYLEX z +a +",
        "ZRANGEBYLEX z (1 3",
    ] {
        assert_eq!(
            w.run(bad),
            err("ERR min or max not valid string range item"),
            "{bad}"
        );
    }
}

#[test]
fn ranks() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    w.run("ZADD z 1 a 2 b 3 c");
    assert_eq!(w.run("ZRANK z a"), ":0\r\n");
    assert_eq!(w.run("ZRANK z c"), ":2\r\n");
    assert_eq!(w.run("ZREVRANK z c"), ":0\r\n");
    assert_eq!(w.run("ZREVRANK z a"), ":2\r\n");
    assert_eq!(w.run("ZRANK z nope"), "$-1\r\n");
    assert_eq!(w.run("ZRANK nokey a"), "$-1\r\n");
    // WITHSCORE (Redis 7.2).
    assert_eq!(w.run("ZRANK z b WITHSCORE"), "*2\r\n:1\r\n$1\r\n2\r\n");
    assert_eq!(w.run("ZREVRANK z b withscore"), "*2\r\n:1\r\n$1\r\n2\r\n");
    assert_eq!(w.run("ZRANK z nope WITHSCORE"), "*-1\r\n");
    assert_eq!(w.run("ZRANK z a FOO"), err("ERR syntax error"));
    assert_eq!(
        w.run("ZRANK z a WITHSCORE x"),
        err("ERR wrong number of arguments for 'zrank' command")
    );
    let mut w3 = Wire::new(&s, true);
    assert_eq!(w3.run("ZRANK z b WITHSCORE"), "*2\r\n:1\r\n,2\r\n");
    assert_eq!(w3.run("ZRANK z nope WITHSCORE"), "_\r\n");
}

#[test]
fn pops() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    w.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(w.run("ZPOPMIN z"), bulks(&["a", "1"]));
    assert_eq!(w.run("ZPOPMAX z"), bulks(&["e", "5"]));
    assert_eq!(w.run("ZPOPMIN z 2"), bulks(&["b", "2", "c", "3"]));
    assert_eq!(w.run("ZPOPMIN z 0"), "*0\r\n");
    assert_eq!(w.run("ZPOPMAX z 10"), bulks(&["d", "4"]));
    assert_eq!(w.run("ZPOPMIN z"), "*0\r\n");
    assert_eq!(w.run("ZPOPMIN nokey 3"), "*0\r\n");
    assert_eq!(w.run("GET z"), "$-1\r\n");
    for bad in ["ZPOPMIN z -1", "ZPOPMIN z a"] {
        assert_eq!(
            w.run(bad),
            err("ERR value is out of range, must be positive"),
            "{bad}"
        );
    }
    assert_eq!(w.run("ZPOPMIN z 1 2"), err("ERR syntax error"));
    // RESP3: without a count one flat pair; with a count, [member, score] pairs.
    let mut w3 = Wire::new(&s, true);
    w3.run("ZADD z 1 a 2 b 3 c");
    assert_eq!(w3.run("ZPOPMIN z"), "*2\r\n$1\r\na\r\n,1\r\n");
    assert_eq!(
        w3.run("ZPOPMAX z 2"),
        "*2\r\n*2\r\n$1\r\nc\r\n,3\r\n*2\r\n$1\r\nb\r\n,2\r\n"
    );
    assert_eq!(w3.run("ZPOPMAX z"), "*0\r\n");
}

#[test]
fn blocking_pops() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    w.run("ZADD z2 1 a 2 b");
    // Served at once from the first non-empty key.
    assert_eq!(
        w.run("BZPOPMIN z1 z2 0"),
        "*3\r\n$2\r\nz2\r\n$1\r\na\r\n$1\r\n1\r\n"
    );
    assert_eq!(
        w.run("BZPOPMAX z2 0"),
        "*3\r\n$2\r\nz2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
    // Times out with a null array.
    let started = Instant::now();
    assert_eq!(w.run("BZPOPMIN z1 z2 0.1"), "*-1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(90));
    assert_eq!(w.run("BZPOPMIN z1 -1"), err("ERR timeout is negative"));
    assert_eq!(
        w.run("BZPOPMIN z1 abc"),
        err("ERR timeout is not a float or out of range")
    );
    w.run("SET str x");
    assert_eq!(w.run("BZPOPMIN str 0.1"), err(WRONGTYPE));
    // Woken by a ZADD from another client.
    w.send(&["BZPOPMAX", "z1", "z3", "5"]);
    std::thread::sleep(Duration::from_millis(100));
    let mut other = Wire::new(&s, false);
    assert_eq!(other.run("ZADD z3 7 x 8 y"), ":2\r\n");
    assert_eq!(w.read(), "*3\r\n$2\r\nz3\r\n$1\r\ny\r\n$1\r\n8\r\n");
    assert_eq!(other.run("ZCARD z3"), ":1\r\n");
    let mut w3 = Wire::new(&s, true);
    assert_eq!(
        w3.run("BZPOPMIN z3 0"),
        "*3\r\n$2\r\nz3\r\n$1\r\nx\r\n,7\r\n"
    );
    assert_eq!(w3.run("BZPOPMIN z3 0.05"), "_\r\n");
}

#[test]
fn rangestore() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    w.run("ZADD z 1 a 2 b 3 c 4 d 5 e");
    assert_eq!(w.run("ZRANGESTORE dst z 1 3"), ":3\r\n");
    assert_eq!(
        w.run("ZRANGE dst 0 -1 WITHSCORES"),
        bulks(&["b", "2", "c", "3", "d", "4"])
    );
    assert_eq!(
        w.run("ZRANGESTORE dst z 3 1 BYSCORE REV LIMIT 0 1"),
        ":1\r\n"
    );
    assert_eq!(w.run("ZRANGE dst 0 -1 WITHSCORES"), bulks(&["c", "3"]));
    // Lex ranges over mixed scores: the members in range, in score order.
    assert_eq!(w.run("ZRANGESTORE dst z [a [b BYLEX"), ":2\r\n");
    // An empty result deletes the destination, whatever it held.
    w.run("SET s x");
    assert_eq!(w.run("ZRANGESTORE s z 10 20"), ":0\r\n");
    assert_eq!(w.run("GET s"), "$-1\r\n");
    assert_eq!(w.run("ZRANGESTORE dst nokey 0 -1"), ":0\r\n");
    assert_eq!(
        w.run("ZRANGESTORE dst z 0 1 WITHSCORES"),
        err("ERR syntax error")
    );
    // It replaces a destination of another type.
    w.run("SET s x");
    assert_eq!(w.run("ZRANGESTORE s z 0 0"), ":1\r\n");
    assert_eq!(w.run("ZRANGE s 0 -1"), bulks(&["a"]));
}

#[test]
fn remove_ranges() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    w.run("ZADD z 1 a 2 b 3 c 4 d 5 e 6 f");
    assert_eq!(w.run("ZREMRANGEBYRANK z 0 1"), ":2\r\n");
    assert_eq!(w.run("ZREMRANGEBYRANK z -1 -1"), ":1\r\n");
    assert_eq!(w.run("ZREMRANGEBYRANK z 5 1"), ":0\r\n");
    assert_eq!(w.run("ZRANGE z 0 -1"), bulks(&["c", "d", "e"]));
    assert_eq!(w.run("ZREMRANGEBYSCORE z (3 4"), ":1\r\n");
    assert_eq!(w.run("ZRANGE z 0 -1"), bulks(&["c", "e"]));
    assert_eq!(w.run("ZREMRANGEBYSCORE nokey 0 1"), ":0\r\n");
    w.run("ZADD l 0 a 0 b 0 c 0 d");
    assert_eq!(w.run("ZREMRANGEBYLEX l (a [c"), ":2\r\n");
    assert_eq!(w.run("ZRANGE l 0 -1"), bulks(&["a", "d"]));
    assert_eq!(w.run("ZREMRANGEBYLEX l - +"), ":2\r\n");
    assert_eq!(w.run("GET l"), "$-1\r\n");
    assert_eq!(
        w.run("ZREMRANGEBYSCORE z a b"),
        err("ERR min or max is not a float")
    );
    assert_eq!(
        w.run("ZREMRANGEBYRANK z a b"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        w.run("ZREMRANGEBYLEX z a b"),
        err("ERR min or max not valid string range item")
    );
}

#[test]
fn random_members() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    let mut c = s.conn();
    assert_eq!(w.run("ZRANDMEMBER nokey"), "$-1\r\n");
    assert_eq!(w.run("ZRANDMEMBER nokey 3"), "*0\r\n");
    let all = ["a", "b", "c", "d", "e", "f", "g", "h", "i", "j"];
    for (i, m) in all.iter().enumerate() {
        let _: () = c.zadd("z", *m, i).unwrap();
    }
    let one: String = redis::cmd("ZRANDMEMBER").arg("z").query(&mut c).unwrap();
    assert!(all.contains(&one.as_str()));
    for count in [1usize, 3, 8, 10, 50] {
        let mut got: Vec<String> = redis::cmd("ZRANDMEMBER")
            .arg("z")
            .arg(count)
            .query(&mut c)
            .unwrap();
        assert_eq!(got.len(), count.min(10), "count {count}");
        got.sort();
        got.dedup();
        assert_eq!(got.len(), count.min(10), "distinct for count {count}");
        assert!(got.iter().all(|m| all.contains(&m.as_str())));
    }
    // Negative counts may repeat and return exactly |count| members.
    let rep: Vec<String> = redis::cmd("ZRANDMEMBER")
        .arg("z")
        .arg(-25)
        .query(&mut c)
        .unwrap();
    assert_eq!(rep.len(), 25);
    let pairs: Vec<(String, f64)> = redis::cmd("ZRANDMEMBER")
        .arg("z")
        .arg(-4)
        .arg("WITHSCORES")
        .query(&mut c)
        .unwrap();
    assert_eq!(pairs.len(), 4);
    for (m, score) in pairs {
        let i = all.iter().position(|x| *x == m).unwrap();
        assert_eq!(score, i as f64);
    }
    assert_eq!(w.run("ZRANDMEMBER z 0"), "*0\r\n");
    assert_eq!(
        w.run("ZRANDMEMBER z a"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(w.run("ZRANDMEMBER z 1 WITHSCORE"), err("ERR syntax error"));
    assert_eq!(
        w.run("ZRANDMEMBER z -9223372036854775808"),
        err(
            "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807"
        )
    );
    let mut w3 = Wire::new(&s, true);
    w3.run("ZADD one 1.5 m");
    assert_eq!(
        w3.run("ZRANDMEMBER one -2 WITHSCORES"),
        "*2\r\n*2\r\n$1\r\nm\r\n,1.5\r\n*2\r\n$1\r\nm\r\n,1.5\r\n"
    );
}

#[test]
fn zscan_walks_everything() {
    let s = TestServer::start();
    let mut c = s.conn();
    for i in 0..300 {
        let _: () = c.zadd("z", format!("m{i}"), i).unwrap();
    }
    let mut seen = std::collections::HashMap::new();
    let mut cursor = 0u64;
    loop {
        let (next, items): (u64, Vec<(String, f64)>) = redis::cmd("ZSCAN")
            .arg("z")
            .arg(cursor)
            .arg("COUNT")
            .arg(25)
            .query(&mut c)
            .unwrap();
        for (m, score) in items {
            seen.insert(m, score);
        }
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    assert_eq!(seen.len(), 300);
    assert_eq!(seen["m42"], 42.0);
    let mut w = Wire::new(&s, false);
    w.run("ZADD small 1.5 ab 2 b");
    assert_eq!(
        w.run("ZSCAN small 0 MATCH a*"),
        "*2\r\n$1\r\n0\r\n*2\r\n$2\r\nab\r\n$3\r\n1.5\r\n"
    );
    assert_eq!(w.run("ZSCAN nokey 0"), "*2\r\n$1\r\n0\r\n*0\r\n");
    assert_eq!(w.run("ZSCAN small abc"), err("ERR invalid cursor"));
    assert_eq!(w.run("ZSCAN small 0 COUNT 0"), err("ERR syntax error"));
    assert_eq!(w.run("ZSCAN small 0 MATCH"), err("ERR syntax error"));
    assert_eq!(w.run("ZSCAN small 0 FOO bar"), err("ERR syntax error"));
    assert_eq!(
        w.run("ZSCAN small 0 COUNT x"),
        err("ERR value is not an integer or out of range")
    );
    // Scores stay bulk strings in RESP3.
    let mut w3 = Wire::new(&s, true);
    assert_eq!(
        w3.run("ZSCAN small 0 MATCH b"),
        "*2\r\n$1\r\n0\r\n*2\r\n$1\r\nb\r\n$1\r\n2\r\n"
    );
}

#[test]
fn set_algebra() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    w.run("ZADD a 1 x 2 y 3 z");
    w.run("ZADD b 10 y 20 z 30 w");
    assert_eq!(w.run("ZUNIONSTORE out 2 a b"), ":4\r\n");
    assert_eq!(
        w.run("ZRANGE out 0 -1 WITHSCORES"),
        bulks(&["x", "1", "y", "12", "z", "23", "w", "30"])
    );
    assert_eq!(
        w.run("ZUNION 2 a b WEIGHTS 2 0.5 AGGREGATE MAX WITHSCORES"),
        bulks(&["x", "2", "y", "5", "z", "10", "w", "15"])
    );
    assert_eq!(
        w.run("ZUNION 2 a b AGGREGATE MIN WITHSCORES"),
        bulks(&["x", "1", "y", "2", "z", "3", "w", "30"])
    );
    assert_eq!(w.run("ZUNION 2 a nokey"), bulks(&["x", "y", "z"]));
    assert_eq!(w.run("ZINTERSTORE out 2 a b WEIGHTS 1 -1"), ":2\r\n");
    assert_eq!(
        w.run("ZRANGE out 0 -1 WITHSCORES"),
        bulks(&["z", "-17", "y", "-8"])
    );
    assert_eq!(
        w.run("ZINTER 2 a b AGGREGATE MAX WITHSCORES"),
        bulks(&["y", "10", "z", "20"])
    );
    assert_eq!(w.run("ZINTER 2 a b"), bulks(&["y", "z"]));
    assert_eq!(w.run("ZDIFFSTORE out 2 a b"), ":1\r\n");
    assert_eq!(w.run("ZRANGE out 0 -1 WITHSCORES"), bulks(&["x", "1"]));
    assert_eq!(w.run("ZDIFF 2 b a WITHSCORES"), bulks(&["w", "30"]));
    assert_eq!(w.run("ZDIFF 1 a"), bulks(&["x", "y", "z"]));
    assert_eq!(w.run("ZINTERCARD 2 a b"), ":2\r\n");
    assert_eq!(w.run("ZINTERCARD 2 a b LIMIT 1"), ":1\r\n");
    assert_eq!(w.run("ZINTERCARD 2 a b LIMIT 0"), ":2\r\n");
    assert_eq!(w.run("ZINTERCARD 2 a nokey"), ":0\r\n");
    // inf + -inf sums to 0; inf * 0 weighs 0.
    w.run("ZADD p +inf m");
    w.run("ZADD n -inf m");
    assert_eq!(w.run("ZUNION 2 p n WITHSCORES"), bulks(&["m", "0"]));
    assert_eq!(w.run("ZUNION 1 p WEIGHTS 0 WITHSCORES"), bulks(&["m", "0"]));
    // Empty results delete the destination; the destination may be an input.
    assert_eq!(w.run("ZINTERSTORE out 2 a nokey"), ":0\r\n");
    assert_eq!(w.run("GET out"), "$-1\r\n");
    assert_eq!(w.run("ZUNIONSTORE a 2 a b"), ":4\r\n");
    assert_eq!(w.run("ZCARD a"), ":4\r\n");
    // RESP3 pairs with doubles.
    let mut w3 = Wire::new(&s, true);
    assert_eq!(
        w3.run("ZINTER 2 a b WITHSCORES"),
        "*3\r\n*2\r\n$1\r\ny\r\n,22\r\n*2\r\n$1\r\nz\r\n,43\r\n*2\r\n$1\r\nw\r\n,60\r\n"
    );
}

#[test]
fn set_algebra_errors() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    w.run("ZADD a 1 x");
    w.run("SET str v");
    assert_eq!(
        w.run("ZUNIONSTORE out 0 a"),
        err("ERR at least 1 input key is needed for 'zunionstore' command")
    );
    assert_eq!(
        w.run("ZUNION -1 a"),
        err("ERR at least 1 input key is needed for 'zunion' command")
    );
    assert_eq!(
        w.run("ZINTERCARD 0 a"),
        err("ERR at least 1 input key is needed for 'zintercard' command")
    );
    assert_eq!(w.run("ZUNIONSTORE out 3 a b"), err("ERR syntax error"));
    assert_eq!(w.run("ZINTER 2 a"), err("ERR syntax error"));
    assert_eq!(
        w.run("ZUNIONSTORE out x a"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(w.run("ZUNION 1 a WEIGHTS"), err("ERR syntax error"));
    assert_eq!(
        w.run("ZUNION 1 a WEIGHTS x"),
        err("ERR weight value is not a float")
    );
    assert_eq!(w.run("ZUNION 1 a AGGREGATE avg"), err("ERR syntax error"));
    assert_eq!(
        w.run("ZUNIONSTORE out 1 a WITHSCORES"),
        err("ERR syntax error")
    );
    assert_eq!(w.run("ZDIFF 1 a WEIGHTS 1"), err("ERR syntax error"));
    assert_eq!(w.run("ZDIFF 1 a AGGREGATE MAX"), err("ERR syntax error"));
    assert_eq!(
        w.run("ZINTERCARD 1 a LIMIT -1"),
        err("ERR LIMIT can't be negative")
    );
    assert_eq!(w.run("ZINTERCARD 1 a LIMIT"), err("ERR syntax error"));
    for cmd in [
        "ZUNION 2 a str",
        "ZINTER 2 a str",
        "ZDIFF 2 a str",
        "ZINTERCARD 2 str a",
        "ZUNIONSTORE out 2 a str",
    ] {
        assert_eq!(w.run(cmd), err(WRONGTYPE), "{cmd}");
    }
    // The destination's old type does not matter.
    assert_eq!(w.run("ZUNIONSTORE str 1 a"), ":1\r\n");
    assert_eq!(w.run("ZSCORE str x"), "$1\r\n1\r\n");
}

#[test]
fn wrong_type_everywhere() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    w.run("SET str v");
    for cmd in [
        "ZADD str 1 a",
        "ZADD str XX 1 a",
        "ZINCRBY str 1 a",
        "ZREM str a",
        "ZSCORE str a",
        "ZMSCORE str a",
        "ZCARD str",
        "ZCOUNT str 0 1",
        "ZLEXCOUNT str - +",
        "ZRANGE str 0 -1",
        "ZRANGEBYSCORE str 0 1",
        "ZRANGEBYLEX str - +",
        "ZRANK str a",
        "ZPOPMIN str",
        "ZPOPMAX str 0",
        "ZRANGESTORE dst str 0 -1",
        "ZREMRANGEBYRANK str 0 -1",
        "ZREMRANGEBYSCORE str 0 1",
        "ZREMRANGEBYLEX str - +",
        "ZRANDMEMBER str",
        "ZRANDMEMBER str 2",
        "ZSCAN str 0",
    ] {
        assert_eq!(w.run(cmd), err(WRONGTYPE), "{cmd}");
    }
    // Argument errors come before the type check, as in Redis.
    assert_eq!(
        w.run("ZRANGE str a b"),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(w.run("GET str"), "$1\r\nv\r\n");
}

#[test]
fn resp3_reply_shapes() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, true);
    w.run("ZADD z 1 a 2.5 b");
    assert_eq!(w.run("ZSCORE z b"), ",2.5\r\n");
    assert_eq!(w.run("ZSCORE z nope"), "_\r\n");
    assert_eq!(w.run("ZMSCORE z a nope"), "*2\r\n,1\r\n_\r\n");
    assert_eq!(w.run("ZINCRBY z 1 a"), ",2\r\n");
    assert_eq!(w.run("ZADD z INCR 1 a"), ",3\r\n");
    assert_eq!(w.run("ZADD z NX INCR 1 a"), "_\r\n");
    assert_eq!(
        w.run("ZRANGE z 0 -1 WITHSCORES"),
        "*2\r\n*2\r\n$1\r\nb\r\n,2.5\r\n*2\r\n$1\r\na\r\n,3\r\n"
    );
    assert_eq!(
        w.run("ZRANGEBYSCORE z -inf +inf WITHSCORES LIMIT 0 1"),
        "*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n"
    );
    assert_eq!(w.run("ZRANGE z 0 -1"), "*2\r\n$1\r\nb\r\n$1\r\na\r\n");
    assert_eq!(
        w.run("ZUNION 1 z WITHSCORES"),
        "*2\r\n*2\r\n$1\r\nb\r\n,2.5\r\n*2\r\n$1\r\na\r\n,3\r\n"
    );
    assert_eq!(w.run("ZRANDMEMBER nokey"), "_\r\n");
    // The typed RESP3 client reads the pairs too.
    let mut c3 = s.conn3();
    let v: redis::Value = redis::cmd("ZRANGE")
        .arg("z")
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query(&mut c3)
        .unwrap();
    assert_eq!(
        v,
        redis::Value::Array(vec![
            redis::Value::Array(vec![
                redis::Value::BulkString(b"b".to_vec()),
                redis::Value::Double(2.5)
            ]),
            redis::Value::Array(vec![
                redis::Value::BulkString(b"a".to_vec()),
                redis::Value::Double(3.0)
            ]),
        ])
    );
}

#[test]
fn arity_errors() {
    let s = TestServer::start();
    let mut w = Wire::new(&s, false);
    for (line, name) in [
        ("ZADD z 1", "zadd"),
        ("ZREM z", "zrem"),
        ("ZSCORE z", "zscore"),
        ("ZMSCORE z", "zmscore"),
        ("ZINCRBY z 1", "zincrby"),
        ("ZRANGE z 0", "zrange"),
        ("ZRANGESTORE d z 0", "zrangestore"),
        ("ZRANK z", "zrank"),
        ("ZPOPMIN", "zpopmin"),
        ("ZUNIONSTORE out 1", "zunionstore"),
        ("ZUNION 1", "zunion"),
        ("ZSCAN z", "zscan"),
        ("BZPOPMIN z", "bzpopmin"),
    ] {
        assert_eq!(
            w.run(line),
            err(&format!(
                "ERR wrong number of arguments for '{name}' command"
            )),
            "{line}"
        );
    }
}
