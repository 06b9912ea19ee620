//! WASM guests end to end: the example components (built for wasm32-wasip2
//! by `scripts/test.sh` before the tests run) loaded into real servers and
//! driven over RESP (FUNCTION / FCALL with the `redis` crate) and HTTP; and
//! a hostile guest that loops, exhausts memory, traps, escapes its namespace
//! and floods its response, with the server still serving afterwards.

mod api;
mod edge;
mod guests;
mod hostile;
mod modules;
mod plugins;
mod replicated;
mod triggers;
