//! The environment provider: ORE's `ORES_<SECTION>_<FIELD>` and
//! `ORES_<APP>_<SECTION>_<FIELD>` variables as figment values.

use std::collections::BTreeMap;
use std::sync::Arc;

use figment::value::{Dict, Map, Value};
use figment::{Metadata, Profile, Provider};

/// Metadata name of the environment layer.
pub(crate) const METADATA_NAME: &str = "environment variable";

/// The prefix every ORE variable starts with.
const PREFIX: &str = "ORES_";

/// The ORE variables of one environment, resolved to configuration keys.
///
/// Values stay strings; the loader converts them to numbers or booleans when the target field
/// asks for one.
#[derive(Debug, Clone)]
pub(crate) struct OresEnv {
    /// `section.field` -> (variable name, value).
    vars: BTreeMap<String, (String, String)>,
}

impl OresEnv {
    /// Reads ORE variables from `vars`. With an `app`, `ORES_<APP>_<SECTION>_<FIELD>` beats
    /// `ORES_<SECTION>_<FIELD>`, and no `ORES_<APP>_...` variable is read as a section.
    pub(crate) fn new(app: Option<&str>, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let app_prefix = app
            .map(normalize_app)
            .filter(|a| !a.is_empty())
            .map(|a| format!("{PREFIX}{a}_"));
        // Sorted by name so that the result does not depend on the iteration order.
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        let mut shared = BTreeMap::new();
        let mut specific = BTreeMap::new();
        for (name, value) in vars {
            let Some(rest) = name.strip_prefix(PREFIX) else {
                continue;
            };
            let (target, rest) = match &app_prefix {
                Some(p) => match name.strip_prefix(p.as_str()) {
                    Some(rest) => (&mut specific, rest),
                    None => (&mut shared, rest),
                },
                None => (&mut shared, rest),
            };
            if let Some(key) = key_of(rest) {
                target.insert(key, (name.clone(), value));
            }
        }
        shared.extend(specific);
        Self { vars: shared }
    }

    /// Reads ORE variables from the process environment, skipping names or values that are not
    /// UTF-8.
    pub(crate) fn from_process(app: Option<&str>) -> Self {
        let vars = std::env::vars_os()
            .filter_map(|(k, v)| Some((k.into_string().ok()?, v.into_string().ok()?)));
        Self::new(app, vars)
    }
}

/// `NATS_SUBJECT_PREFIX` -> `nats.subject_prefix`; `None` without both a section and a field.
fn key_of(rest: &str) -> Option<String> {
    let (section, field) = rest.split_once('_')?;
    if section.is_empty() || field.is_empty() {
        return None;
    }
    Some(format!(
        "{}.{}",
        section.to_ascii_lowercase(),
        field.to_ascii_lowercase()
    ))
}

/// `ores-refdata` or `refdata` -> `ORES_REFDATA` / `REFDATA`: upper case, `_` for anything else.
fn normalize_app(app: &str) -> String {
    app.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect()
}

impl Provider for OresEnv {
    fn metadata(&self) -> Metadata {
        let names: Arc<BTreeMap<String, String>> = Arc::new(
            self.vars
                .iter()
                .map(|(key, (name, _))| (key.clone(), name.clone()))
                .collect(),
        );
        Metadata::named(METADATA_NAME).interpolater(move |_: &Profile, keys: &[&str]| {
            let key = keys.join(".");
            match names.get(&key) {
                Some(name) => name.clone(),
                None => format!("{PREFIX}{}", keys.join("_").to_ascii_uppercase()),
            }
        })
    }

    fn data(&self) -> figment::Result<Map<Profile, Dict>> {
        let mut dict = Dict::new();
        for (key, (_, value)) in &self.vars {
            let Some((section, field)) = key.split_once('.') else {
                continue;
            };
            let entry = dict
                .entry(section.to_owned())
                .or_insert_with(|| Value::from(Dict::new()));
            if let Value::Dict(_, fields) = entry {
                fields.insert(field.to_owned(), Value::from(value.clone()));
            }
        }
        Ok(Profile::Default.collect(dict))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(app: Option<&str>, vars: &[(&str, &str)]) -> Vec<(String, String, String)> {
        let vars = vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned()));
        OresEnv::new(app, vars)
            .vars
            .into_iter()
            .map(|(key, (name, value))| (key, name, value))
            .collect()
    }

    fn row(key: &str, name: &str, value: &str) -> (String, String, String) {
        (key.to_owned(), name.to_owned(), value.to_owned())
    }

    #[test]
    fn section_is_the_first_token_and_field_the_rest() {
        assert_eq!(
            env(
                None,
                &[
                    ("ORES_NATS_SUBJECT_PREFIX", "p"),
                    ("PATH", "/bin"),
                    ("ORES_X", "1")
                ]
            ),
            vec![row("nats.subject_prefix", "ORES_NATS_SUBJECT_PREFIX", "p")]
        );
    }

    #[test]
    fn app_variable_beats_shared_and_is_not_a_section() {
        let got = env(
            Some("refdata"),
            &[
                ("ORES_NATS_URL", "shared"),
                ("ORES_REFDATA_NATS_URL", "app"),
                ("ORES_REFDATA_DATABASE_URL", "db"),
            ],
        );
        assert_eq!(
            got,
            vec![
                row("database.url", "ORES_REFDATA_DATABASE_URL", "db"),
                row("nats.url", "ORES_REFDATA_NATS_URL", "app"),
            ]
        );
    }

    #[test]
    fn app_names_are_normalized() {
        let got = env(Some("my-app"), &[("ORES_MY_APP_NATS_URL", "u")]);
        assert_eq!(got, vec![row("nats.url", "ORES_MY_APP_NATS_URL", "u")]);
    }
}
