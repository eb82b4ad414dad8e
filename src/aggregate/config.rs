//! (placeholder, owned by the proof-format work)
