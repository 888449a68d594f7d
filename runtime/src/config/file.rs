//! Reading TOML configuration files into layers.

use std::io;
use std::path::Path;

use figment::providers::{Format, Toml};
use figment::value::Dict;

use super::error::ConfigError;
use super::layer::Layer;

/// Reads and parses the TOML file at `path`. A missing file is an error when `required`, and
/// `Ok(None)` otherwise.
pub(crate) fn read(path: &Path, required: bool) -> Result<Option<Layer>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return if required {
                Err(ConfigError::FileNotFound {
                    path: path.to_path_buf(),
                })
            } else {
                Ok(None)
            };
        }
        Err(error) => {
            return Err(ConfigError::FileUnreadable {
                path: path.to_path_buf(),
                error,
            });
        }
    };
    let dict: Dict = Toml::from_str(&text).map_err(|error| {
        let offset = error.span().map_or(0, |span| span.start);
        let (line, column) = line_column(&text, offset);
        ConfigError::MalformedToml {
            path: path.to_path_buf(),
            line,
            column,
            message: error.message().trim().replace('\n', "; "),
        }
    })?;
    Ok(Some(Layer::file(path, dict)))
}

/// The 1-based line and column (in characters) of byte `offset` in `text`.
fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::line_column;

    #[test]
    fn line_and_column_are_one_based() {
        assert_eq!(line_column("a = 1\nb = ", 0), (1, 1));
        assert_eq!(line_column("a = 1\nb = ", 6), (2, 1));
        assert_eq!(line_column("a = 1\nb = ", 10), (2, 5));
    }
}
