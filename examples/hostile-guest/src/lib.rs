//! `hostile-guest`: a module that misbehaves on purpose, to prove the host
//! contains it. It is both a plugin (library `hostile`) and an edge function,
//! with one entry point per attack:
//!
//! - `spin`: loops forever (the deadline must stop it);
//! - `bomb`: allocates until memory runs out (the memory limit must stop it);
//! - `boom`: panics, which traps;
//! - `nap`: sleeps for an hour inside the host (the wall-clock limit must end it);
//! - `escape`: writes a key of another namespace with an absolute key (must be
//!   refused) and a plain key that looks like one (must stay in its own
//!   namespace); answers what happened;
//! - `remember`: reports what earlier calls left in its static memory (one
//!   zero-initialised, one initialised from the data segment), then changes
//!   both: every call must find them as the module's image has them, since
//!   no state may pass from one call to the next;
//! - `huge` (HTTP only): streams an endless body (the deadline must cut it);
//! - `ok`: answers normally, to show the module still works afterwards.

use std::hint::black_box;
use std::sync::atomic::{AtomicU32, Ordering};

use meridian_guest::cache;
use meridian_guest::http::{Handler, Request, Response};
use meridian_guest::plugin::{Function, Plugin, Reply};

fn spin() -> ! {
    let mut i: u64 = 0;
    loop {
        i = black_box(i.wrapping_add(1));
    }
}

fn bomb() -> usize {
    // Reserving without touching grows linear memory as fast as the host
    // allows: the memory limit, not the deadline, must stop it.
    let mut hoard: Vec<Vec<u8>> = Vec::new();
    loop {
        hoard.push(black_box(Vec::with_capacity(1 << 20)));
        black_box(&hoard);
    }
}

/// Waits inside the host (a WASI sleep) rather than computing: the epoch
/// deadline never fires, so the host's wall-clock limit must end it.
fn nap() {
    std::thread::sleep(std::time::Duration::from_secs(3600));
}

fn escape() -> String {
    let absolute = match cache::set("/victim:secret", b"pwned") {
        Ok(()) => "absolute write allowed".to_string(),
        Err(e) => format!("absolute write refused: {e}"),
    };
    let relative = match cache::set("victim:secret", b"pwned") {
        Ok(()) => "plain write stayed in own namespace".to_string(),
        Err(e) => format!("plain write refused: {e}"),
    };
    format!("{absolute}; {relative}")
}

/// Zero in the image (`.bss`).
static CALLS: AtomicU32 = AtomicU32::new(0);
/// Seven in the image (a data segment).
static MARK: AtomicU32 = AtomicU32::new(7);

fn remember() -> String {
    let calls = CALLS.fetch_add(1, Ordering::Relaxed);
    let mark = MARK.swap(99, Ordering::Relaxed);
    format!("calls before this one: {calls}; mark: {mark}")
}

struct Hostile;

impl Plugin for Hostile {
    const NAME: &'static str = "hostile";
    const FUNCTIONS: &'static [Function] = &[
        Function::write("spin"),
        Function::write("bomb"),
        Function::write("boom"),
        Function::write("nap"),
        Function::write("escape"),
        Function::read_only("remember"),
        Function::read_only("ok"),
        Function::read_only("sneaky_write"),
    ];

    fn call(function: &str, _keys: Vec<String>, _args: Vec<Vec<u8>>) -> Result<Reply, String> {
        match function {
            "spin" => spin(),
            "bomb" => Ok(Reply::Integer(bomb() as i64)),
            "boom" => panic!("boom"),
            "nap" => {
                nap();
                Ok(Reply::Ok)
            }
            "escape" => Ok(Reply::Text(escape())),
            "remember" => Ok(Reply::Text(remember())),
            "ok" => Ok(Reply::Status("alive".into())),
            // Declared read-only, yet writes: FCALL_RO must refuse the write.
            "sneaky_write" => match cache::set("x", b"1") {
                Ok(()) => Ok(Reply::Text("write allowed".into())),
                Err(e) => Err(format!("write refused: {e}")),
            },
            other => Err(format!("unknown function {other}")),
        }
    }
}

meridian_guest::plugin!(Hostile);

struct HostileEdge;

impl Handler for HostileEdge {
    fn handle(req: Request) -> Response {
        match req.path_in_route() {
            "/spin" => spin(),
            "/bomb" => Response::text(200, format!("{}", bomb())),
            "/boom" => panic!("boom"),
            "/nap" => {
                nap();
                Response::text(200, "rested\n")
            }
            "/escape" => Response::text(200, escape()),
            "/remember" => Response::text(200, remember()),
            // An endless body, streamed without allocating it: only the
            // deadline can end it.
            "/huge" => Response::new(200).stream(std::iter::repeat_with(|| vec![b'x'; 64 * 1024])),
            _ => Response::text(200, "alive\n"),
        }
    }
}

meridian_guest::edge_handler!(HostileEdge);
