//! Request headers, trace context and error codes.
#![cfg(feature = "nats")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use async_nats::HeaderMap;
use ores_actors::nats::headers::{
    AUTHORIZATION, CORRELATION_ID, DELEGATED_AUTHORIZATION, ERROR, TRACEPARENT, TRACESTATE,
    WORKSPACE_RESOLUTION,
};
use ores_actors::nats::{ErrorCode, HeaderError, RequestHeaders, Token, TraceParent};

const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn full() -> RequestHeaders {
    RequestHeaders {
        correlation_id: "corr-1".into(),
        session_id: Some("sess-1".into()),
        workspace_id: Some("ws-1".into()),
        workspace_resolution: vec!["ws-1".into(), "ws-parent".into(), "ws-root".into()],
        tenant_id: Some("tenant-1".into()),
        workflow_step_id: Some("step-1".into()),
        workflow_instance_id: Some("wf-1".into()),
        bearer_token: Some(Token::new("bearer.jwt.sig")),
        delegated_token: Some(Token::new("delegated.jwt.sig")),
        traceparent: Some(TP.parse().unwrap()),
        tracestate: Some("vendor=1".into()),
    }
}

#[test]
fn round_trip() {
    let h = full();
    let map = h.to_header_map();
    assert_eq!(
        map.get(AUTHORIZATION).unwrap().as_str(),
        "Bearer bearer.jwt.sig"
    );
    assert_eq!(
        map.get(DELEGATED_AUTHORIZATION).unwrap().as_str(),
        "Bearer delegated.jwt.sig"
    );
    assert_eq!(
        map.get(WORKSPACE_RESOLUTION).unwrap().as_str(),
        "ws-1,ws-parent,ws-root"
    );
    assert_eq!(map.get(TRACEPARENT).unwrap().as_str(), TP);
    assert_eq!(RequestHeaders::from_header_map(&map).unwrap(), h);
}

#[test]
fn into_header_map_moves_the_same_headers() {
    let by_ref = full().to_header_map();
    let moved = full().into_header_map();
    assert_eq!(moved, by_ref);
    assert_eq!(RequestHeaders::from_header_map(&moved).unwrap(), full());
    // Every field written, once.
    assert_eq!(moved.len(), 11);
}

#[test]
fn workspace_resolution_is_a_comma_list() {
    let mut map = HeaderMap::new();
    map.insert(WORKSPACE_RESOLUTION, " a, b ,,c ");
    let h = RequestHeaders::from_header_map(&map).unwrap();
    assert_eq!(h.workspace_resolution, ["a", "b", "c"]);
}

fn uuid_version(id: &str) -> u8 {
    // xxxxxxxx-xxxx-Vxxx-...
    assert_eq!(id.len(), 36, "{id}");
    id.as_bytes()[14] - b'0'
}

#[test]
fn correlation_id_is_propagated_or_generated() {
    let mut map = HeaderMap::new();
    map.insert(CORRELATION_ID, "abc-123");
    assert_eq!(
        RequestHeaders::from_header_map(&map)
            .unwrap()
            .correlation_id,
        "abc-123"
    );

    let generated = RequestHeaders::from_header_map(&HeaderMap::new()).unwrap();
    assert_eq!(uuid_version(&generated.correlation_id), 7);

    let mut empty = HeaderMap::new();
    empty.insert(CORRELATION_ID, "");
    let generated = RequestHeaders::from_header_map(&empty).unwrap();
    assert_eq!(uuid_version(&generated.correlation_id), 7);

    let a = RequestHeaders::new();
    let b = RequestHeaders::new();
    assert_eq!(uuid_version(&a.correlation_id), 7);
    assert_ne!(a.correlation_id, b.correlation_id);
}

#[test]
fn delegated_token_wins() {
    let mut h = RequestHeaders::new();
    assert!(h.effective_token().is_none());
    h.bearer_token = Some(Token::new("b"));
    assert_eq!(h.effective_token().unwrap().expose(), "b");
    h.delegated_token = Some(Token::new("d"));
    assert_eq!(h.effective_token().unwrap().expose(), "d");

    // A bare delegated token is accepted too.
    let mut map = HeaderMap::new();
    map.insert(DELEGATED_AUTHORIZATION, "bare.jwt");
    let h = RequestHeaders::from_header_map(&map).unwrap();
    assert_eq!(h.effective_token().unwrap().expose(), "bare.jwt");
}

#[test]
fn authorization_errors_never_show_the_token() {
    let read = |value: &str| {
        let mut map = HeaderMap::new();
        map.insert(AUTHORIZATION, value);
        RequestHeaders::from_header_map(&map)
    };
    let err = read("Basic c2VjcmV0").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unsupported authorization scheme `Basic` in header `Authorization`: expected `Bearer <token>`"
    );
    let err = read("secret.jwt").unwrap_err();
    assert_eq!(
        err,
        HeaderError::MissingScheme {
            header: AUTHORIZATION
        }
    );
    assert_eq!(
        err.to_string(),
        "missing scheme in header `Authorization`: expected `Bearer <token>`"
    );
    assert_eq!(
        read("Bearer ").unwrap_err().to_string(),
        "empty token in header `Authorization`: expected `Bearer <token>`"
    );
    assert_eq!(
        read("bearer tok").unwrap().bearer_token.unwrap().expose(),
        "tok"
    );
}

#[test]
fn debug_redacts_tokens() {
    let debug = format!("{:?}", full());
    assert!(!debug.contains("bearer.jwt.sig"), "{debug}");
    assert!(!debug.contains("delegated.jwt.sig"), "{debug}");
    assert!(debug.contains("Token(<redacted>)"), "{debug}");
    assert!(debug.contains("corr-1"), "{debug}");
}

#[test]
fn traceparent_parses_and_formats() {
    let tp: TraceParent = TP.parse().unwrap();
    assert_eq!(tp.to_string(), TP);
    assert_eq!(tp.trace_id()[0], 0x4b);
    assert_eq!(tp.parent_id()[7], 0xb7);
    assert!(tp.sampled());
    let unsampled: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
        .parse()
        .unwrap();
    assert!(!unsampled.sampled());
}

#[test]
fn traceparent_errors_are_pinned() {
    let err = |s: &str| s.parse::<TraceParent>().unwrap_err().to_string();
    let shape = "expected `00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>`";
    for bad in [
        "",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
    ] {
        assert_eq!(err(bad), format!("invalid traceparent `{bad}`: {shape}"));
    }
    assert_eq!(
        err("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
        "invalid traceparent `01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01`: only version `00` is supported"
    );
    assert_eq!(
        err("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"),
        "invalid traceparent `00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01`: the trace id is not lowercase hex"
    );
    assert_eq!(
        err("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bx-01"),
        "invalid traceparent `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bx-01`: the parent id is not lowercase hex"
    );
    assert_eq!(
        err("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz"),
        "invalid traceparent `00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-zz`: the flags field is not lowercase hex"
    );
    assert_eq!(
        err("00-00000000000000000000000000000000-00f067aa0ba902b7-01"),
        "invalid traceparent `00-00000000000000000000000000000000-00f067aa0ba902b7-01`: the trace id is all zeros"
    );
    assert_eq!(
        err("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01"),
        "invalid traceparent `00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01`: the parent id is all zeros"
    );
}

#[test]
fn child_spans_continue_the_trace() {
    let parent: TraceParent = TP.parse().unwrap();
    let a = parent.child();
    let b = parent.child();
    assert_eq!(a.trace_id(), parent.trace_id());
    assert_eq!(a.flags(), parent.flags());
    assert_ne!(a.parent_id(), parent.parent_id());
    assert_ne!(a.parent_id(), b.parent_id());
    assert_ne!(a.parent_id(), [0; 8]);
    // It formats to something that parses back.
    assert_eq!(a.to_string().parse::<TraceParent>().unwrap(), a);

    let root = TraceParent::new_root();
    assert!(root.sampled());
    assert_ne!(root.trace_id(), TraceParent::new_root().trace_id());

    // A downstream call keeps the correlation id and continues the trace.
    let incoming = full();
    let down = incoming.for_downstream();
    assert_eq!(down.correlation_id, incoming.correlation_id);
    let (tin, tdown) = (incoming.traceparent.unwrap(), down.traceparent.unwrap());
    assert_eq!(tdown.trace_id(), tin.trace_id());
    assert_ne!(tdown.parent_id(), tin.parent_id());
    assert!(RequestHeaders::new().for_downstream().traceparent.is_some());
}

#[test]
fn invalid_traceparent_restarts_the_trace() {
    let mut map = HeaderMap::new();
    map.insert(TRACEPARENT, "garbage");
    map.insert(TRACESTATE, "vendor=1");
    let h = RequestHeaders::from_header_map(&map).unwrap();
    assert_eq!(h.traceparent, None);
    assert_eq!(h.tracestate, None);
}

#[test]
fn error_codes() {
    for code in ErrorCode::ALL {
        assert_eq!(code.as_str().parse::<ErrorCode>().unwrap(), code);
        assert_eq!(serde_json::to_string(&code).unwrap(), format!("\"{code}\""));
        let mut map = HeaderMap::new();
        code.write_to(&mut map);
        assert_eq!(ErrorCode::from_header_map(&map).unwrap(), Some(code));
    }
    assert_eq!(
        ErrorCode::ALL.map(ErrorCode::as_str),
        [
            "unauthorized",
            "forbidden",
            "bad_request",
            "token_expired",
            "max_session_exceeded"
        ]
    );
    assert_eq!(ErrorCode::from_header_map(&HeaderMap::new()).unwrap(), None);
    let mut map = HeaderMap::new();
    map.insert(ERROR, "teapot");
    assert_eq!(
        ErrorCode::from_header_map(&map).unwrap_err().to_string(),
        "unknown error code `teapot` in header `X-Error`: expected one of `unauthorized`, `forbidden`, `bad_request`, `token_expired`, `max_session_exceeded`"
    );
}

#[test]
fn public_types_are_send_and_sync() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<RequestHeaders>();
    assert_send_sync::<TraceParent>();
    assert_send_sync::<ErrorCode>();
    assert_send_sync::<HeaderError>();
    assert_send_sync::<ores_actors::nats::Codec>();
    assert_send_sync::<ores_actors::nats::Encoded>();
    assert_send_sync::<ores_actors::nats::CodecError>();
    assert_send_sync::<ores_actors::nats::Subject>();
    assert_send_sync::<ores_actors::nats::SubjectPattern>();
    assert_send_sync::<ores_actors::nats::SubjectPrefix>();
    assert_send_sync::<ores_actors::nats::SubjectError>();
    assert_send_sync::<ores_actors::nats::OreTimestamp>();
    assert_send_sync::<ores_actors::nats::TimestampError>();
}
