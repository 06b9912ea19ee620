//! General RESP2/RESP3 frames (in progress).
