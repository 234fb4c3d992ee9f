//! Nothing here: the package exists for its bench, `benches/milp.rs`.
