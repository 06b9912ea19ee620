//! The smallest guest module: a WASI command that prints a greeting built with
//! the guest SDK. It exists so the test command proves the `wasm32-wasip2`
//! toolchain path end to end; the edge and plugin examples replace it once the
//! WASM host lands.

fn main() {
    println!("hello from {}", meridian_guest::WIT_PACKAGE);
}
