//! Tests for ORE's exit codes.

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is the failure report

use std::process::Command;

use ores_runtime::exit::{ExitCode, ToExitCode};

#[test]
fn codes_match_ore() {
    let expected = [
        (ExitCode::Ok, 0),
        (ExitCode::General, 1),
        (ExitCode::Config, 2),
        (ExitCode::DatabaseConnection, 3),
        (ExitCode::NatsConnection, 4),
        (ExitCode::StartupTimeout, 5),
        (ExitCode::Auth, 6),
    ];
    for (code, number) in expected {
        assert_eq!(code.code(), number, "{code:?}");
        assert_eq!(u8::from(code), number);
        assert_eq!(i32::from(code), i32::from(number));
        assert_eq!(ExitCode::from_code(number), Some(code));
        assert_eq!(
            std::process::ExitCode::from(code),
            std::process::ExitCode::from(number)
        );
    }
    assert_eq!(ExitCode::ALL.map(ExitCode::code), [0, 1, 2, 3, 4, 5, 6]);
    assert_eq!(ExitCode::from_code(7), None);
    assert_eq!(ExitCode::from_code(255), None);
}

#[test]
fn only_ok_is_success() {
    for code in ExitCode::ALL {
        assert_eq!(code.is_success(), code == ExitCode::Ok, "{code:?}");
    }
}

#[test]
fn display_names_meaning_and_code() {
    assert_eq!(ExitCode::Ok.to_string(), "ok (exit code 0)");
    assert_eq!(
        ExitCode::Config.to_string(),
        "configuration error (exit code 2)"
    );
    assert_eq!(
        ExitCode::DatabaseConnection.to_string(),
        "database connection failure (exit code 3)"
    );
    assert_eq!(
        ExitCode::NatsConnection.to_string(),
        "nats connection failure (exit code 4)"
    );
    assert_eq!(
        ExitCode::StartupTimeout.to_string(),
        "start-up timeout (exit code 5)"
    );
    assert_eq!(
        ExitCode::Auth.to_string(),
        "authentication failure (exit code 6)"
    );
}

#[derive(Debug, thiserror::Error)]
enum AppError {
    #[error("cannot read config `{0}`")]
    Config(String),
    #[error("token expired")]
    Auth,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl ToExitCode for AppError {
    fn exit_code(&self) -> ExitCode {
        match self {
            AppError::Config(_) => ExitCode::Config,
            AppError::Auth => ExitCode::Auth,
            AppError::Io(err) => err.exit_code(),
        }
    }
}

#[test]
fn error_types_choose_their_code() {
    assert_eq!(
        AppError::Config("x.toml".into()).exit_code(),
        ExitCode::Config
    );
    assert_eq!(AppError::Auth.exit_code(), ExitCode::Auth);
    assert_eq!(
        AppError::from(std::io::Error::other("disk")).exit_code(),
        ExitCode::General
    );

    let boxed: Box<AppError> = Box::new(AppError::Auth);
    assert_eq!(boxed.exit_code(), ExitCode::Auth);
    let by_ref: &AppError = &AppError::Auth;
    assert_eq!(ToExitCode::exit_code(&by_ref), ExitCode::Auth);

    let ok: Result<(), AppError> = Ok(());
    let err: Result<(), AppError> = Err(AppError::Config("y".into()));
    assert_eq!(ok.exit_code(), ExitCode::Ok);
    assert_eq!(err.exit_code(), ExitCode::Config);
}

const CHILD_ENV: &str = "ORES_EXIT_TEST_CHILD_CODE";

/// Run as a child process by `process_exits_with_the_code`: exits with the code it is given.
#[test]
fn child_exits_with_given_code() {
    let Ok(raw) = std::env::var(CHILD_ENV) else {
        return; // not running as the child
    };
    let code = raw
        .parse::<u8>()
        .ok()
        .and_then(ExitCode::from_code)
        .unwrap();
    // `process::exit` with the number `main` would return via `std::process::ExitCode`.
    std::process::exit(i32::from(code));
}

#[test]
fn process_exits_with_the_code() {
    let exe = std::env::current_exe().unwrap();
    for code in ExitCode::ALL {
        let status = Command::new(&exe)
            .args([
                "--exact",
                "child_exits_with_given_code",
                "--test-threads=1",
                "-q",
            ])
            .env(CHILD_ENV, code.code().to_string())
            .output()
            .unwrap()
            .status;
        assert_eq!(status.code(), Some(i32::from(code)), "{code:?}");
    }
}

#[test]
fn configuration_errors_exit_with_code_2() {
    use ores_runtime::config::ConfigLoader;
    use ores_runtime::exit::{ExitCode, ToExitCode};
    let err = ConfigLoader::new()
        .env_vars([("ORES_NATS_WIRE_FORMAT", "xml")])
        .load::<ores_runtime::OresConfig>()
        .unwrap_err();
    assert_eq!(err.exit_code(), ExitCode::Config);
    assert_eq!(err.exit_code().code(), 2);
}
