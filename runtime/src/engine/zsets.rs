//! zsets operations (filled in by the zsets family).
