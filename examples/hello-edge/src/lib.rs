//! `hello-edge`: the smallest edge function, a fixed greeting. It calls no
//! cache interface, so its component imports only WASI and runs under any
//! `wasi:http` host too (`wasmtime serve`): `scripts/bench-wasm.sh` serves it
//! from both to compare the request paths.

use meridian_guest::http::{Handler, Request, Response};

struct Hello;

impl Handler for Hello {
    fn handle(_req: Request) -> Response {
        Response::text(200, "hello from meridian\n")
    }
}

meridian_guest::edge_handler!(Hello);
