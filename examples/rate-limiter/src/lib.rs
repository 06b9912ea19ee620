//! `rate-limiter`: an edge function that allows each client `limit` requests
//! per fixed window (default 5 per 10 s) and answers 429 beyond that. The
//! client is the `x-client-id` header (else `anonymous`); the window's
//! counter is a cache counter that expires with the window, so the limit
//! holds across every instance serving the route.

use std::time::Duration;

use meridian_guest::http::{Handler, Request, Response};
use meridian_guest::{cache, counter};

const DEFAULT_LIMIT: i64 = 5;
const DEFAULT_WINDOW_SECS: u64 = 10;

struct RateLimiter;

fn now_secs() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Handler for RateLimiter {
    fn handle(req: Request) -> Response {
        let client = req.header("x-client-id").unwrap_or("anonymous").to_string();
        let limit = req
            .query_param("limit")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_LIMIT)
            .max(1);
        let window = req
            .query_param("window")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_WINDOW_SECS)
            .max(1);
        let now = now_secs();
        let slot = now / window;
        let key = format!("rl:{client}:{slot}");
        let used = match counter::incr(&key, 1) {
            Ok(n) => n,
            Err(e) => return Response::text(503, format!("limiter unavailable: {e}\n")),
        };
        if used == 1 {
            // The first request of a window starts its clock; the counter
            // goes away with the window.
            let _ = cache::expire(&key, Duration::from_secs(window));
        }
        let reset = (slot + 1) * window - now;
        if used > limit {
            return Response::text(429, "too many requests\n")
                .header("retry-after", reset.to_string())
                .header("x-ratelimit-remaining", "0");
        }
        Response::text(
            200,
            format!("ok: request {used} of {limit} in this window\n"),
        )
        .header("x-ratelimit-remaining", (limit - used).to_string())
    }
}

meridian_guest::edge_handler!(RateLimiter);
