//! `edge-cache`: an edge function that caches the output of an expensive
//! computation per URL. `GET /cache/primes?n=200000&ttl=30` counts the primes
//! below `n` (capped at 5,000,000) once, stores the answer under the URL for
//! `ttl` seconds (default 30), and answers later requests from the cache.
//! The `x-cache` header says `hit` or `miss`.

use std::time::Duration;

use meridian_guest::cache;
use meridian_guest::http::{Handler, Request, Response};

const DEFAULT_N: u64 = 100_000;
const MAX_N: u64 = 5_000_000;
const DEFAULT_TTL_SECS: u64 = 30;

/// Primes below `n` by a sieve: the "expensive computation".
fn count_primes(n: u64) -> u64 {
    let n = n as usize;
    if n < 3 {
        return 0;
    }
    let mut composite = vec![false; n];
    let mut count = 0;
    for i in 2..n {
        if !composite[i] {
            count += 1;
            let mut j = i * i;
            while j < n {
                composite[j] = true;
                j += i;
            }
        }
    }
    count
}

struct EdgeCache;

impl Handler for EdgeCache {
    fn handle(req: Request) -> Response {
        if req.method != "GET" {
            return Response::text(405, "only GET\n");
        }
        let n = req
            .query_param("n")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_N)
            .min(MAX_N);
        let ttl = req
            .query_param("ttl")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_TTL_SECS)
            .max(1);
        let key = format!("page:{}", req.path_with_query);
        let filled = cache::get_or_insert_with(&key, Some(Duration::from_secs(ttl)), || {
            format!("{{\"n\":{n},\"primes\":{}}}\n", count_primes(n)).into_bytes()
        });
        match filled {
            Ok((body, hit)) => Response::new(200)
                .header("content-type", "application/json")
                .header("x-cache", if hit { "hit" } else { "miss" })
                .body(body),
            Err(e) => Response::text(503, format!("cache unavailable: {e}\n")),
        }
    }
}

meridian_guest::edge_handler!(EdgeCache);

#[cfg(test)]
mod tests {
    #[test]
    fn counts_primes() {
        assert_eq!(super::count_primes(10), 4);
        assert_eq!(super::count_primes(100), 25);
        assert_eq!(super::count_primes(2), 0);
    }
}
