//! sets operations (filled in by the sets family).
