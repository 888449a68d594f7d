//! The text of a caught panic.

use std::any::Any;

/// The message a panic was raised with (`panic!("…")` gives a `&str` or a `String`), if it
/// has one. Used wherever a panic is caught and reported as an error: a start function, a
/// handler, a test body.
///
/// ```
/// let caught = std::panic::catch_unwind(|| panic!("boom {}", 1)).unwrap_err();
/// assert_eq!(ores_runtime::panic::message(&*caught), Some("boom 1"));
/// ```
pub fn message(panic: &(dyn Any + Send)) -> Option<&str> {
    panic
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
}
