//! Geo commands: GEOADD, GEOPOS, GEODIST, GEOHASH, GEOSEARCH,
//! GEOSEARCHSTORE and the older GEORADIUS family (with their _RO forms).
//!
//! This file owns the syntax (units, FROM*/BY* options, STORE/STOREDIST) in
//! the order Redis checks it, so the first error a bad command meets is the
//! one Redis reports, and the reply shapes: distances with four decimals,
//! coordinates as "human" doubles (17 decimals, trailing zeros trimmed), the
//! hash as an integer. Semantics live in `engine::geo`.

use smallvec::SmallVec;

use super::args::{self, is};
use super::flags::*;
use super::{CmdError, CommandSpec, Ctx, Flow, KeySpec};
use crate::engine::geo::{GeoCenter, GeoPoint, GeoQuery, GeoSearchOutcome, GeoSort};
use crate::engine::geohash::{Shape, valid_lon_lat};
use crate::engine::number::parse_f64;
use crate::engine::zsets::ZAddOptions;
use crate::resp::{Reply, Request};

type R = Result<Flow, CmdError>;

/// Metres per unit, or Redis's error.
fn unit(arg: &[u8]) -> Result<f64, CmdError> {
    match arg {
        a if is(a, "m") => Ok(1.0),
        a if is(a, "km") => Ok(1000.0),
        a if is(a, "ft") => Ok(0.3048),
        a if is(a, "mi") => Ok(1609.34),
        _ => Err(CmdError::msg(
            "ERR unsupported unit provided. please use M, KM, FT, MI",
        )),
    }
}

/// A longitude/latitude pair at `req[at]`, `req[at + 1]`.
fn lon_lat(req: &Request, at: usize) -> Result<(f64, f64), CmdError> {
    let lon = args::float(req.arg(at))?;
    let lat = args::float(req.arg(at + 1))?;
    if !valid_lon_lat(lon, lat) {
        return Err(CmdError::msg(format!(
            "ERR invalid longitude,latitude pair {lon:.6},{lat:.6}"
        )));
    }
    Ok((lon, lat))
}

fn number(arg: &[u8], what: &'static str) -> Result<f64, CmdError> {
    parse_f64(arg).ok_or(CmdError::msg(what))
}

/// `<radius> <unit>` at `req[at]`: (radius, metres per unit).
fn radius(req: &Request, at: usize) -> Result<(f64, f64), CmdError> {
    let r = number(req.arg(at), "ERR need numeric radius")?;
    if r < 0.0 {
        return Err(CmdError::msg("ERR radius cannot be negative"));
    }
    Ok((r, unit(req.arg(at + 1))?))
}

/// Redis's "human" long double: 17 decimals, trailing zeros trimmed.
fn human(v: f64) -> String {
    let mut s = format!("{v:.17}");
    if s.contains('.') {
        let t = s.trim_end_matches('0').trim_end_matches('.').len();
        s.truncate(t);
    }
    if s == "-0" { "0".to_string() } else { s }
}

fn write_coords(out: &mut Reply, lon: f64, lat: f64) {
    out.array(2);
    out.double_text(&human(lon));
    out.double_text(&human(lat));
}

fn geoadd(ctx: &mut Ctx, req: &Request) -> R {
    let mut opts = ZAddOptions::default();
    let mut ch = false;
    let mut i = 2;
    while i < req.len() {
        match req.arg(i) {
            a if is(a, "nx") => opts.nx = true,
            a if is(a, "xx") => opts.xx = true,
            a if is(a, "ch") => ch = true,
            _ => break,
        }
        i += 1;
    }
    if !(req.len() - i).is_multiple_of(3) || (opts.nx && opts.xx) {
        return Err(CmdError::Syntax);
    }
    let mut points = Vec::with_capacity((req.len() - i) / 3);
    while i < req.len() {
        let (lon, lat) = lon_lat(req, i)?;
        points.push((lon, lat, req.arg(i + 2)));
        i += 3;
    }
    let counts = ctx.txn.geoadd(req.arg(1), &opts, &points)?;
    let n = counts.added + if ch { counts.updated } else { 0 };
    ctx.out.int(n as i64);
    Ok(Flow::Done)
}

fn members(req: &Request) -> Vec<&[u8]> {
    (2..req.len()).map(|i| req.arg(i)).collect()
}

fn geopos(ctx: &mut Ctx, req: &Request) -> R {
    let found = ctx.txn.geopos(req.arg(1), &members(req))?;
    ctx.out.array(found.len());
    for p in found {
        match p {
            Some((lon, lat)) => write_coords(ctx.out, lon, lat),
            None => ctx.out.null_array(),
        }
    }
    Ok(Flow::Done)
}

fn geohash(ctx: &mut Ctx, req: &Request) -> R {
    let found = ctx.txn.geohash(req.arg(1), &members(req))?;
    ctx.out.array(found.len());
    for h in found {
        ctx.out.bulk_opt(h.as_ref().map(|h| &h[..]));
    }
    Ok(Flow::Done)
}

fn geodist(ctx: &mut Ctx, req: &Request) -> R {
    let to_m = match req.len() {
        4 => 1.0,
        5 => unit(req.arg(4))?,
        _ => return Err(CmdError::Syntax),
    };
    match ctx.txn.geodist(req.arg(1), req.arg(2), req.arg(3), to_m)? {
        Some(d) => ctx.out.bulk(format!("{d:.4}").as_bytes()),
        None => ctx.out.null(),
    }
    Ok(Flow::Done)
}

/// Which geo search command runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    Radius { ro: bool },
    RadiusByMember { ro: bool },
    Search,
    SearchStore,
}

/// A parsed search: the query, where to store it, and what to reply.
struct Search<'a> {
    query: GeoQuery<'a>,
    store: Option<(&'a [u8], bool)>,
    with_dist: bool,
    with_hash: bool,
    with_coord: bool,
}

/// Parses a search as Redis's `georadiusGeneric` does, given whether the
/// source key exists (a missing FROMMEMBER is only an error when it does).
fn parse_search<'a>(
    ctx: &mut Ctx,
    req: &'a Request,
    v: Variant,
    src: &[u8],
    exists: bool,
) -> Result<Search<'a>, CmdError> {
    let mut center = GeoCenter::LonLat(0.0, 0.0);
    let mut shape = Shape::Radius(0.0);
    let mut to_m = 1.0;
    let mut store = None;
    let base = match v {
        Variant::Radius { .. } => {
            let (lon, lat) = lon_lat(req, 2)?;
            center = GeoCenter::LonLat(lon, lat);
            let (r, u) = radius(req, 4)?;
            (shape, to_m) = (Shape::Radius(r), u);
            6
        }
        Variant::RadiusByMember { .. } => {
            if exists {
                let m = req.arg(2);
                if ctx.txn.zscore(src, m)?.is_none() {
                    return Err(CmdError::msg("ERR could not decode requested zset member"));
                }
                center = GeoCenter::Member(m);
                let (r, u) = radius(req, 3)?;
                (shape, to_m) = (Shape::Radius(r), u);
            }
            5
        }
        Variant::Search => 2,
        Variant::SearchStore => {
            store = Some((req.arg(1), false));
            3
        }
    };
    let search = matches!(v, Variant::Search | Variant::SearchStore);
    let may_store = matches!(
        v,
        Variant::Radius { ro: false } | Variant::RadiusByMember { ro: false }
    );
    let (mut with_dist, mut with_hash, mut with_coord, mut any) = (false, false, false, false);
    let (mut from_member, mut from_loc, mut by_radius, mut by_box) = (false, false, false, false);
    let mut sort = GeoSort::None;
    let mut count = None;
    let n = req.len();
    let mut i = base;
    while i < n {
        let a = req.arg(i);
        let left = n - i - 1;
        if is(a, "withdist") {
            with_dist = true;
        } else if is(a, "withhash") {
            with_hash = true;
        } else if is(a, "withcoord") {
            with_coord = true;
        } else if is(a, "any") {
            any = true;
        } else if is(a, "asc") {
            sort = GeoSort::Asc;
        } else if is(a, "desc") {
            sort = GeoSort::Desc;
        } else if is(a, "count") && left >= 1 {
            let c = args::int(req.arg(i + 1))?;
            if c <= 0 {
                return Err(CmdError::msg("ERR COUNT must be > 0"));
            }
            count = Some(c as usize);
            i += 1;
        } else if (is(a, "store") || is(a, "storedist")) && left >= 1 && may_store {
            store = Some((req.arg(i + 1), is(a, "storedist")));
            i += 1;
        } else if is(a, "storedist") && v == Variant::SearchStore {
            store = Some((req.arg(1), true));
        } else if is(a, "frommember") && left >= 1 && search && !from_loc {
            let m = req.arg(i + 1);
            if exists && ctx.txn.zscore(src, m)?.is_none() {
                return Err(CmdError::msg("ERR could not decode requested zset member"));
            }
            center = GeoCenter::Member(m);
            from_member = true;
            i += 1;
        } else if is(a, "fromlonlat") && left >= 2 && search && !from_member {
            let (lon, lat) = lon_lat(req, i + 1)?;
            center = GeoCenter::LonLat(lon, lat);
            from_loc = true;
            i += 2;
        } else if is(a, "byradius") && left >= 2 && search && !by_box {
            let (r, u) = radius(req, i + 1)?;
            (shape, to_m) = (Shape::Radius(r), u);
            by_radius = true;
            i += 2;
        } else if is(a, "bybox") && left >= 3 && search && !by_radius {
            let w = number(req.arg(i + 1), "ERR need numeric width")?;
            let h = number(req.arg(i + 2), "ERR need numeric height")?;
            if w < 0.0 || h < 0.0 {
                return Err(CmdError::msg("ERR height or width cannot be negative"));
            }
            to_m = unit(req.arg(i + 3))?;
            shape = Shape::Box {
                width: w,
                height: h,
            };
            by_box = true;
            i += 3;
        } else {
            return Err(CmdError::Syntax);
        }
        i += 1;
    }
    if store.is_some() && (with_dist || with_hash || with_coord) {
        return Err(CmdError::msg(format!(
            "ERR {} is not compatible with WITHDIST, WITHHASH and WITHCOORD options",
            if v == Variant::SearchStore {
                "GEOSEARCHSTORE"
            } else {
                "STORE option in GEORADIUS"
            }
        )));
    }
    let name = String::from_utf8_lossy(req.arg(0));
    if search && !(from_member || from_loc) {
        return Err(CmdError::msg(format!(
            "ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for {name}"
        )));
    }
    if search && !(by_radius || by_box) {
        return Err(CmdError::msg(format!(
            "ERR exactly one of BYRADIUS and BYBOX can be specified for {name}"
        )));
    }
    if any && count.is_none() {
        return Err(CmdError::msg(
            "ERR the ANY argument requires COUNT argument",
        ));
    }
    Ok(Search {
        query: GeoQuery {
            center,
            shape,
            unit: to_m,
            sort,
            count,
            any,
        },
        store,
        with_dist,
        with_hash,
        with_coord,
    })
}

fn write_points(out: &mut Reply, s: &Search<'_>, points: &[GeoPoint]) {
    let extra = usize::from(s.with_dist) + usize::from(s.with_hash) + usize::from(s.with_coord);
    out.array(points.len());
    for p in points {
        if extra == 0 {
            out.bulk(&p.member);
            continue;
        }
        out.array(extra + 1);
        out.bulk(&p.member);
        if s.with_dist {
            out.bulk(format!("{:.4}", p.dist).as_bytes());
        }
        if s.with_hash {
            out.int(p.score as i64);
        }
        if s.with_coord {
            write_coords(out, p.lon, p.lat);
        }
    }
}

fn search_generic(ctx: &mut Ctx, req: &Request, v: Variant) -> R {
    let src = if v == Variant::SearchStore {
        req.arg(2)
    } else {
        req.arg(1)
    };
    let exists = ctx.txn.geo_exists(src)?;
    let s = parse_search(ctx, req, v, src, exists)?;
    if let Some((dst, dist)) = s.store {
        let n = ctx.txn.geosearch_store(dst, src, &s.query, dist)?;
        ctx.out.int(n as i64);
        return Ok(Flow::Done);
    }
    match ctx.txn.geosearch(src, &s.query)? {
        GeoSearchOutcome::NoKey => ctx.out.array(0),
        GeoSearchOutcome::Found(points) => write_points(ctx.out, &s, &points),
    }
    Ok(Flow::Done)
}

fn georadius(ctx: &mut Ctx, req: &Request) -> R {
    search_generic(ctx, req, Variant::Radius { ro: false })
}
fn georadius_ro(ctx: &mut Ctx, req: &Request) -> R {
    search_generic(ctx, req, Variant::Radius { ro: true })
}
fn georadiusbymember(ctx: &mut Ctx, req: &Request) -> R {
    search_generic(ctx, req, Variant::RadiusByMember { ro: false })
}
fn georadiusbymember_ro(ctx: &mut Ctx, req: &Request) -> R {
    search_generic(ctx, req, Variant::RadiusByMember { ro: true })
}
fn geosearch(ctx: &mut Ctx, req: &Request) -> R {
    search_generic(ctx, req, Variant::Search)
}
fn geosearchstore(ctx: &mut Ctx, req: &Request) -> R {
    search_generic(ctx, req, Variant::SearchStore)
}

/// Keys of GEORADIUS[BYMEMBER]: the source and any STORE/STOREDIST target.
fn radius_keys(req: &Request, base: usize) -> SmallVec<[usize; 4]> {
    let mut keys = SmallVec::new();
    keys.push(1);
    let mut i = base;
    while i + 1 < req.len() {
        if is(req.arg(i), "store") || is(req.arg(i), "storedist") {
            keys.push(i + 1);
            i += 1;
        }
        i += 1;
    }
    keys
}

fn georadius_keys(req: &Request) -> Result<SmallVec<[usize; 4]>, CmdError> {
    Ok(radius_keys(req, 6))
}

fn georadiusbymember_keys(req: &Request) -> Result<SmallVec<[usize; 4]>, CmdError> {
    Ok(radius_keys(req, 5))
}

/// The geo commands.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec::new("geoadd", -5, WRITE | DENYOOM, KeySpec::FIRST, geoadd).doc(
        "geo",
        "Adds one or more members to a geospatial index. The key is created if it doesn't exist.",
    ),
    CommandSpec::new("geopos", -2, READONLY, KeySpec::FIRST, geopos).doc(
        "geo",
        "Returns the longitude and latitude of members from a geospatial index.",
    ),
    CommandSpec::new("geohash", -2, READONLY, KeySpec::FIRST, geohash).doc(
        "geo",
        "Returns members from a geospatial index as geohash strings.",
    ),
    CommandSpec::new("geodist", -4, READONLY, KeySpec::FIRST, geodist).doc(
        "geo",
        "Returns the distance between two members of a geospatial index.",
    ),
    CommandSpec::new("geosearch", -7, READONLY, KeySpec::FIRST, geosearch).doc(
        "geo",
        "Queries a geospatial index for members inside an area of a box or a circle.",
    ),
    CommandSpec::new(
        "geosearchstore",
        -8,
        WRITE | DENYOOM,
        KeySpec::FIRST_TWO,
        geosearchstore,
    )
    .doc(
        "geo",
        "Queries a geospatial index for members inside an area of a box or a circle, optionally stores the result.",
    ),
    CommandSpec::new(
        "georadius",
        -6,
        WRITE | DENYOOM,
        KeySpec::Custom(georadius_keys),
        georadius,
    )
    .doc(
        "geo",
        "Queries a geospatial index for members within a distance from a coordinate, optionally stores the result.",
    ),
    CommandSpec::new("georadius_ro", -6, READONLY, KeySpec::FIRST, georadius_ro).doc(
        "geo",
        "Returns members from a geospatial index that are within a distance from a coordinate.",
    ),
    CommandSpec::new(
        "georadiusbymember",
        -5,
        WRITE | DENYOOM,
        KeySpec::Custom(georadiusbymember_keys),
        georadiusbymember,
    )
    .doc(
        "geo",
        "Queries a geospatial index for members within a distance from a member, optionally stores the result.",
    ),
    CommandSpec::new(
        "georadiusbymember_ro",
        -5,
        READONLY,
        KeySpec::FIRST,
        georadiusbymember_ro,
    )
    .doc(
        "geo",
        "Returns members from a geospatial index that are within a distance from a member.",
    ),
];

#[cfg(test)]
mod tests {
    use super::human;

    #[test]
    fn human_doubles_match_redis() {
        assert_eq!(human(13.361389338970184), "13.36138933897018433");
        assert_eq!(human(15.0), "15");
        assert_eq!(human(-0.5), "-0.5");
    }
}
