//! Byte format of WHIR-backend proofs (placeholder: filled in by the whir-envelope branch).
