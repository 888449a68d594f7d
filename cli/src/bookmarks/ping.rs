//! `ores bookmarks test <name>`: connect to a connection's server with its saved credentials,
//! send one `$SRV.PING` (the NATS service protocol's discovery request) and report every
//! service that answers, with its latency.

use std::time::{Duration, Instant};

use async_nats::{ConnectErrorKind, ConnectOptions};
use futures::StreamExt;
use ores_runtime::exit::ExitCode;
use serde::{Deserialize, Serialize};

use super::catalog::nats_url;
use super::session::Session;
use super::{TestArgs, render};
use crate::error::{CliError, CliResult};
use crate::output::Ui;

/// A `PING` answer as the service protocol writes it (fields missing in foreign answers read
/// as empty).
#[derive(Debug, Default, Deserialize)]
struct PingAnswer {
    #[serde(default)]
    name: String,
    #[serde(default)]
    id: String,
    #[serde(default)]
    version: String,
}

/// One service that answered.
#[derive(Debug, Clone, Serialize)]
struct AnswerView {
    /// The service's name.
    name: String,
    /// The instance's id.
    id: String,
    /// The service's version.
    version: String,
    /// Time from sending the request to receiving this answer, in milliseconds.
    latency_ms: f64,
}

/// What `test` reports.
#[derive(Debug, Clone, Serialize)]
struct TestReport {
    /// The connection's name.
    connection: String,
    /// The server's URL.
    url: String,
    /// The user logged in as, if any.
    username: Option<String>,
    /// The server's name, from its `INFO`.
    server_name: String,
    /// The server's version, from its `INFO`.
    server_version: String,
    /// How long connecting took, in milliseconds.
    connect_ms: f64,
    /// The subject the request went to.
    subject: String,
    /// The answers, in the order they came.
    answers: Vec<AnswerView>,
    /// The smallest latency, in milliseconds.
    min_ms: f64,
    /// The median latency, in milliseconds.
    median_ms: f64,
    /// The largest latency, in milliseconds.
    max_ms: f64,
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// `2s`, `500ms`, `1.5s`.
fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else if ms < 1000 {
        format!("{ms}ms")
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// The median of sorted values.
fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => 0.0,
        n if !n.is_multiple_of(2) => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// `ores bookmarks test`.
pub(super) async fn test(session: &Session, ui: Ui, args: TestArgs) -> CliResult {
    let bookmarks = session.bookmarks();
    let connection = bookmarks.connection_by_name(&args.name).await?;
    if connection.spec.password_sealed.is_some() {
        session.unlock().await?;
    }
    let (target, password) = bookmarks.resolve(&args.name).await?;
    let url = nats_url(&target.host, target.port);
    let timeout = args.timeout;

    let mut options = ConnectOptions::new()
        .name("ores bookmarks test")
        .connection_timeout(timeout)
        .max_reconnects(Some(1));
    let username = (!target.username.is_empty()).then(|| target.username.clone());
    if let Some(user) = &username {
        // async-nats takes the password as a plain String: it lives on in the client.
        let pass = password
            .as_ref()
            .map(|p| p.expose().to_owned())
            .unwrap_or_default();
        options = options.user_and_password(user.clone(), pass);
    }

    let started = Instant::now();
    let client = match tokio::time::timeout(timeout, options.connect(url.as_str())).await {
        Err(_) => {
            return Err(CliError::new(format!(
                "could not connect to {url} within {}",
                human(timeout)
            ))
            .hint("is the server running and reachable? (a longer --timeout may help)")
            .code(ExitCode::NatsConnection));
        }
        Ok(Err(e)) => return Err(connect_error(&args.name, &url, username.as_deref(), &e)),
        Ok(Ok(client)) => client,
    };
    let connect = started.elapsed();
    let info = client.server_info();

    let subject = format!("{}.PING", args.srv_prefix);
    let inbox = client.new_inbox();
    let result = async {
        let mut answers_sub = client.subscribe(inbox.clone()).await?;
        // The subscription must be registered before the request goes out.
        client.flush().await?;
        let sent = Instant::now();
        client
            .publish_with_reply(subject.clone(), inbox, Vec::<u8>::new().into())
            .await?;
        client.flush().await?;
        let deadline = tokio::time::Instant::from_std(sent + timeout);
        let mut answers = Vec::new();
        while let Ok(Some(msg)) = tokio::time::timeout_at(deadline, answers_sub.next()).await {
            let latency = sent.elapsed();
            if msg.status.is_some() {
                // "No responders": nobody listens on the subject; nothing more will come.
                break;
            }
            let answer: PingAnswer = serde_json::from_slice(&msg.payload).unwrap_or_default();
            answers.push(AnswerView {
                name: if answer.name.is_empty() {
                    "(unreadable answer)".to_owned()
                } else {
                    answer.name
                },
                id: answer.id,
                version: answer.version,
                latency_ms: millis(latency),
            });
        }
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(answers)
    }
    .await;
    drop(client);
    let answers = result.map_err(|e| {
        CliError::new(format!("lost the connection to {url}: {e}")).code(ExitCode::NatsConnection)
    })?;
    if answers.is_empty() {
        return Err(CliError::new(format!(
            "no service answered {subject} within {}",
            human(timeout)
        ))
        .hint(format!(
            "connected to {url} in {:.1} ms; no service runs there under `{}`, \
             or they use another --srv-prefix",
            millis(connect),
            args.srv_prefix
        )));
    }

    let mut latencies: Vec<f64> = answers.iter().map(|a| a.latency_ms).collect();
    latencies.sort_by(f64::total_cmp);
    let report = TestReport {
        connection: args.name.clone(),
        url,
        username,
        server_name: info.server_name.clone(),
        server_version: info.version.clone(),
        connect_ms: millis(connect),
        subject,
        min_ms: latencies.first().copied().unwrap_or(0.0),
        median_ms: median(&latencies),
        max_ms: latencies.last().copied().unwrap_or(0.0),
        answers,
    };
    ui.show(&report, render_report)
}

/// What a refused or failed connection says.
fn connect_error(
    name: &str,
    url: &str,
    user: Option<&str>,
    err: &async_nats::ConnectError,
) -> CliError {
    match err.kind() {
        ConnectErrorKind::AuthorizationViolation | ConnectErrorKind::Authentication => {
            let who =
                user.map_or_else(|| "without credentials".to_owned(), |u| format!("as `{u}`"));
            CliError::new(format!("{url} refused the login {who}: {err}"))
                .hint(format!(
                    "check the user and password of connection `{name}` \
                     (`ores bookmarks edit {name} --user U`, `ores bookmarks password {name}`)"
                ))
                .code(ExitCode::Auth)
        }
        ConnectErrorKind::TimedOut => {
            CliError::new(format!("could not connect to {url}: timed out"))
                .hint("is the server running and reachable? (a longer --timeout may help)")
                .code(ExitCode::NatsConnection)
        }
        _ => CliError::new(format!("could not connect to {url}: {err}"))
            .hint("is the server running and reachable at that host and port?")
            .code(ExitCode::NatsConnection),
    }
}

fn render_report(r: &TestReport) -> String {
    let who = r
        .username
        .as_ref()
        .map(|u| format!(" as {u}"))
        .unwrap_or_default();
    let server = if r.server_name.is_empty() {
        format!("nats-server {}", r.server_version)
    } else {
        format!("nats-server {} `{}`", r.server_version, r.server_name)
    };
    let table = render::table(
        ["SERVICE", "ID", "VERSION", "LATENCY"],
        r.answers
            .iter()
            .map(|a| {
                [
                    a.name.clone(),
                    a.id.clone(),
                    a.version.clone(),
                    format!("{:.1} ms", a.latency_ms),
                ]
            })
            .collect(),
    );
    let n = r.answers.len();
    format!(
        "Connected to {}{who} in {:.1} ms ({server}).\n\n{table}\n\n\
         {n} {} to {}; latency min {:.1} ms, median {:.1} ms, max {:.1} ms.",
        r.url,
        r.connect_ms,
        if n == 1 { "answer" } else { "answers" },
        r.subject,
        r.min_ms,
        r.median_ms,
        r.max_ms,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[1.0]), 1.0);
        assert_eq!(median(&[1.0, 3.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 10.0]), 2.0);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(Duration::from_secs(2)), "2s");
        assert_eq!(human(Duration::from_millis(500)), "500ms");
        assert_eq!(human(Duration::from_millis(1500)), "1.5s");
    }
}
