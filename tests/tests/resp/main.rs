//! RESP gateway tests: a real server on loopback, driven by the `redis` crate,
//! redis-cli and raw TCP. One module per command family.

mod connection;
mod lists;
mod strings;
