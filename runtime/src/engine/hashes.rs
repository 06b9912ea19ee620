//! hashes operations (filled in by the hashes family).
