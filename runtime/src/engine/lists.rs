//! lists operations (filled in by the lists family).
