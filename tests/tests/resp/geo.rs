//! Geo commands. Every expected value is what Redis 7.0 answers to the
//! same commands on the same data (distances to its four decimals,
//! coordinates to its 17, results in its order).

use meridian_tests::TestServer;
use meridian_tests::call::{err, ok};
use redis::{Connection, Value};

/// A reply flattened to the lines redis-cli would print (nil as "").
fn flat(v: Value, out: &mut Vec<String>) {
    match v {
        Value::Nil => out.push(String::new()),
        Value::Int(i) => out.push(i.to_string()),
        Value::BulkString(b) => out.push(String::from_utf8_lossy(&b).into_owned()),
        Value::SimpleString(s) => out.push(s),
        Value::Okay => out.push("OK".into()),
        Value::Double(d) => out.push(d.to_string()),
        Value::Array(items) | Value::Set(items) => items.into_iter().for_each(|i| flat(i, out)),
        other => out.push(format!("{other:?}")),
    }
}

fn lines(c: &mut Connection, words: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    flat(ok(c, words), &mut out);
    out
}

fn cities(c: &mut Connection) {
    let n: i64 = ok(
        c,
        &[
            "GEOADD",
            "cities",
            "-0.1278",
            "51.5074",
            "London",
            "2.3522",
            "48.8566",
            "Paris",
            "13.4050",
            "52.5200",
            "Berlin",
            "-3.7038",
            "40.4168",
            "Madrid",
            "12.4964",
            "41.9028",
            "Rome",
            "-74.0060",
            "40.7128",
            "NewYork",
            "-118.2437",
            "34.0522",
            "LosAngeles",
            "139.6917",
            "35.6895",
            "Tokyo",
            "151.2093",
            "-33.8688",
            "Sydney",
            "-43.1729",
            "-22.9068",
            "Rio",
            "4.9041",
            "52.3676",
            "Amsterdam",
            "4.3517",
            "50.8503",
            "Brussels",
        ],
    );
    assert_eq!(n, 12);
}

#[test]
fn geoadd_stores_redis_scores_and_positions() {
    let s = TestServer::start();
    let mut c = s.conn();
    let n: i64 = ok(
        &mut c,
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
    );
    assert_eq!(n, 2);
    // Redis stores the 52-bit geohash as the score.
    assert_eq!(
        lines(&mut c, &["ZSCORE", "Sicily", "Palermo"]),
        ["3479099956230698"]
    );
    assert_eq!(
        lines(&mut c, &["GEOPOS", "Sicily", "Palermo", "Catania", "nope"]),
        [
            "13.36138933897018433",
            "38.11555639549629859",
            "15.08726745843887329",
            "37.50266842333162032",
            ""
        ]
    );
    assert_eq!(
        lines(&mut c, &["GEOHASH", "Sicily", "Palermo", "Catania", "nope"]),
        ["sqc8b49rny0", "sqdtr74hyu0", ""]
    );
    assert_eq!(
        lines(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania"]),
        ["166274.1516"]
    );
    assert_eq!(
        lines(&mut c, &["GEODIST", "Sicily", "Palermo", "Catania", "km"]),
        ["166.2742"]
    );
    // NX never updates, XX never adds, CH counts updates.
    let moved = ["GEOADD", "Sicily", "CH", "13.5", "38.1", "Palermo"];
    assert_eq!(
        ok::<i64>(
            &mut c,
            &["GEOADD", "Sicily", "NX", "13.5", "38.1", "Palermo"]
        ),
        0
    );
    assert_eq!(
        ok::<i64>(&mut c, &["GEOADD", "Sicily", "XX", "1", "1", "Nowhere"]),
        0
    );
    assert_eq!(ok::<i64>(&mut c, &moved), 1);
    assert_eq!(ok::<i64>(&mut c, &moved), 0);
    assert_eq!(ok::<i64>(&mut c, &["ZCARD", "Sicily"]), 2);
    // A geo index is a sorted set to every other command.
    assert_eq!(ok::<String>(&mut c, &["TYPE", "Sicily"]), "zset");
}

#[test]
fn distances_between_cities_equal_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    cities(&mut c);
    for (a, b, unit, want) in [
        ("London", "Paris", "m", "343653.0131"),
        ("London", "Paris", "km", "343.6530"),
        ("London", "Paris", "mi", "213.5366"),
        ("London", "Paris", "ft", "1127470.5155"),
        ("NewYork", "LosAngeles", "km", "3936.8567"),
        ("Tokyo", "Sydney", "KM", "7828.8235"),
        ("Rio", "Madrid", "mi", "5059.0781"),
    ] {
        assert_eq!(
            lines(&mut c, &["GEODIST", "cities", a, b, unit]),
            [want],
            "{a}-{b}"
        );
    }
    assert_eq!(
        lines(&mut c, &["GEODIST", "cities", "London", "nope"]),
        [""]
    );
    assert_eq!(lines(&mut c, &["GEODIST", "nokey", "a", "b"]), [""]);
    assert_eq!(
        lines(&mut c, &["GEOHASH", "cities", "London", "Sydney", "Rio"]),
        ["gcpvj0duq50", "r3gx2f77bj0", "75cm9tfqnw0"]
    );
    assert_eq!(
        lines(&mut c, &["GEOPOS", "cities", "Sydney", "Rio"]),
        [
            "151.20929986238479614",
            "-33.86880091934155956",
            "-43.17289799451828003",
            "-22.90680107158666345"
        ]
    );
}

#[test]
fn geosearch_matches_redis_order_and_options() {
    let s = TestServer::start();
    let mut c = s.conn();
    cities(&mut c);
    // Unsorted: Redis's box order.
    assert_eq!(
        lines(
            &mut c,
            &[
                "GEOSEARCH",
                "cities",
                "FROMLONLAT",
                "2.35",
                "48.85",
                "BYRADIUS",
                "500",
                "km"
            ]
        ),
        ["Paris", "Brussels", "Amsterdam", "London"]
    );
    assert_eq!(
        lines(
            &mut c,
            &[
                "GEOSEARCH",
                "cities",
                "FROMLONLAT",
                "2.35",
                "48.85",
                "BYRADIUS",
                "500",
                "km",
                "DESC",
                "WITHDIST"
            ]
        ),
        [
            "Amsterdam",
            "430.7193",
            "London",
            "344.2088",
            "Brussels",
            "264.7573",
            "Paris",
            "0.7515"
        ]
    );
    assert_eq!(
        lines(
            &mut c,
            &[
                "GEOSEARCH",
                "cities",
                "FROMMEMBER",
                "Paris",
                "BYBOX",
                "1000",
                "800",
                "km",
                "ASC",
                "WITHCOORD",
                "WITHHASH"
            ]
        ),
        [
            "Paris",
            "3663832779122514",
            "2.35219806432723999",
            "48.8565995303492997",
            "Brussels",
            "3665377323230698",
            "4.35169905424118042",
            "50.85029966655430655",
            "London",
            "2163557714755072",
            "-0.12779921293258667",
            "51.50740077990133159",
            "Amsterdam",
            "3665667335078076",
            "4.90410000085830688",
            "52.36759896086155663"
        ]
    );
    assert_eq!(
        lines(
            &mut c,
            &[
                "GEOSEARCH",
                "cities",
                "FROMMEMBER",
                "Paris",
                "BYRADIUS",
                "1200",
                "km",
                "COUNT",
                "3"
            ]
        ),
        ["Paris", "Brussels", "London"]
    );
    assert_eq!(
        lines(
            &mut c,
            &[
                "GEOSEARCH",
                "cities",
                "FROMMEMBER",
                "Paris",
                "BYRADIUS",
                "1200",
                "km",
                "COUNT",
                "2",
                "ANY"
            ]
        ),
        ["Paris", "Brussels"]
    );
    // A radius wider than a hemisphere visits merged neighbour boxes.
    assert_eq!(
        lines(
            &mut c,
            &[
                "GEOSEARCH",
                "cities",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "20000",
                "km"
            ]
        ),
        [
            "Rome",
            "Paris",
            "Brussels",
            "Amsterdam",
            "Berlin",
            "Tokyo",
            "Sydney",
            "LosAngeles",
            "NewYork",
            "Madrid",
            "London",
            "Rio"
        ]
    );
    assert_eq!(
        lines(
            &mut c,
            &[
                "GEOSEARCH",
                "missing",
                "FROMLONLAT",
                "0",
                "0",
                "BYRADIUS",
                "1",
                "km"
            ]
        ),
        Vec::<String>::new()
    );
}

#[test]
fn georadius_family_matches_redis() {
    let s = TestServer::start();
    let mut c = s.conn();
    cities(&mut c);
    assert_eq!(
        lines(
            &mut c,
            &[
                "GEORADIUS",
                "cities",
                "0",
                "50",
                "1000",
                "km",
                "WITHDIST",
                "ASC"
            ]
        ),
        [
            "London",
            "167.9035",
            "Paris",
            "212.4182",
            "Brussels",
            "322.4850",
            "Amsterdam",
            "431.4085",
            "Berlin",
            "972.5831"
        ]
    );
    assert_eq!(
        lines(
            &mut c,
            &[
                "GEORADIUSBYMEMBER",
                "cities",
                "Berlin",
                "700",
                "mi",
                "WITHDIST"
            ]
        ),
        [
            "Paris",
            "545.3858",
            "Brussels",
            "404.4091",
            "Amsterdam",
            "358.0660",
            "Berlin",
            "0.0000",
            "London",
            "579.0152"
        ]
    );
    assert_eq!(
        lines(
            &mut c,
            &[
                "GEORADIUSBYMEMBER_RO",
                "cities",
                "Berlin",
                "700",
                "mi",
                "COUNT",
                "1"
            ]
        ),
        ["Berlin"]
    );
    assert_eq!(
        lines(&mut c, &["GEORADIUS_RO", "cities", "0", "50", "200", "km"]),
        ["London"]
    );
    let n: i64 = ok(
        &mut c,
        &[
            "GEORADIUS",
            "cities",
            "0",
            "50",
            "1000",
            "km",
            "STORE",
            "dst2",
        ],
    );
    assert_eq!(n, 5);
    assert_eq!(
        lines(&mut c, &["ZRANGE", "dst2", "0", "-1", "WITHSCORES"]),
        [
            "London",
            "2163557714755072",
            "Paris",
            "3663832779122514",
            "Brussels",
            "3665377323230698",
            "Amsterdam",
            "3665667335078076",
            "Berlin",
            "3673983950397063"
        ]
    );
}

#[test]
fn geosearchstore_stores_hashes_or_distances() {
    let s = TestServer::start();
    let mut c = s.conn();
    cities(&mut c);
    let n: i64 = ok(
        &mut c,
        &[
            "GEOSEARCHSTORE",
            "dst",
            "cities",
            "FROMMEMBER",
            "Paris",
            "BYRADIUS",
            "500",
            "km",
            "STOREDIST",
        ],
    );
    assert_eq!(n, 4);
    // Redis 7.0 prints these scores with 17 significant digits; compare the
    // doubles they stand for.
    let stored = lines(&mut c, &["ZRANGE", "dst", "0", "-1", "WITHSCORES"]);
    let want = [
        ("Paris", "0"),
        ("Brussels", "264.04994826808638"),
        ("London", "343.65301312082147"),
        ("Amsterdam", "429.98267480351547"),
    ];
    assert_eq!(stored.len(), 2 * want.len(), "{stored:?}");
    for (pair, (member, score)) in stored.chunks(2).zip(want) {
        assert_eq!(pair[0], member);
        assert_eq!(
            pair[1].parse::<f64>().unwrap(),
            score.parse::<f64>().unwrap(),
            "{member}"
        );
    }
    let n: i64 = ok(
        &mut c,
        &[
            "GEOSEARCHSTORE",
            "dst",
            "cities",
            "FROMMEMBER",
            "Paris",
            "BYRADIUS",
            "100",
            "km",
            "COUNT",
            "1",
        ],
    );
    assert_eq!(n, 1);
    assert_eq!(
        lines(&mut c, &["ZRANGE", "dst", "0", "-1", "WITHSCORES"]),
        ["Paris", "3663832779122514"]
    );
    // A missing source deletes the destination.
    let n: i64 = ok(
        &mut c,
        &[
            "GEOSEARCHSTORE",
            "dst",
            "missing",
            "FROMLONLAT",
            "0",
            "0",
            "BYRADIUS",
            "1",
            "km",
        ],
    );
    assert_eq!(n, 0);
    assert_eq!(ok::<i64>(&mut c, &["EXISTS", "dst"]), 0);
}

#[test]
fn geo_errors_are_redis_lines() {
    let s = TestServer::start();
    let mut c = s.conn();
    cities(&mut c);
    let _: () = ok(&mut c, &["SET", "str", "x"]);
    for (words, want) in [
        (
            &["GEOADD", "x", "200", "100", "a"][..],
            "ERR invalid longitude,latitude pair 200.000000,100.000000",
        ),
        (
            &["GEOADD", "x", "NX", "XX", "1", "1", "a"],
            "ERR syntax error",
        ),
        (&["GEOADD", "x", "1", "1", "a", "2"], "ERR syntax error"),
        (
            &["GEOADD", "x", "foo", "1", "a"],
            "ERR value is not a valid float",
        ),
        (
            &["GEOADD", "x", "1", "1"],
            "ERR wrong number of arguments for 'geoadd' command",
        ),
        (
            &["GEOADD", "str", "1", "1", "a"],
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
        (
            &["GEODIST", "cities", "London", "Paris", "yd"],
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        ),
        (
            &["GEOSEARCH", "cities", "BYBOX", "1", "1", "km"],
            "ERR wrong number of arguments for 'geosearch' command",
        ),
        (
            &[
                "GEOSEARCH",
                "cities",
                "FROMMEMBER",
                "nope",
                "BYRADIUS",
                "1",
                "km",
            ],
            "ERR could not decode requested zset member",
        ),
        (
            &[
                "GEOSEARCH",
                "cities",
                "FROMMEMBER",
                "Paris",
                "BYRADIUS",
                "-1",
                "km",
            ],
            "ERR radius cannot be negative",
        ),
        (
            &[
                "GEOSEARCH",
                "cities",
                "FROMMEMBER",
                "Paris",
                "BYRADIUS",
                "x",
                "km",
            ],
            "ERR need numeric radius",
        ),
        (
            &[
                "GEOSEARCH",
                "cities",
                "FROMMEMBER",
                "Paris",
                "BYBOX",
                "x",
                "1",
                "km",
            ],
            "ERR need numeric width",
        ),
        (
            &[
                "GEOSEARCH",
                "cities",
                "FROMMEMBER",
                "Paris",
                "BYBOX",
                "1",
                "-1",
                "km",
            ],
            "ERR height or width cannot be negative",
        ),
        (
            &[
                "GEOSEARCH",
                "cities",
                "FROMMEMBER",
                "Paris",
                "BYRADIUS",
                "1",
                "km",
                "ANY",
            ],
            "ERR the ANY argument requires COUNT argument",
        ),
        (
            &[
                "GEOSEARCH",
                "cities",
                "FROMMEMBER",
                "Paris",
                "BYRADIUS",
                "1",
                "km",
                "COUNT",
                "0",
            ],
            "ERR COUNT must be > 0",
        ),
        (
            &[
                "GEOSEARCH",
                "cities",
                "FROMMEMBER",
                "Paris",
                "BYRADIUS",
                "1",
                "km",
                "COUNT",
                "x",
            ],
            "ERR value is not an integer or out of range",
        ),
        (
            &[
                "GEOSEARCH",
                "cities",
                "FROMMEMBER",
                "Paris",
                "FROMLONLAT",
                "1",
                "1",
                "BYRADIUS",
                "1",
                "km",
            ],
            "ERR syntax error",
        ),
        (
            &[
                "GEOSEARCH",
                "cities",
                "FROMMEMBER",
                "Paris",
                "WITHDIST",
                "ASC",
                "WITHHASH",
            ],
            "ERR exactly one of BYRADIUS and BYBOX can be specified for GEOSEARCH",
        ),
        (
            &[
                "GEOSEARCH",
                "cities",
                "BYRADIUS",
                "1",
                "km",
                "ASC",
                "WITHDIST",
            ],
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH",
        ),
        (
            &[
                "GEOSEARCHSTORE",
                "d",
                "cities",
                "FROMMEMBER",
                "Paris",
                "BYRADIUS",
                "1",
                "km",
                "WITHDIST",
            ],
            "ERR GEOSEARCHSTORE is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
        ),
        (
            &[
                "GEORADIUS",
                "cities",
                "15",
                "37",
                "200",
                "km",
                "STORE",
                "d",
                "WITHCOORD",
            ],
            "ERR STORE option in GEORADIUS is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
        ),
        (
            &[
                "GEORADIUS_RO",
                "cities",
                "15",
                "37",
                "200",
                "km",
                "STORE",
                "d",
            ],
            "ERR syntax error",
        ),
        (
            &["GEORADIUSBYMEMBER", "cities", "nope", "200", "km"],
            "ERR could not decode requested zset member",
        ),
        (
            &[
                "GEOSEARCH",
                "str",
                "FROMLONLAT",
                "1",
                "1",
                "BYRADIUS",
                "1",
                "km",
            ],
            "WRONGTYPE Operation against a key holding the wrong kind of value",
        ),
    ] {
        assert_eq!(err(&mut c, words), want, "{words:?}");
    }
}

#[test]
fn resp3_replies_have_redis_types() {
    let s = TestServer::start();
    let mut c = s.conn3();
    let _: i64 = ok(
        &mut c,
        &[
            "GEOADD",
            "Sicily",
            "13.361389",
            "38.115556",
            "Palermo",
            "15.087269",
            "37.502669",
            "Catania",
        ],
    );
    // Coordinates are RESP3 doubles, distances bulk strings, hashes integers
    // (Redis 7.0: `,13.36138933897018433`, `$7 56.4413`, `:3479447370796909`).
    let v: Value = ok(
        &mut c,
        &[
            "GEOSEARCH",
            "Sicily",
            "FROMLONLAT",
            "15",
            "37",
            "BYRADIUS",
            "200",
            "km",
            "ASC",
            "WITHCOORD",
            "WITHDIST",
            "WITHHASH",
            "COUNT",
            "1",
        ],
    );
    let Value::Array(items) = v else {
        panic!("{v:?}")
    };
    let Value::Array(first) = &items[0] else {
        panic!("{items:?}")
    };
    assert_eq!(first[0], Value::BulkString(b"Catania".to_vec()));
    assert_eq!(first[1], Value::BulkString(b"56.4413".to_vec()));
    assert_eq!(first[2], Value::Int(3479447370796909));
    let Value::Array(coords) = &first[3] else {
        panic!("{first:?}")
    };
    assert!(matches!(coords[0], Value::Double(x) if (x - 15.087267458438873).abs() < 1e-12));
    assert!(matches!(coords[1], Value::Double(y) if (y - 37.50266842333162).abs() < 1e-12));
    let v: Value = ok(&mut c, &["GEOPOS", "Sicily", "nope"]);
    assert_eq!(v, Value::Array(vec![Value::Nil]));
}
