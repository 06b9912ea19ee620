//! Redis's geohash arithmetic, bit for bit: 52-bit interleaved scores over
//! longitude ±180 and latitude ±85.05112878 (the Web Mercator limits), the
//! standard base-32 geohash string, neighbour boxes, the search-area
//! estimate for a radius or box, and haversine distance on a sphere of
//! radius 6372797.560856 m.
//!
//! Every formula follows Redis's `geohash.c` / `geohash_helper.c` operation
//! by operation (same constants, same float steps, the same libm calls), so
//! positions, distances and the set of boxes a search visits equal Redis's.
//! This module is pure math: it must not touch the keyspace.

use std::f64::consts::PI;

/// Smallest longitude Redis accepts.
pub const LONG_MIN: f64 = -180.0;
/// Largest longitude Redis accepts.
pub const LONG_MAX: f64 = 180.0;
/// Smallest latitude Redis accepts (Web Mercator limit).
pub const LAT_MIN: f64 = -85.05112878;
/// Largest latitude Redis accepts (Web Mercator limit).
pub const LAT_MAX: f64 = 85.05112878;
/// Bits per coordinate in a stored score (26 + 26 = 52 bits).
pub const STEP_MAX: u8 = 26;

const EARTH_RADIUS_M: f64 = 6372797.560856;
const MERCATOR_MAX: f64 = 20037726.37;
const D_R: f64 = PI / 180.0;
const ALPHABET: &[u8; 32] = b"0123456789bcdefghjkmnpqrstuvwxyz";

fn deg_rad(ang: f64) -> f64 {
    ang * D_R
}
fn rad_deg(ang: f64) -> f64 {
    ang / D_R
}

/// A geohash of `step` bits per coordinate: latitude bits at even
/// positions, longitude bits at odd ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HashBits {
    /// The interleaved bits.
    pub bits: u64,
    /// Bits per coordinate.
    pub step: u8,
}

impl HashBits {
    /// The hash left-aligned to 52 bits: the sorted-set score of a point, or
    /// the lowest score inside this box.
    pub fn align52(self) -> u64 {
        self.bits << (52 - u32::from(self.step) * 2)
    }
}

/// A closed interval of degrees.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    /// Lower end.
    pub min: f64,
    /// Upper end.
    pub max: f64,
}

/// The box a geohash stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Area {
    /// Longitude extent.
    pub lon: Range,
    /// Latitude extent.
    pub lat: Range,
}

const WGS84_LON: Range = Range {
    min: LONG_MIN,
    max: LONG_MAX,
};
const WGS84_LAT: Range = Range {
    min: LAT_MIN,
    max: LAT_MAX,
};

fn interleave64(xlo: u32, ylo: u32) -> u64 {
    const B: [u64; 5] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
    ];
    const S: [u32; 5] = [1, 2, 4, 8, 16];
    let (mut x, mut y) = (u64::from(xlo), u64::from(ylo));
    for i in (0..5).rev() {
        x = (x | (x << S[i])) & B[i];
        y = (y | (y << S[i])) & B[i];
    }
    x | (y << 1)
}

fn deinterleave64(interleaved: u64) -> u64 {
    const B: [u64; 6] = [
        0x5555555555555555,
        0x3333333333333333,
        0x0F0F0F0F0F0F0F0F,
        0x00FF00FF00FF00FF,
        0x0000FFFF0000FFFF,
        0x00000000FFFFFFFF,
    ];
    const S: [u32; 6] = [0, 1, 2, 4, 8, 16];
    let (mut x, mut y) = (interleaved, interleaved >> 1);
    for i in 0..6 {
        x = (x | (x >> S[i])) & B[i];
        y = (y | (y >> S[i])) & B[i];
    }
    x | (y << 32)
}

/// True if Redis can index the point.
pub fn valid_lon_lat(lon: f64, lat: f64) -> bool {
    (LONG_MIN..=LONG_MAX).contains(&lon) && (LAT_MIN..=LAT_MAX).contains(&lat)
}

fn encode_in(lon_r: Range, lat_r: Range, lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    if !valid_lon_lat(lon, lat) || lat < lat_r.min || lat > lat_r.max {
        return None;
    }
    let scale = (1u64 << step) as f64;
    let lat_offset = (lat - lat_r.min) / (lat_r.max - lat_r.min) * scale;
    let lon_offset = (lon - lon_r.min) / (lon_r.max - lon_r.min) * scale;
    // C converts the doubles to uint32_t by truncation.
    Some(HashBits {
        bits: interleave64(lat_offset as u32, lon_offset as u32),
        step,
    })
}

/// Encodes a point at `step` bits per coordinate; `None` outside the
/// indexable range.
pub fn encode(lon: f64, lat: f64, step: u8) -> Option<HashBits> {
    encode_in(WGS84_LON, WGS84_LAT, lon, lat, step)
}

/// The sorted-set score Redis stores for a point.
pub fn score_of(lon: f64, lat: f64) -> Option<u64> {
    encode(lon, lat, STEP_MAX).map(HashBits::align52)
}

fn decode(hash: HashBits) -> Area {
    let sep = deinterleave64(hash.bits);
    let ilat = sep as u32;
    let ilon = (sep >> 32) as u32;
    let div = (1u64 << hash.step) as f64;
    let lat_scale = WGS84_LAT.max - WGS84_LAT.min;
    let lon_scale = WGS84_LON.max - WGS84_LON.min;
    Area {
        lat: Range {
            min: WGS84_LAT.min + (f64::from(ilat) / div) * lat_scale,
            max: WGS84_LAT.min + ((f64::from(ilat) + 1.0) / div) * lat_scale,
        },
        lon: Range {
            min: WGS84_LON.min + (f64::from(ilon) / div) * lon_scale,
            max: WGS84_LON.min + ((f64::from(ilon) + 1.0) / div) * lon_scale,
        },
    }
}

/// The point a stored score stands for (the centre of its 52-bit box),
/// as `(longitude, latitude)`.
pub fn decode_score(score: f64) -> (f64, f64) {
    // As C's (uint64_t) cast of the double score.
    let area = decode(HashBits {
        bits: score as u64,
        step: STEP_MAX,
    });
    let lon = ((area.lon.min + area.lon.max) / 2.0).clamp(LONG_MIN, LONG_MAX);
    let lat = ((area.lat.min + area.lat.max) / 2.0).clamp(LAT_MIN, LAT_MAX);
    (lon, lat)
}

/// The standard 11-character geohash string of a stored score (re-encoded
/// over latitude ±90, as GEOHASH answers; the 11th character is always `0`).
pub fn hash_string(score: f64) -> Option<[u8; 11]> {
    let (lon, lat) = decode_score(score);
    let full = Range {
        min: -90.0,
        max: 90.0,
    };
    let hash = encode_in(WGS84_LON, full, lon, lat, STEP_MAX)?;
    let mut out = [b'0'; 11];
    for (i, c) in out.iter_mut().enumerate().take(10) {
        let idx = (hash.bits >> (52 - (i + 1) * 5)) & 0x1f;
        *c = ALPHABET[idx as usize];
    }
    Some(out)
}

/// Great-circle distance in metres (haversine), arguments longitude first.
pub fn distance(lon1: f64, lat1: f64, lon2: f64, lat2: f64) -> f64 {
    let (lat1r, lon1r, lat2r, lon2r) = (deg_rad(lat1), deg_rad(lon1), deg_rad(lat2), deg_rad(lon2));
    let u = ((lat2r - lat1r) / 2.0).sin();
    let v = ((lon2r - lon1r) / 2.0).sin();
    2.0 * EARTH_RADIUS_M * (u * u + lat1r.cos() * lat2r.cos() * v * v).sqrt().asin()
}

/// The area a search covers, in metres (after unit conversion).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Shape {
    /// A circle of this radius.
    Radius(f64),
    /// An axis-aligned box of this width and height.
    Box {
        /// East-west extent.
        width: f64,
        /// North-south extent.
        height: f64,
    },
}

impl Shape {
    /// The distance from `(clon, clat)` to `(lon, lat)` if the point lies in
    /// the shape centred there, as Redis decides it.
    pub fn admits(&self, clon: f64, clat: f64, lon: f64, lat: f64) -> Option<f64> {
        match *self {
            Shape::Radius(r) => {
                let d = distance(clon, clat, lon, lat);
                (d <= r).then_some(d)
            }
            Shape::Box { width, height } => {
                let lon_d = distance(lon, lat, clon, lat);
                let lat_d = distance(lon, lat, lon, clat);
                if lon_d > width / 2.0 || lat_d > height / 2.0 {
                    return None;
                }
                Some(distance(clon, clat, lon, lat))
            }
        }
    }

    fn half_extents(&self) -> (f64, f64) {
        match *self {
            Shape::Radius(r) => (r, r),
            Shape::Box { width, height } => (width / 2.0, height / 2.0),
        }
    }

    fn reach(&self) -> f64 {
        match *self {
            Shape::Radius(r) => r,
            Shape::Box { width, height } => {
                ((width / 2.0) * (width / 2.0) + (height / 2.0) * (height / 2.0)).sqrt()
            }
        }
    }
}

fn estimate_steps(range_m: f64, lat: f64) -> u8 {
    if range_m == 0.0 {
        return 26;
    }
    let mut range_m = range_m;
    let mut step: i32 = 1;
    while range_m < MERCATOR_MAX {
        range_m *= 2.0;
        step += 1;
    }
    step -= 2;
    if !(-66.0..=66.0).contains(&lat) {
        step -= 1;
        if !(-80.0..=80.0).contains(&lat) {
            step -= 1;
        }
    }
    step.clamp(1, 26) as u8
}

/// `[min_lon, min_lat, max_lon, max_lat]` of the search area.
fn bounding_box(lon: f64, lat: f64, shape: &Shape) -> [f64; 4] {
    let (width, height) = shape.half_extents();
    let lat_delta = rad_deg(height / EARTH_RADIUS_M);
    let lon_delta_top = rad_deg(width / EARTH_RADIUS_M / deg_rad(lat + lat_delta).cos());
    let lon_delta_bottom = rad_deg(width / EARTH_RADIUS_M / deg_rad(lat - lat_delta).cos());
    let delta = if lat < 0.0 {
        lon_delta_bottom
    } else {
        lon_delta_top
    };
    [lon - delta, lat - lat_delta, lon + delta, lat + lat_delta]
}

fn move_x(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let mut x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let y = hash.bits & 0x5555555555555555;
    let zz = 0x5555555555555555u64 >> (64 - u32::from(hash.step) * 2);
    if d > 0 {
        x = x.wrapping_add(zz + 1);
    } else {
        x |= zz;
        x = x.wrapping_sub(zz + 1);
    }
    x &= 0xaaaaaaaaaaaaaaaau64 >> (64 - u32::from(hash.step) * 2);
    hash.bits = x | y;
}

fn move_y(hash: &mut HashBits, d: i8) {
    if d == 0 {
        return;
    }
    let x = hash.bits & 0xaaaaaaaaaaaaaaaa;
    let mut y = hash.bits & 0x5555555555555555;
    let zz = 0xaaaaaaaaaaaaaaaau64 >> (64 - u32::from(hash.step) * 2);
    if d > 0 {
        y = y.wrapping_add(zz + 1);
    } else {
        y |= zz;
        y = y.wrapping_sub(zz + 1);
    }
    y &= 0x5555555555555555u64 >> (64 - u32::from(hash.step) * 2);
    hash.bits = x | y;
}

fn moved(hash: HashBits, dx: i8, dy: i8) -> HashBits {
    let mut h = hash;
    move_x(&mut h, dx);
    move_y(&mut h, dy);
    h
}

/// The boxes a search visits, in Redis's order: the centre box, then
/// north, south, east, west, north-east, north-west, south-east,
/// south-west; `None` for a neighbour Redis proves useless.
pub fn search_boxes(lon: f64, lat: f64, shape: &Shape) -> [Option<HashBits>; 9] {
    let [min_lon, min_lat, max_lon, max_lat] = bounding_box(lon, lat, shape);
    let mut steps = estimate_steps(shape.reach(), lat);
    // The centre is a valid point, so encoding succeeds; a zero hash
    // mirrors what Redis would use if it did not.
    let at = |steps: u8| {
        encode(lon, lat, steps).unwrap_or(HashBits {
            bits: 0,
            step: steps,
        })
    };
    let mut hash = at(steps);
    let (n, s, e, w) = (
        decode(moved(hash, 0, 1)),
        decode(moved(hash, 0, -1)),
        decode(moved(hash, 1, 0)),
        decode(moved(hash, -1, 0)),
    );
    let decrease =
        n.lat.max < max_lat || s.lat.min > min_lat || e.lon.max < max_lon || w.lon.min > min_lon;
    if steps > 1 && decrease {
        steps -= 1;
        hash = at(steps);
    }
    let area = decode(hash);
    let mut boxes = [
        Some(hash),
        Some(moved(hash, 0, 1)),
        Some(moved(hash, 0, -1)),
        Some(moved(hash, 1, 0)),
        Some(moved(hash, -1, 0)),
        Some(moved(hash, 1, 1)),
        Some(moved(hash, -1, 1)),
        Some(moved(hash, 1, -1)),
        Some(moved(hash, -1, -1)),
    ];
    const N: usize = 1;
    const S: usize = 2;
    const E: usize = 3;
    const W: usize = 4;
    const NE: usize = 5;
    const NW: usize = 6;
    const SE: usize = 7;
    const SW: usize = 8;
    if steps >= 2 {
        let mut clear = |ids: [usize; 3]| ids.iter().for_each(|&i| boxes[i] = None);
        if area.lat.min < min_lat {
            clear([S, SW, SE]);
        }
        if area.lat.max > max_lat {
            clear([N, NE, NW]);
        }
        if area.lon.min < min_lon {
            clear([W, SW, NW]);
        }
        if area.lon.max > max_lon {
            clear([E, SE, NE]);
        }
    }
    boxes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interleave_round_trips() {
        for (x, y) in [
            (0u32, 0u32),
            (1, 0),
            (0, 1),
            (0x3ffffff, 0x1234567),
            (u32::MAX, 7),
        ] {
            let d = deinterleave64(interleave64(x, y));
            assert_eq!((d as u32, (d >> 32) as u32), (x, y));
        }
    }

    #[test]
    fn palermo_scores_and_decodes_as_redis() {
        // GEOADD Sicily 13.361389 38.115556 "Palermo" stores this score.
        assert_eq!(score_of(13.361389, 38.115556), Some(3479099956230698));
        let (lon, lat) = decode_score(3479099956230698.0);
        assert_eq!(format!("{lon:.17}"), "13.36138933897018433");
        assert_eq!(format!("{lat:.17}"), "38.11555639549629859");
        assert_eq!(&hash_string(3479099956230698.0).unwrap(), b"sqc8b49rny0");
    }

    #[test]
    fn neighbours_step_one_box() {
        let h = encode(0.0, 0.0, 4).unwrap();
        let e = moved(h, 1, 0);
        let w = moved(e, -1, 0);
        assert_eq!(w, h);
        let area = decode(h);
        let east = decode(e);
        assert_eq!(area.lon.max, east.lon.min);
    }

    #[test]
    fn out_of_range_points_do_not_encode() {
        assert_eq!(encode(181.0, 0.0, 26), None);
        assert_eq!(encode(0.0, 86.0, 26), None);
    }
}
