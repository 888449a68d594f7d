//! Layered configuration: precedence, the ORE environment names, and error messages.

// A failed unwrap is a failed test, which is what these tests want.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use ores_runtime::config::{
    ConfigError, ConfigLoader, ConfigSource, LogFormat, NatsSettings, OresConfig, WireFormat,
};
use serde::Deserialize;
use tempfile::TempDir;

type Vars = [(&'static str, &'static str)];

/// A loader that sees only `vars`, never the process environment.
fn loader(vars: &Vars) -> ConfigLoader {
    ConfigLoader::new().env_vars(vars.iter().copied())
}

/// Writes `text` to `name` in a fresh temporary directory.
fn toml_file(name: &str, text: &str) -> anyhow::Result<(TempDir, PathBuf)> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join(name);
    std::fs::write(&path, text)?;
    Ok((dir, path))
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

// ---------------------------------------------------------------------------------------------
// Precedence: default < file < env < explicit.

#[test]
fn defaults_apply_when_no_layer_sets_a_value() -> anyhow::Result<()> {
    let cfg: OresConfig = loader(&[]).load()?;
    assert_eq!(cfg, OresConfig::default());
    assert_eq!(cfg.nats.url, "nats://127.0.0.1:4222");
    assert_eq!(cfg.nats.subject_prefix, None);
    assert_eq!(cfg.nats.wire_format, WireFormat::Msgpack);
    assert_eq!(cfg.database.url, "postgres://postgres@127.0.0.1:5432/test");
    assert_eq!(cfg.log.format, LogFormat::Pretty);
    assert_eq!(cfg.log.filter, None);
    Ok(())
}

#[test]
fn file_beats_default() -> anyhow::Result<()> {
    let (_dir, path) = toml_file(
        "ores.toml",
        r#"
        [nats]
        url = "nats://file:4222"
        wire_format = "json"
        request_timeout_ms = 2500

        [log]
        format = "compact"
        filter = "info,ores=debug"
        "#,
    )?;
    let cfg: OresConfig = loader(&[]).file(&path).load()?;
    assert_eq!(cfg.nats.url, "nats://file:4222");
    assert_eq!(cfg.nats.wire_format, WireFormat::Json);
    assert_eq!(cfg.nats.request_timeout_ms, Some(2500));
    assert_eq!(cfg.log.format, LogFormat::Compact);
    assert_eq!(cfg.log.filter.as_deref(), Some("info,ores=debug"));
    // Untouched keys keep their defaults.
    assert_eq!(cfg.database.url, "postgres://postgres@127.0.0.1:5432/test");
    Ok(())
}

#[test]
fn later_file_beats_earlier_file() -> anyhow::Result<()> {
    let (_a, first) = toml_file(
        "a.toml",
        "[nats]\nurl = \"nats://a\"\nsubject_prefix = \"a\"\n",
    )?;
    let (_b, second) = toml_file("b.toml", "[nats]\nurl = \"nats://b\"\n")?;
    let cfg: OresConfig = loader(&[]).file(&first).optional_file(&second).load()?;
    assert_eq!(cfg.nats.url, "nats://b");
    assert_eq!(cfg.nats.subject_prefix.as_deref(), Some("a"));
    Ok(())
}

#[test]
fn env_beats_file() -> anyhow::Result<()> {
    let (_dir, path) = toml_file(
        "ores.toml",
        "[nats]\nurl = \"nats://file\"\nsubject_prefix = \"ores.file\"\n[database]\nurl = \"postgres://file\"\n",
    )?;
    let cfg: OresConfig = loader(&[
        ("ORES_NATS_URL", "nats://env"),
        ("ORES_NATS_SUBJECT_PREFIX", "ores.dev.local1"),
        ("ORES_NATS_WIRE_FORMAT", "json"),
        ("ORES_NATS_REQUEST_TIMEOUT_MS", "1500"),
        ("ORES_DATABASE_URL", "postgres://env"),
        ("ORES_LOG_FORMAT", "json"),
    ])
    .file(&path)
    .load()?;
    assert_eq!(cfg.nats.url, "nats://env");
    assert_eq!(cfg.nats.subject_prefix.as_deref(), Some("ores.dev.local1"));
    assert_eq!(cfg.nats.wire_format, WireFormat::Json);
    assert_eq!(cfg.nats.request_timeout_ms, Some(1500));
    assert_eq!(cfg.database.url, "postgres://env");
    assert_eq!(cfg.log.format, LogFormat::Json);
    Ok(())
}

#[test]
fn explicit_beats_env() -> anyhow::Result<()> {
    let (_dir, path) = toml_file("ores.toml", "[nats]\nsubject_prefix = \"ores.file\"\n")?;
    let cfg: OresConfig = loader(&[("ORES_NATS_SUBJECT_PREFIX", "ores.env")])
        .file(&path)
        .set("nats.subject_prefix", "ores.explicit")
        .set("nats.request_timeout_ms", 750)
        .load()?;
    assert_eq!(cfg.nats.subject_prefix.as_deref(), Some("ores.explicit"));
    assert_eq!(cfg.nats.request_timeout_ms, Some(750));
    Ok(())
}

#[test]
fn later_explicit_value_beats_earlier_one() -> anyhow::Result<()> {
    let cfg: OresConfig = loader(&[])
        .set("nats.wire_format", "json")
        .set("nats.wire_format", WireFormat::Msgpack)
        .load()?;
    assert_eq!(cfg.nats.wire_format, WireFormat::Msgpack);
    Ok(())
}

#[test]
fn explicit_defaults_are_the_lowest_layer() -> anyhow::Result<()> {
    let defaults = OresConfig {
        nats: NatsSettings {
            url: "nats://default".to_owned(),
            subject_prefix: Some("ores.default".to_owned()),
            ..NatsSettings::default()
        },
        ..OresConfig::default()
    };
    let cfg: OresConfig = loader(&[("ORES_NATS_URL", "nats://env")])
        .defaults(&defaults)
        .load()?;
    assert_eq!(cfg.nats.url, "nats://env");
    assert_eq!(cfg.nats.subject_prefix.as_deref(), Some("ores.default"));
    Ok(())
}

#[test]
fn optional_file_is_skipped_when_absent() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let cfg: OresConfig = loader(&[])
        .optional_file(dir.path().join("absent.toml"))
        .load()?;
    assert_eq!(cfg, OresConfig::default());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The ORE environment names.

#[test]
fn app_specific_env_beats_shared() -> anyhow::Result<()> {
    let cfg: OresConfig = ConfigLoader::for_app("refdata")
        .env_vars([
            ("ORES_NATS_URL", "nats://shared"),
            ("ORES_REFDATA_NATS_URL", "nats://refdata"),
            ("ORES_NATS_SUBJECT_PREFIX", "ores.dev.shared"),
        ])
        .load()?;
    assert_eq!(cfg.nats.url, "nats://refdata");
    // A shared variable without an application-specific one still applies.
    assert_eq!(cfg.nats.subject_prefix.as_deref(), Some("ores.dev.shared"));
    Ok(())
}

#[test]
fn other_apps_variables_are_ignored() -> anyhow::Result<()> {
    let cfg: OresConfig = ConfigLoader::for_app("refdata")
        .env_vars([("ORES_IAM_NATS_URL", "nats://iam")])
        .load()?;
    assert_eq!(cfg.nats.url, NatsSettings::DEFAULT_URL);
    Ok(())
}

#[test]
fn app_name_is_not_read_as_a_section() -> anyhow::Result<()> {
    /// An application whose own section is called like the application.
    #[derive(Debug, Deserialize)]
    struct App {
        #[serde(default)]
        refdata: Option<Refdata>,
    }
    #[derive(Debug, Deserialize)]
    struct Refdata {
        #[allow(dead_code)]
        nats_url: String,
    }

    let vars = [("ORES_REFDATA_NATS_URL", "nats://refdata")];
    // For the `refdata` application, the variable is its `nats.url`, not `refdata.nats_url`.
    let app: App = ConfigLoader::for_app("refdata").env_vars(vars).load()?;
    assert!(app.refdata.is_none());
    // Without an application, it is just section `refdata`, field `nats_url`.
    let app: App = ConfigLoader::new().env_vars(vars).load()?;
    assert!(app.refdata.is_some());
    Ok(())
}

#[test]
fn unrelated_variables_and_unknown_keys_are_ignored() -> anyhow::Result<()> {
    let (_dir, path) = toml_file("ores.toml", "[nats]\nnot_a_key = \"x\"\n[other]\nx = 1\n")?;
    let cfg: OresConfig = loader(&[
        ("PATH", "/usr/bin"),
        ("ORES_TEST_TIMEOUT_SECONDS", "60"),
        ("ORES_NATS_SOMETHING_NEW", "x"),
        ("ORES_LONELY", "x"),
    ])
    .file(&path)
    .load()?;
    assert_eq!(cfg, OresConfig::default());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Errors.

#[test]
fn wire_format_from_env_names_the_variable() {
    let err = ConfigLoader::for_app("refdata")
        .env_vars([("ORES_NATS_WIRE_FORMAT", "xml")])
        .load::<OresConfig>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: `nats.wire_format` from environment variable \
         `ORES_NATS_WIRE_FORMAT`: expected one of `json`, `msgpack`, found `xml`"
    );
    match err {
        ConfigError::InvalidValue {
            key,
            origin,
            expected,
            found,
        } => {
            assert_eq!(key, "nats.wire_format");
            assert_eq!(
                origin,
                ConfigSource::Env("ORES_NATS_WIRE_FORMAT".to_owned())
            );
            assert_eq!(expected, "one of `json`, `msgpack`");
            assert_eq!(found, "`xml`");
        }
        other => panic!("unexpected error: {other:?}"),
    }
}

#[test]
fn wire_format_from_app_env_names_the_app_variable() {
    let err = ConfigLoader::for_app("refdata")
        .env_vars([
            ("ORES_NATS_WIRE_FORMAT", "json"),
            ("ORES_REFDATA_NATS_WIRE_FORMAT", "JSON"),
        ])
        .load::<OresConfig>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: `nats.wire_format` from environment variable \
         `ORES_REFDATA_NATS_WIRE_FORMAT`: expected one of `json`, `msgpack`, found `JSON`"
    );
}

#[test]
fn wire_format_from_file_names_the_file() -> anyhow::Result<()> {
    let (_dir, path) = toml_file("ores.toml", "[nats]\nwire_format = \"protobuf\"\n")?;
    let err = loader(&[]).file(&path).load::<OresConfig>().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "invalid configuration: `nats.wire_format` from TOML file `{}`: \
             expected one of `json`, `msgpack`, found `protobuf`",
            display(&path)
        )
    );
    assert!(matches!(
        err,
        ConfigError::InvalidValue { origin: ConfigSource::File(p), .. } if p == path
    ));
    Ok(())
}

#[test]
fn wire_format_from_explicit_value() {
    let err = loader(&[])
        .set("nats.wire_format", "cbor")
        .load::<OresConfig>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: `nats.wire_format` from explicit value: \
         expected one of `json`, `msgpack`, found `cbor`"
    );
}

#[test]
fn bad_value_from_defaults_names_default() {
    let err = loader(&[])
        .defaults(serde_json::json!({ "log": { "format": "fancy" } }))
        .load::<OresConfig>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: `log.format` from default: \
         expected one of `compact`, `json`, `pretty`, found `fancy`"
    );
}

#[test]
fn wrong_type_names_key_source_expected_and_found() {
    let err = loader(&[("ORES_NATS_REQUEST_TIMEOUT_MS", "soon")])
        .load::<OresConfig>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: `nats.request_timeout_ms` from environment variable \
         `ORES_NATS_REQUEST_TIMEOUT_MS`: expected a non-negative integer, found `soon`"
    );
}

#[test]
fn wrong_type_in_file() -> anyhow::Result<()> {
    let (_dir, path) = toml_file("ores.toml", "[database]\nurl = 5432\n")?;
    let err = loader(&[]).file(&path).load::<OresConfig>().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "invalid configuration: `database.url` from TOML file `{}`: \
             expected a string, found `5432`",
            display(&path)
        )
    );
    Ok(())
}

#[test]
fn missing_required_file_names_the_path() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("refdata.toml");
    let err = loader(&[]).file(&path).load::<OresConfig>().unwrap_err();
    assert_eq!(
        err.to_string(),
        format!("configuration file `{}` not found", display(&path))
    );
    assert!(matches!(err, ConfigError::FileNotFound { path: p } if p == path));
    Ok(())
}

#[test]
fn unreadable_file_names_the_path() -> anyhow::Result<()> {
    // A directory where a file is expected cannot be read.
    let dir = tempfile::tempdir()?;
    let err = loader(&[])
        .file(dir.path())
        .load::<OresConfig>()
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with(&format!(
            "cannot read configuration file `{}`: ",
            display(dir.path())
        )),
        "{message}"
    );
    assert!(matches!(err, ConfigError::FileUnreadable { .. }));
    Ok(())
}

#[test]
fn malformed_toml_names_the_file_and_the_line() -> anyhow::Result<()> {
    let (_dir, path) = toml_file(
        "ores.toml",
        "[nats]\nurl = \"nats://127.0.0.1:4222\"\nsubject_prefix = ores.dev\n",
    )?;
    let err = loader(&[]).file(&path).load::<OresConfig>().unwrap_err();
    match &err {
        ConfigError::MalformedToml {
            path: p,
            line,
            column,
            ..
        } => {
            assert_eq!(p, &path);
            assert_eq!((*line, *column), (3, 18));
        }
        other => panic!("unexpected error: {other:?}"),
    }
    assert_eq!(
        err.to_string(),
        format!(
            "malformed TOML in `{}` at line 3, column 18: invalid string; expected `\"`, `'`",
            display(&path)
        )
    );
    Ok(())
}

#[test]
fn malformed_optional_file_is_still_an_error() -> anyhow::Result<()> {
    let (_dir, path) = toml_file("ores.toml", "[nats\n")?;
    let err = loader(&[])
        .optional_file(&path)
        .load::<OresConfig>()
        .unwrap_err();
    assert!(
        matches!(err, ConfigError::MalformedToml { line: 1, .. }),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn missing_value_names_the_key() {
    #[derive(Debug, Deserialize)]
    struct App {
        #[allow(dead_code)]
        service: Service,
    }
    #[derive(Debug, Deserialize)]
    struct Service {
        #[allow(dead_code)]
        name: String,
    }

    let err = loader(&[("ORES_SERVICE_VERSION", "1.0")])
        .load::<App>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "missing configuration value `service.name`"
    );
    assert!(matches!(err, ConfigError::MissingValue { key } if key == "service.name"));
}

#[test]
fn explicit_key_must_not_be_empty() {
    let err = loader(&[])
        .set("nats..url", "x")
        .load::<OresConfig>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: `nats..url` from explicit value: \
         a key is one or more non-empty names separated by `.`"
    );
}

#[test]
fn custom_deserializer_errors_are_rejected_with_their_message() {
    #[derive(Debug, Deserialize)]
    struct App {
        #[allow(dead_code)]
        service: Service,
    }
    #[derive(Debug, Deserialize)]
    struct Service {
        #[allow(dead_code)]
        #[serde(deserialize_with = "port")]
        port: u16,
    }
    fn port<'de, D: serde::Deserializer<'de>>(de: D) -> Result<u16, D::Error> {
        let port = u16::deserialize(de)?;
        if port == 0 {
            return Err(serde::de::Error::custom("port `0` is reserved"));
        }
        Ok(port)
    }

    let err = loader(&[("ORES_SERVICE_PORT", "0")])
        .load::<App>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: `service.port` from environment variable \
         `ORES_SERVICE_PORT`: port `0` is reserved"
    );
}

// ---------------------------------------------------------------------------------------------
// An application's own configuration.

/// An application struct with its own section next to the ORE ones.
#[derive(Debug, Deserialize)]
struct RefdataConfig {
    #[serde(flatten)]
    ores: OresConfig,
    #[serde(default)]
    refdata: RefdataSettings,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct RefdataSettings {
    page_size: u32,
    cache: bool,
}

#[test]
fn user_struct_embeds_ores_config() -> anyhow::Result<()> {
    let (_dir, path) = toml_file(
        "refdata.toml",
        "[nats]\nsubject_prefix = \"ores.dev.local1\"\n[refdata]\npage_size = 50\n",
    )?;
    let cfg: RefdataConfig = ConfigLoader::for_app("refdata")
        .file(&path)
        .env_vars([
            ("ORES_REFDATA_NATS_URL", "nats://refdata"),
            ("ORES_REFDATA_REFDATA_CACHE", "yes"),
        ])
        .load()?;
    assert_eq!(cfg.ores.nats.url, "nats://refdata");
    assert_eq!(
        cfg.ores.nats.subject_prefix.as_deref(),
        Some("ores.dev.local1")
    );
    assert_eq!(
        cfg.ores.database.url,
        "postgres://postgres@127.0.0.1:5432/test"
    );
    assert_eq!(cfg.refdata.page_size, 50);
    assert!(cfg.refdata.cache);
    Ok(())
}

#[test]
fn user_struct_with_ore_sections_as_fields() -> anyhow::Result<()> {
    #[derive(Debug, Deserialize)]
    struct Cfg {
        #[serde(default)]
        nats: NatsSettings,
        #[serde(default)]
        refdata: RefdataSettings,
    }

    let cfg: Cfg = loader(&[
        ("ORES_NATS_URL", "nats://env"),
        ("ORES_REFDATA_PAGE_SIZE", "20"),
    ])
    .load()?;
    assert_eq!(cfg.nats.url, "nats://env");
    assert_eq!(cfg.refdata.page_size, 20);

    let err = loader(&[("ORES_REFDATA_PAGE_SIZE", "-1")])
        .load::<Cfg>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: `refdata.page_size` from environment variable \
         `ORES_REFDATA_PAGE_SIZE`: expected a non-negative integer, found `-1`"
    );
    Ok(())
}

#[test]
fn one_loader_loads_several_types() -> anyhow::Result<()> {
    let loader = loader(&[
        ("ORES_NATS_URL", "nats://env"),
        ("ORES_REFDATA_PAGE_SIZE", "20"),
    ]);
    let ores: OresConfig = loader.load()?;
    let mine: RefdataConfig = loader.load()?;
    assert_eq!(ores.nats.url, "nats://env");
    assert_eq!(mine.ores, ores);
    assert_eq!(mine.refdata.page_size, 20);
    Ok(())
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<ConfigLoader>();
    assert_send_sync::<ConfigError>();
    assert_send_sync::<OresConfig>();
}

#[test]
fn flattened_ores_config_converts_env_strings() -> anyhow::Result<()> {
    let cfg: RefdataConfig = loader(&[("ORES_NATS_REQUEST_TIMEOUT_MS", "1500")]).load()?;
    assert_eq!(cfg.ores.nats.request_timeout_ms, Some(1500));
    Ok(())
}

#[test]
fn flattened_ores_config_errors_name_key_and_source() {
    let err = ConfigLoader::for_app("refdata")
        .env_vars([("ORES_REFDATA_NATS_WIRE_FORMAT", "xml")])
        .load::<RefdataConfig>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: `nats.wire_format` from environment variable \
         `ORES_REFDATA_NATS_WIRE_FORMAT`: expected one of `json`, `msgpack`, found `xml`"
    );

    let err = loader(&[])
        .set("nats.request_timeout_ms", -3)
        .load::<RefdataConfig>()
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid configuration: `nats.request_timeout_ms` from explicit value: \
         expected a non-negative integer, found `-3`"
    );
}

#[test]
fn documented_toml_example_loads() -> anyhow::Result<()> {
    let guide = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docs/configuration.md"
    ))?;
    let start = guide
        .find("# /etc/ores/refdata.toml")
        .ok_or_else(|| anyhow::anyhow!("no example"))?;
    let end = start
        + guide[start..]
            .find("```")
            .ok_or_else(|| anyhow::anyhow!("unclosed"))?;
    let (_dir, path) = toml_file("refdata.toml", &guide[start..end])?;
    let cfg: RefdataConfig = ConfigLoader::for_app("refdata")
        .env_vars(Vec::<(String, String)>::new())
        .file(&path)
        .load()?;
    assert_eq!(
        cfg.ores.nats.subject_prefix.as_deref(),
        Some("ores.prod.eu1")
    );
    assert_eq!(cfg.ores.nats.request_timeout_ms, Some(10_000));
    assert_eq!(cfg.ores.log.format, LogFormat::Json);
    assert_eq!(cfg.refdata.page_size, 50);
    Ok(())
}
