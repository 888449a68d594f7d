//! Supervision benchmark (placeholder).
fn main() {}
