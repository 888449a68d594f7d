//! Supervision demo (placeholder).
fn main() {}
