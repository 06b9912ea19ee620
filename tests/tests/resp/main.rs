//! RESP gateway tests: a real server on loopback, driven by the `redis` crate,
//! redis-cli and raw TCP. One module per command family.

mod accounting;
mod connection;
mod eviction;
mod hashes;
mod keys;
mod lists;
mod pubsub;
mod server;
mod sets;
mod strings;
mod transactions;
mod zsets;
