//! The NATS service protocol (ADR-32) as data: names, versions, discovery subjects, the JSON
//! documents (checked field by field and against `async_nats::service`'s own types) and the
//! per-endpoint statistics.
#![cfg(feature = "service")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ores_actors::service::ServiceSetupError;
use ores_actors::service::protocol::{
    DEFAULT_SRV_PREFIX, EndpointInfo, EndpointStats, INFO_RESPONSE_TYPE, Identity, InfoResponse,
    PING_RESPONSE_TYPE, PingResponse, STATS_RESPONSE_TYPE, StatsResponse, Verb, discovery_subjects,
    format_started, parse_started, protocol_name, validate_version,
};
use ores_actors::service::stats::EndpointCounters;
use serde_json::{Value, json};

// ---------------------------------------------------------------- names

#[test]
fn protocol_name_replaces_dots() {
    assert_eq!(
        protocol_name("ores.refdata.service").unwrap(),
        "ores-refdata-service"
    );
    assert_eq!(protocol_name("Ores_9-x").unwrap(), "Ores_9-x");
}

fn invalid_name(name: &str) -> (String, String) {
    match protocol_name(name).unwrap_err() {
        ServiceSetupError::InvalidName { name, reason } => (name, reason),
        other => panic!("expected InvalidName, got {other:?}"),
    }
}

#[test]
fn protocol_name_names_the_bad_character_and_its_position() {
    let (name, reason) = invalid_name("ores.ref data");
    assert_eq!(name, "ores.ref data");
    assert!(reason.contains("' '"), "{reason}");
    assert!(reason.contains("index 8"), "{reason}");

    let (_, reason) = invalid_name("ores.*");
    assert!(
        reason.contains("'*'") && reason.contains("index 5"),
        "{reason}"
    );

    let (_, reason) = invalid_name("orés");
    assert!(
        reason.contains("'é'") && reason.contains("index 2"),
        "{reason}"
    );

    let (_, reason) = invalid_name("a>b");
    assert!(
        reason.contains("'>'") && reason.contains("index 1"),
        "{reason}"
    );
}

#[test]
fn protocol_name_refuses_empty() {
    let (name, reason) = invalid_name("");
    assert_eq!(name, "");
    assert!(reason.contains("empty"), "{reason}");
    let shown = protocol_name("").unwrap_err().to_string();
    assert!(shown.contains("A-Z a-z 0-9 - _"), "{shown}");
}

// ---------------------------------------------------------------- versions

#[test]
fn valid_versions() {
    for v in [
        "1.0.0",
        "0.0.1-alpha.1+build.5",
        "0.0.0",
        "10.20.30",
        "1.0.0-rc.1",
        "1.0.0+20130313144700",
        "1.0.0-0A.is.legal",
    ] {
        assert!(validate_version(v).is_ok(), "{v} should be valid");
    }
}

#[test]
fn invalid_versions() {
    for v in [
        "1.0", "v1.0.0", "01.0.0", "1.0.0-", "", "1.0.0-01", "1.0.0+", " 1.0.0", "1.0.0\n",
        "١.0.0", "1.0.0-١", "1.０.0",
    ] {
        match validate_version(v) {
            Err(ServiceSetupError::InvalidVersion { version, reason }) => {
                assert_eq!(version, v);
                assert!(!reason.is_empty());
            }
            other => panic!("{v:?} should be refused, got {other:?}"),
        }
    }
    let Err(ServiceSetupError::InvalidVersion { reason, .. }) = validate_version("v1.0.0") else {
        panic!("refused");
    };
    assert!(reason.contains('v'), "{reason}");
}

// ---------------------------------------------------------------- subjects

#[test]
fn verbs_and_discovery_subjects() {
    assert_eq!(Verb::Ping.as_str(), "PING");
    assert_eq!(Verb::Info.as_str(), "INFO");
    assert_eq!(Verb::Stats.as_str(), "STATS");
    assert_eq!(DEFAULT_SRV_PREFIX, "$SRV");
    assert_eq!(
        discovery_subjects(DEFAULT_SRV_PREFIX, Verb::Stats, "ores-refdata", "abc"),
        [
            "$SRV.STATS".to_owned(),
            "$SRV.STATS.ores-refdata".to_owned(),
            "$SRV.STATS.ores-refdata.abc".to_owned(),
        ]
    );
    assert_eq!(
        discovery_subjects("$ORE.SRV", Verb::Info, "x", "1")[2],
        "$ORE.SRV.INFO.x.1"
    );
}

// ---------------------------------------------------------------- documents

fn identity() -> Identity {
    Identity::new("ores-refdata-service", "NUIDabc123", "1.2.3")
}

fn identity_with_metadata() -> Identity {
    identity().with_metadata(BTreeMap::from([("region".to_owned(), "eu".to_owned())]))
}

fn object(value: &Value) -> &serde_json::Map<String, Value> {
    value.as_object().expect("a JSON object")
}

fn keys(value: &Value) -> Vec<&str> {
    let mut keys: Vec<&str> = object(value).keys().map(String::as_str).collect();
    keys.sort_unstable();
    keys
}

#[test]
fn ping_json() {
    let ping = PingResponse::new(identity());
    let value = serde_json::to_value(&ping).unwrap();
    assert_eq!(keys(&value), ["id", "metadata", "name", "type", "version"]);
    assert_eq!(value["type"], PING_RESPONSE_TYPE);
    assert_eq!(value["type"], "io.nats.micro.v1.ping_response");
    assert_eq!(value["name"], "ores-refdata-service");
    assert_eq!(value["id"], "NUIDabc123");
    assert_eq!(value["version"], "1.2.3");
    assert_eq!(value["metadata"], json!({}));

    let ping = PingResponse::new(identity_with_metadata());
    let value = serde_json::to_value(&ping).unwrap();
    assert_eq!(value["metadata"], json!({"region": "eu"}));
    let back: PingResponse = serde_json::from_value(value).unwrap();
    assert_eq!(back, ping);
}

fn info() -> InfoResponse {
    InfoResponse::new(
        identity_with_metadata(),
        "",
        vec![
            EndpointInfo::new(
                "get",
                "refdata.currencies.get",
                Some("ores.refdata.service"),
                BTreeMap::from([("schema".to_owned(), "v1".to_owned())]),
            ),
            EndpointInfo::new("watch", "refdata.watch", None, BTreeMap::new()),
        ],
    )
}

#[test]
fn info_json() {
    let info = info();
    let value = serde_json::to_value(&info).unwrap();
    assert_eq!(
        keys(&value),
        [
            "description",
            "endpoints",
            "id",
            "metadata",
            "name",
            "type",
            "version"
        ]
    );
    assert_eq!(value["type"], INFO_RESPONSE_TYPE);
    assert_eq!(value["type"], "io.nats.micro.v1.info_response");
    assert_eq!(value["name"], "ores-refdata-service");
    assert_eq!(value["id"], "NUIDabc123");
    assert_eq!(value["version"], "1.2.3");
    assert_eq!(value["description"], "");
    assert_eq!(value["metadata"], json!({"region": "eu"}));
    assert_eq!(
        value["endpoints"],
        json!([
            {
                "name": "get",
                "subject": "refdata.currencies.get",
                "queue_group": "ores.refdata.service",
                "metadata": {"schema": "v1"}
            },
            {"name": "watch", "subject": "refdata.watch", "queue_group": "", "metadata": {}}
        ])
    );
    let back: InfoResponse = serde_json::from_value(value).unwrap();
    assert_eq!(back, info);
}

#[test]
fn info_reads_null_metadata_and_missing_description() {
    let value = json!({
        "type": INFO_RESPONSE_TYPE, "name": "n", "id": "i", "version": "1.0.0",
        "metadata": null,
        "endpoints": [{"name": "e", "subject": "s", "queue_group": "q", "metadata": null}]
    });
    let info: InfoResponse = serde_json::from_value(value).unwrap();
    assert!(info.identity.metadata.is_empty());
    assert_eq!(info.description, "");
    assert!(info.endpoints[0].metadata.is_empty());
}

fn started() -> SystemTime {
    // 2024-02-29T12:34:56.123456700Z
    UNIX_EPOCH + Duration::new(1_709_210_096, 123_456_700)
}

fn stats() -> StatsResponse {
    let counters = EndpointCounters::default();
    counters.record(Duration::from_nanos(100), None);
    counters.record(Duration::from_nanos(200), None);
    counters.record(Duration::from_nanos(201), Some("500:database unreachable"));
    let mut busy = counters.snapshot(
        "get",
        "refdata.currencies.get",
        Some("ores.refdata.service"),
    );
    busy.data = Some(json!({"cache_hits": 7}));
    let idle = EndpointCounters::default().snapshot("watch", "refdata.watch", None);
    StatsResponse::new(identity(), started(), vec![busy, idle])
}

#[test]
fn stats_json() {
    let stats = stats();
    let value = serde_json::to_value(&stats).unwrap();
    assert_eq!(
        keys(&value),
        [
            "endpoints",
            "id",
            "metadata",
            "name",
            "started",
            "type",
            "version"
        ]
    );
    assert_eq!(value["type"], STATS_RESPONSE_TYPE);
    assert_eq!(value["type"], "io.nats.micro.v1.stats_response");
    assert_eq!(value["name"], "ores-refdata-service");
    assert_eq!(value["id"], "NUIDabc123");
    assert_eq!(value["version"], "1.2.3");
    assert_eq!(value["metadata"], json!({}));
    assert_eq!(value["started"], "2024-02-29T12:34:56.1234567Z");

    let busy = &value["endpoints"][0];
    assert_eq!(
        keys(busy),
        [
            "average_processing_time",
            "data",
            "last_error",
            "name",
            "num_errors",
            "num_requests",
            "processing_time",
            "queue_group",
            "subject"
        ]
    );
    assert_eq!(busy["name"], "get");
    assert_eq!(busy["subject"], "refdata.currencies.get");
    assert_eq!(busy["queue_group"], "ores.refdata.service");
    assert_eq!(busy["num_requests"], 3);
    assert_eq!(busy["num_errors"], 1);
    assert_eq!(busy["last_error"], "500:database unreachable");
    assert_eq!(busy["data"], json!({"cache_hits": 7}));
    assert!(busy["processing_time"].is_u64());
    assert_eq!(busy["processing_time"], 501);
    // 501 / 3 = 167 truncated
    assert!(busy["average_processing_time"].is_u64());
    assert_eq!(busy["average_processing_time"], 167);

    let idle = &value["endpoints"][1];
    assert!(object(idle).get("data").is_none(), "data omitted when None");
    assert_eq!(idle["queue_group"], "");
    assert_eq!(idle["num_requests"], 0);
    assert_eq!(idle["num_errors"], 0);
    assert_eq!(idle["last_error"], "");
    assert_eq!(idle["processing_time"], 0);
    assert_eq!(idle["average_processing_time"], 0);

    let back: StatsResponse = serde_json::from_value(value).unwrap();
    assert_eq!(back, stats);
}

#[test]
fn started_format_and_parse() {
    let whole = UNIX_EPOCH + Duration::from_secs(1_709_210_096);
    assert_eq!(format_started(whole).unwrap(), "2024-02-29T12:34:56Z");
    assert_eq!(
        format_started(whole + Duration::from_nanos(1)).unwrap(),
        "2024-02-29T12:34:56.000000001Z"
    );
    assert_eq!(
        format_started(whole + Duration::from_millis(500)).unwrap(),
        "2024-02-29T12:34:56.5Z"
    );
    assert_eq!(parse_started("2024-02-29T12:34:56Z").unwrap(), whole);
    assert_eq!(
        parse_started("2024-02-29T12:34:56.1234567Z").unwrap(),
        started()
    );
    assert_eq!(
        parse_started("2024-02-29T14:34:56.5+02:00").unwrap(),
        whole + Duration::from_millis(500)
    );
    // Digits past the nanosecond are dropped.
    assert_eq!(
        parse_started("2024-02-29T12:34:56.0000000019Z").unwrap(),
        whole + Duration::from_nanos(1)
    );
    for bad in [
        "2024-02-29T12:34:56",
        "2024-02-29T12:34:56.Z",
        "2024-02-30T12:34:56Z",
        "2024-02-29 12:34:56Z",
        "2024-02-29T12:34:56+0200",
        "yesterday",
    ] {
        assert!(parse_started(bad).is_err(), "{bad} should be refused");
    }
    let now = SystemTime::now();
    assert_eq!(parse_started(&format_started(now).unwrap()).unwrap(), now);
}

#[test]
fn stats_reads_go_style_document() {
    // As Go's micro writes it: data null, started with a fraction.
    let value = json!({
        "type": STATS_RESPONSE_TYPE, "name": "n", "id": "i", "version": "1.0.0",
        "metadata": null, "started": "2024-02-29T12:34:56.1234567Z",
        "endpoints": [{
            "name": "e", "subject": "s", "queue_group": "q", "num_requests": 2,
            "num_errors": 0, "last_error": "", "data": null,
            "processing_time": 10, "average_processing_time": 5
        }]
    });
    let stats: StatsResponse = serde_json::from_value(value).unwrap();
    assert_eq!(stats.started, started());
    assert_eq!(stats.endpoints[0].data, None);
    assert_eq!(
        stats.endpoints[0].average_processing_time,
        Duration::from_nanos(5)
    );
}

// ---------------------------------------------------------------- async-nats reads ours

#[test]
fn async_nats_reads_our_ping() {
    let json = serde_json::to_vec(&PingResponse::new(identity_with_metadata())).unwrap();
    let theirs: async_nats::service::PingResponse = serde_json::from_slice(&json).unwrap();
    assert_eq!(theirs.kind, PING_RESPONSE_TYPE);
    assert_eq!(theirs.name, "ores-refdata-service");
    assert_eq!(theirs.id, "NUIDabc123");
    assert_eq!(theirs.version, "1.2.3");
    assert_eq!(
        theirs.metadata.get("region").map(String::as_str),
        Some("eu")
    );
}

#[test]
fn async_nats_reads_our_info() {
    let ours = info();
    let json = serde_json::to_vec(&ours).unwrap();
    let theirs: async_nats::service::Info = serde_json::from_slice(&json).unwrap();
    assert_eq!(theirs.kind, INFO_RESPONSE_TYPE);
    assert_eq!(theirs.name, ours.identity.name);
    assert_eq!(theirs.id, ours.identity.id);
    assert_eq!(theirs.version, ours.identity.version);
    assert_eq!(theirs.description, "");
    assert_eq!(theirs.metadata.len(), 1);
    assert_eq!(theirs.endpoints.len(), 2);
    assert_eq!(theirs.endpoints[0].name, "get");
    assert_eq!(theirs.endpoints[0].subject, "refdata.currencies.get");
    assert_eq!(theirs.endpoints[0].queue_group, "ores.refdata.service");
    assert_eq!(
        theirs.endpoints[0]
            .metadata
            .get("schema")
            .map(String::as_str),
        Some("v1")
    );
    assert_eq!(theirs.endpoints[1].queue_group, "");
    assert!(theirs.endpoints[1].metadata.is_empty());

    // And we read theirs.
    let back: InfoResponse = serde_json::from_slice(&serde_json::to_vec(&theirs).unwrap()).unwrap();
    assert_eq!(back.endpoints, ours.endpoints);
}

#[test]
fn async_nats_reads_our_stats() {
    let ours = stats();
    let json = serde_json::to_vec(&ours).unwrap();
    let theirs: async_nats::service::Stats = serde_json::from_slice(&json).unwrap();
    assert_eq!(theirs.kind, STATS_RESPONSE_TYPE);
    assert_eq!(theirs.name, "ores-refdata-service");
    assert_eq!(theirs.id, "NUIDabc123");
    assert_eq!(theirs.version, "1.2.3");
    assert_eq!(theirs.started.unix_timestamp(), 1_709_210_096);
    assert_eq!(theirs.started.nanosecond(), 123_456_700);
    assert_eq!(theirs.endpoints.len(), 2);

    let busy: &async_nats::service::endpoint::Stats = &theirs.endpoints[0];
    assert_eq!(busy.name, "get");
    assert_eq!(busy.subject, "refdata.currencies.get");
    assert_eq!(busy.queue_group, "ores.refdata.service");
    assert_eq!(busy.requests, 3);
    assert_eq!(busy.errors, 1);
    assert_eq!(busy.processing_time, Duration::from_nanos(501));
    assert_eq!(busy.average_processing_time, Duration::from_nanos(167));
    let last_error = busy.last_error.as_ref().expect("a last error");
    assert_eq!(last_error.code, 500);
    assert_eq!(last_error.status, "database unreachable");
    assert_eq!(busy.data, Some(json!({"cache_hits": 7})));

    let idle = &theirs.endpoints[1];
    assert_eq!(idle.queue_group, "");
    assert!(idle.last_error.is_none());
    assert_eq!(idle.data, None);

    // And we read theirs (their service-level STATS carries no metadata).
    let back: StatsResponse =
        serde_json::from_slice(&serde_json::to_vec(&theirs).unwrap()).unwrap();
    assert_eq!(back.started, ours.started);
    assert_eq!(back.endpoints, ours.endpoints);
}

// ---------------------------------------------------------------- the accumulator

#[test]
fn counters_sum_across_threads() {
    const THREADS: u64 = 8;
    const PER_THREAD: u64 = 1_000;
    let counters = Arc::new(EndpointCounters::default());
    let handles: Vec<_> = (0..THREADS)
        .map(|t| {
            let counters = Arc::clone(&counters);
            std::thread::spawn(move || {
                for i in 0..PER_THREAD {
                    let error = (i % 10 == 0).then(|| format!("500:thread {t}"));
                    counters.record(Duration::from_nanos(t + 1), error.as_deref());
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    assert_eq!(counters.num_requests(), THREADS * PER_THREAD);
    assert_eq!(counters.num_errors(), THREADS * PER_THREAD / 10);
    let stats = counters.snapshot("e", "s", Some("q"));
    assert_eq!(stats.num_requests, THREADS * PER_THREAD);
    assert_eq!(stats.num_errors, THREADS * PER_THREAD / 10);
    // Σ_t (t + 1) · PER_THREAD = 36 000 ns; average 36 000 / 8 000 = 4.5 → 4.
    assert_eq!(stats.processing_time, Duration::from_nanos(36_000));
    assert_eq!(stats.average_processing_time, Duration::from_nanos(4));
    assert!(stats.last_error.starts_with("500:thread "));
    assert_eq!(stats.queue_group, "q");
}

#[test]
fn counters_reset() {
    let counters = EndpointCounters::default();
    counters.record(Duration::from_micros(3), Some("400:bad"));
    counters.record(Duration::from_micros(4), None);
    assert_eq!(counters.num_requests(), 2);
    assert_eq!(counters.num_errors(), 1);
    counters.reset();
    assert_eq!(counters.num_requests(), 0);
    assert_eq!(counters.num_errors(), 0);
    let stats = counters.snapshot("e", "s", None);
    assert_eq!(
        stats,
        EndpointStats {
            name: "e".to_owned(),
            subject: "s".to_owned(),
            queue_group: String::new(),
            num_requests: 0,
            num_errors: 0,
            last_error: String::new(),
            data: None,
            processing_time: Duration::ZERO,
            average_processing_time: Duration::ZERO,
        }
    );
    counters.record(Duration::from_nanos(7), None);
    assert_eq!(
        counters.snapshot("e", "s", None).average_processing_time,
        Duration::from_nanos(7)
    );
}

#[test]
fn last_error_keeps_the_latest() {
    let counters = EndpointCounters::default();
    counters.record(Duration::ZERO, Some("500:first"));
    counters.record(Duration::ZERO, None);
    assert_eq!(counters.snapshot("e", "s", None).last_error, "500:first");
    counters.record(Duration::ZERO, Some("503:second"));
    assert_eq!(counters.snapshot("e", "s", None).last_error, "503:second");
}
