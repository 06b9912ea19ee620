//! Geo operations on sorted sets (GEOADD, GEOPOS, GEODIST, GEOHASH, and the
//! GEOSEARCH/GEORADIUS search), stored as Redis stores them: a member's
//! score is the 52-bit geohash of its position, so a geo index is an
//! ordinary sorted set to every other command (and to replication).
//!
//! A search visits the centre box and its eight neighbours exactly as Redis
//! does (see [`geohash::search_boxes`]), keeps the points inside the shape,
//! and orders or truncates them per the query, so replies, including the
//! unsorted order and COUNT ANY's choice, equal Redis's.
//!
//! This module must not parse arguments or know RESP: units arrive as a
//! conversion factor and distances leave in that unit.

use super::geohash::{self, Shape};
use super::zsets::{ZAddCounts, ZAddOptions};
use super::{EngineError, EngineResult, Txn};
use crate::keyspace::{Blob, Kind, ScoreBound, SortedSet, Value, blob};

/// Where a search is centred.
#[derive(Debug, Clone, Copy)]
pub enum GeoCenter<'a> {
    /// At a member's position (FROMMEMBER, GEORADIUSBYMEMBER).
    Member(&'a [u8]),
    /// At a longitude/latitude (FROMLONLAT, GEORADIUS).
    LonLat(f64, f64),
}

/// Result order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GeoSort {
    /// Box order (unsorted), as Redis finds them.
    None,
    /// Nearest first.
    Asc,
    /// Farthest first.
    Desc,
}

/// A GEOSEARCH / GEORADIUS query.
#[derive(Debug, Clone, Copy)]
pub struct GeoQuery<'a> {
    /// The centre.
    pub center: GeoCenter<'a>,
    /// Radius or box, in the query's unit.
    pub shape: Shape,
    /// Metres per unit (1, 1000, 0.3048, 1609.34).
    pub unit: f64,
    /// Order.
    pub sort: GeoSort,
    /// At most this many results.
    pub count: Option<usize>,
    /// With COUNT: stop at the first `count` found (ANY) instead of the
    /// nearest `count`.
    pub any: bool,
}

/// One search result.
#[derive(Debug, Clone)]
pub struct GeoPoint {
    /// The member.
    pub member: Blob,
    /// Its longitude.
    pub lon: f64,
    /// Its latitude.
    pub lat: f64,
    /// Its distance from the centre, in the query's unit.
    pub dist: f64,
    /// Its stored score (the 52-bit geohash).
    pub score: f64,
}

/// What a search found: a missing key (which Redis answers differently from
/// an empty result when storing) or the points.
#[derive(Debug, Clone)]
pub enum GeoSearchOutcome {
    /// The key does not exist.
    NoKey,
    /// The points found, in reply order.
    Found(Vec<GeoPoint>),
}

fn member_missing() -> EngineError {
    EngineError::Invalid("could not decode requested zset member".into())
}

/// The points of `z` in box `hash` that lie in the shape, appended to `out`
/// until it holds `limit` (0 = no limit).
fn points_in_box(
    z: &SortedSet,
    hash: geohash::HashBits,
    center: (f64, f64),
    shape: &Shape,
    out: &mut Vec<GeoPoint>,
    limit: usize,
) {
    let min = hash.align52() as f64;
    let max = geohash::HashBits {
        bits: hash.bits + 1,
        step: hash.step,
    }
    .align52() as f64;
    for (member, score) in z.range_by_score(ScoreBound::Inclusive(min), ScoreBound::Exclusive(max))
    {
        let (lon, lat) = geohash::decode_score(score);
        if let Some(dist) = shape.admits(center.0, center.1, lon, lat) {
            out.push(GeoPoint {
                member: blob(member),
                lon,
                lat,
                dist,
                score,
            });
        }
        if limit != 0 && out.len() >= limit {
            break;
        }
    }
}

/// Runs `q` over `z` (Redis's `georadiusGeneric` after argument parsing).
fn search(z: &SortedSet, q: &GeoQuery<'_>) -> EngineResult<Vec<GeoPoint>> {
    let center = match q.center {
        GeoCenter::LonLat(lon, lat) => (lon, lat),
        GeoCenter::Member(m) => geohash::decode_score(z.score(m).ok_or_else(member_missing)?),
    };
    let shape = match q.shape {
        Shape::Radius(r) => Shape::Radius(r * q.unit),
        Shape::Box { width, height } => Shape::Box {
            width: width * q.unit,
            height: height * q.unit,
        },
    };
    let limit = if q.any { q.count.unwrap_or(0) } else { 0 };
    let mut found = Vec::new();
    let mut last: Option<geohash::HashBits> = None;
    for hash in geohash::search_boxes(center.0, center.1, &shape)
        .into_iter()
        .flatten()
    {
        // With a huge radius adjacent neighbours can be the same box.
        if last == Some(hash) {
            continue;
        }
        if limit != 0 && found.len() >= limit {
            break;
        }
        points_in_box(z, hash, center, &shape, &mut found, limit);
        last = Some(hash);
    }
    let mut sort = q.sort;
    if q.count.is_some() && sort == GeoSort::None && !q.any {
        sort = GeoSort::Asc;
    }
    match sort {
        GeoSort::None => {}
        GeoSort::Asc => found.sort_by(|a, b| a.dist.total_cmp(&b.dist)),
        GeoSort::Desc => found.sort_by(|a, b| b.dist.total_cmp(&a.dist)),
    }
    if let Some(n) = q.count {
        found.truncate(n);
    }
    for p in &mut found {
        p.dist /= q.unit;
    }
    Ok(found)
}

impl Txn<'_> {
    /// The sorted set at `key` for a geo read.
    fn geo_set(&mut self, key: &[u8]) -> EngineResult<Option<&SortedSet>> {
        match self.read_kind(key, Kind::ZSet)? {
            Some(Value::ZSet(z)) => Ok(Some(z)),
            _ => Ok(None),
        }
    }

    /// True if `key` holds a sorted set, false if missing, WRONGTYPE else
    /// (the first check of every geo search, before its arguments).
    pub fn geo_exists(&mut self, key: &[u8]) -> EngineResult<bool> {
        match self.peek(key)? {
            Some(e) if e.value.kind() != Kind::ZSet => Err(EngineError::WrongType),
            found => Ok(found.is_some()),
        }
    }

    /// GEOADD: `points` are (longitude, latitude, member), already checked
    /// with [`geohash::valid_lon_lat`].
    pub fn geoadd(
        &mut self,
        key: &[u8],
        opts: &ZAddOptions,
        points: &[(f64, f64, &[u8])],
    ) -> EngineResult<ZAddCounts> {
        let mut pairs = Vec::with_capacity(points.len());
        for &(lon, lat, member) in points {
            let score = geohash::score_of(lon, lat).ok_or_else(|| {
                EngineError::Invalid(format!("invalid longitude,latitude pair {lon:.6},{lat:.6}"))
            })?;
            pairs.push((score as f64, member));
        }
        self.zadd(key, opts, &pairs)
    }

    /// GEOPOS: each member's (longitude, latitude), `None` if absent.
    pub fn geopos(
        &mut self,
        key: &[u8],
        members: &[&[u8]],
    ) -> EngineResult<Vec<Option<(f64, f64)>>> {
        let z = self.geo_set(key)?;
        Ok(members
            .iter()
            .map(|m| z.and_then(|z| z.score(m)).map(geohash::decode_score))
            .collect())
    }

    /// GEODIST in the unit of `unit` metres; `None` if a member is absent.
    pub fn geodist(
        &mut self,
        key: &[u8],
        a: &[u8],
        b: &[u8],
        unit: f64,
    ) -> EngineResult<Option<f64>> {
        let Some(z) = self.geo_set(key)? else {
            return Ok(None);
        };
        let (Some(sa), Some(sb)) = (z.score(a), z.score(b)) else {
            return Ok(None);
        };
        let (lon1, lat1) = geohash::decode_score(sa);
        let (lon2, lat2) = geohash::decode_score(sb);
        Ok(Some(geohash::distance(lon1, lat1, lon2, lat2) / unit))
    }

    /// GEOHASH: each member's 11-character geohash, `None` if absent.
    pub fn geohash(
        &mut self,
        key: &[u8],
        members: &[&[u8]],
    ) -> EngineResult<Vec<Option<[u8; 11]>>> {
        let z = self.geo_set(key)?;
        Ok(members
            .iter()
            .map(|m| z.and_then(|z| z.score(m)).and_then(geohash::hash_string))
            .collect())
    }

    /// GEOSEARCH / GEORADIUS: the points `q` selects, in reply order.
    pub fn geosearch(&mut self, key: &[u8], q: &GeoQuery<'_>) -> EngineResult<GeoSearchOutcome> {
        match self.geo_set(key)? {
            None => Ok(GeoSearchOutcome::NoKey),
            Some(z) => Ok(GeoSearchOutcome::Found(search(z, q)?)),
        }
    }

    /// GEOSEARCHSTORE / GEORADIUS STORE: stores the selected points at `dst`
    /// scored by geohash, or by distance with `store_dist`; deletes `dst`
    /// when nothing is found. Returns the stored count.
    pub fn geosearch_store(
        &mut self,
        dst: &[u8],
        src: &[u8],
        q: &GeoQuery<'_>,
        store_dist: bool,
    ) -> EngineResult<usize> {
        let points = match self.geosearch(src, q)? {
            GeoSearchOutcome::NoKey => Vec::new(),
            GeoSearchOutcome::Found(p) => p,
        };
        let mut z = SortedSet::default();
        for p in &points {
            z.insert(&p.member, if store_dist { p.dist } else { p.score });
        }
        self.zstore(dst, z)
    }
}
