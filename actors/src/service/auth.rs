//! (being written: placeholder until the bearer-token middleware lands)

/// The verified caller.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Principal {
    /// The tenant.
    pub tenant_id: Option<String>,
}
