//! RESP gateway tests: a real server on loopback, driven by the `redis` crate,
//! redis-cli and raw TCP. One module per command family.

mod accounting;
mod bitmaps;
mod connection;
mod control;
mod debug;
mod diagnostics;
mod documents;
mod dump;
mod eviction;
mod geo;
mod hashes;
mod hyperloglog;
mod introspection;
mod keys;
mod lists;
mod notifications;
mod pubsub;
mod scripting;
mod security;
mod server;
mod sets;
mod sort;
mod strings;
mod tls;
mod transactions;
mod zsets;
