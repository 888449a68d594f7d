//! The wire codec: round trips, cross-format decoding by header, gzip, limits, typed errors;
//! and ORE timestamps.
#![cfg(feature = "nats")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_nats::HeaderMap;
use flate2::Compression;
use flate2::write::GzEncoder;
use ores_actors::nats::codec::{JSON_CONTENT_TYPE, MSGPACK_CONTENT_TYPE, parse_content_type};
use ores_actors::nats::headers::{CONTENT_ENCODING, CONTENT_TYPE};
use ores_actors::nats::{Codec, CodecError, OreTimestamp, ore_timestamp};
use ores_runtime::config::WireFormat;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Currency {
    iso_code: String,
    name: String,
    digits: u8,
    tags: Vec<String>,
}

fn usd() -> Currency {
    Currency {
        iso_code: "USD".into(),
        name: "US dollar".into(),
        digits: 2,
        tags: vec!["g10".into()],
    }
}

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Blob {
    text: String,
}

/// A compressible body of about `n` bytes.
fn compressible(n: usize) -> Blob {
    Blob {
        text: "currency ".repeat(n / 9),
    }
}

/// `n` pseudo-random bytes (xorshift), which gzip cannot shrink.
fn incompressible(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 56) as u8
        })
        .collect()
}

#[test]
fn round_trips_in_both_formats() {
    for format in [WireFormat::Msgpack, WireFormat::Json] {
        let codec = Codec::new(format);
        let encoded = codec.encode(&usd()).unwrap();
        assert_eq!(encoded.format, format);
        assert!(!encoded.compressed);
        let headers = encoded.headers();
        let got: Currency = codec.decode(Some(&headers), &encoded.body).unwrap();
        assert_eq!(got, usd());
        // Without headers, the configured format is assumed (ORE compatibility).
        let got: Currency = codec.decode(None, &encoded.body).unwrap();
        assert_eq!(got, usd());
    }
}

#[test]
fn msgpack_structs_are_maps() {
    let body = Codec::new(WireFormat::Msgpack).encode(&usd()).unwrap().body;
    // fixmap of 4 entries, first key "iso_code".
    assert_eq!(body[0], 0x84);
    assert_eq!(&body[1..10], b"\xa8iso_code");
}

#[test]
fn decodes_either_format_by_header() {
    let json = Codec::new(WireFormat::Json);
    let msgpack = Codec::new(WireFormat::Msgpack);
    let (h, b) = json.encode(&usd()).unwrap().into_parts();
    assert_eq!(h.get(CONTENT_TYPE).unwrap().as_str(), JSON_CONTENT_TYPE);
    assert_eq!(msgpack.decode::<Currency>(Some(&h), &b).unwrap(), usd());
    let (h, b) = msgpack.encode(&usd()).unwrap().into_parts();
    assert_eq!(h.get(CONTENT_TYPE).unwrap().as_str(), MSGPACK_CONTENT_TYPE);
    assert_eq!(json.decode::<Currency>(Some(&h), &b).unwrap(), usd());

    // Without the header a JSON receiver cannot read msgpack: a typed error.
    let err = json.decode::<Currency>(None, &b).unwrap_err();
    assert!(matches!(
        err,
        CodecError::Decode {
            format: WireFormat::Json,
            ..
        }
    ));

    // Content-type parameters and aliases.
    assert_eq!(
        parse_content_type("Application/JSON; charset=utf-8"),
        Some(WireFormat::Json)
    );
    assert_eq!(
        parse_content_type("application/x-msgpack"),
        Some(WireFormat::Msgpack)
    );
    assert_eq!(parse_content_type("text/plain"), None);
}

#[test]
fn gzip_threshold() {
    let codec = Codec::new(WireFormat::Json);

    // 3 KiB, compressible, under the threshold: not compressed.
    let small = codec.encode(&compressible(3 * 1024)).unwrap();
    assert!(!small.compressed);
    assert!(small.headers().get(CONTENT_ENCODING).is_none());

    // 8 KiB, compressible: compressed and marked.
    let big = codec.encode(&compressible(8 * 1024)).unwrap();
    assert!(big.compressed);
    assert!(big.body.len() < 8 * 1024 / 4, "{}", big.body.len());
    assert_eq!(
        big.headers().get(CONTENT_ENCODING).unwrap().as_str(),
        "gzip"
    );
    assert_eq!(&big.body[..2], b"\x1f\x8b");
    let got: Blob = codec.decode(Some(&big.headers()), &big.body).unwrap();
    assert_eq!(got, compressible(8 * 1024));

    // 8 KiB of random bytes (msgpack bin): gzip does not shrink it, so it is sent as is.
    let msgpack = Codec::new(WireFormat::Msgpack);
    let random = serde_bytes_like(incompressible(8 * 1024));
    let enc = msgpack.encode(&random).unwrap();
    assert!(enc.body.len() > 8 * 1024);
    assert!(!enc.compressed);
    assert!(enc.headers().get(CONTENT_ENCODING).is_none());
    let got: RandomBody = msgpack.decode(Some(&enc.headers()), &enc.body).unwrap();
    assert_eq!(got, random);
}

/// Random bytes as a msgpack `bin`, so that the body is as random as its content.
#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct RandomBody(#[serde(with = "bin")] Vec<u8>);

fn serde_bytes_like(bytes: Vec<u8>) -> RandomBody {
    RandomBody(bytes)
}

mod bin {
    use serde::{Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(v: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(v)
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Vec<u8>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("bytes")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Vec<u8>, E> {
                Ok(v.to_vec())
            }
        }
        d.deserialize_bytes(V)
    }
}

#[test]
fn threshold_is_configurable() {
    let codec = Codec::new(WireFormat::Json).with_compress_threshold(usize::MAX);
    assert!(!codec.encode(&compressible(8 * 1024)).unwrap().compressed);
    let codec = Codec::new(WireFormat::Json).with_compress_threshold(100);
    assert!(codec.encode(&compressible(1024)).unwrap().compressed);
}

fn gzip_headers(format: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, format);
    h.insert(CONTENT_ENCODING, "gzip");
    h
}

#[test]
fn gzip_bomb_hits_the_decoded_limit_quickly() {
    let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
    let zeros = vec![0u8; 1024 * 1024];
    for _ in 0..100 {
        enc.write_all(&zeros).unwrap();
    }
    let bomb = enc.finish().unwrap();
    assert!(bomb.len() < 1024 * 1024);

    let codec = Codec::new(WireFormat::Json).with_max_decoded_size(1024 * 1024);
    let started = Instant::now();
    let err = codec
        .decode::<Blob>(Some(&gzip_headers(JSON_CONTENT_TYPE)), &bomb)
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(err, CodecError::DecodedTooLarge { limit: 1024 * 1024 });
    assert_eq!(
        err.to_string(),
        "body exceeds the decoded-size limit of 1048576 bytes"
    );
}

#[test]
fn size_limits() {
    let codec = Codec::new(WireFormat::Json)
        .with_max_encoded_size(100)
        .with_compress_threshold(usize::MAX);
    let err = codec.encode(&compressible(1000)).unwrap_err();
    assert!(matches!(
        err,
        CodecError::EncodedTooLarge { limit: 100, .. }
    ));
    let err = codec.decode::<Blob>(None, &[b' '; 101]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "encoded body of 101 bytes exceeds the limit of 100 bytes"
    );

    let codec = Codec::new(WireFormat::Json).with_max_decoded_size(100);
    let err = codec.encode(&compressible(1000)).unwrap_err();
    assert_eq!(err, CodecError::DecodedTooLarge { limit: 100 });
    let err = codec.decode::<Blob>(None, &[b' '; 101]).unwrap_err();
    assert_eq!(err, CodecError::DecodedTooLarge { limit: 100 });
}

#[test]
fn corrupt_gzip_is_a_typed_error() {
    let codec = Codec::new(WireFormat::Json);
    let err = codec
        .decode::<Blob>(Some(&gzip_headers(JSON_CONTENT_TYPE)), b"not gzip at all")
        .unwrap_err();
    assert!(
        matches!(err, CodecError::CorruptGzip { len: 15, .. }),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .starts_with("cannot decompress a gzip body of 15 bytes: "),
        "{err}"
    );

    // A truncated stream too.
    let good = codec.encode(&compressible(8 * 1024)).unwrap();
    let cut = &good.body[..good.body.len() / 2];
    let err = codec
        .decode::<Blob>(Some(&good.headers()), cut)
        .unwrap_err();
    assert!(matches!(err, CodecError::CorruptGzip { .. }), "{err:?}");
}

#[test]
fn wrong_type_names_the_type_and_format() {
    let codec = Codec::new(WireFormat::Json);
    let err = codec
        .decode::<Currency>(None, br#"{"iso_code":"USD"}"#)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot decode a json body of 18 bytes into `nats_codec::Currency`: missing field `name` at line 1 column 18"
    );

    let codec = Codec::new(WireFormat::Msgpack);
    let body = codec.encode(&"just a string").unwrap().body;
    let err = codec.decode::<Currency>(None, &body).unwrap_err();
    match &err {
        CodecError::Decode {
            type_name,
            format,
            len,
            ..
        } => {
            assert_eq!(*type_name, "nats_codec::Currency");
            assert_eq!(*format, WireFormat::Msgpack);
            assert_eq!(*len, body.len());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string()
            .starts_with("cannot decode a msgpack body of 14 bytes into `nats_codec::Currency`: "),
        "{err}"
    );
}

#[test]
fn encode_errors_are_typed() {
    use std::collections::HashMap;
    // JSON map keys must be strings.
    let mut map = HashMap::new();
    map.insert(vec![1u8], 1);
    let err = Codec::new(WireFormat::Json).encode(&map).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot encode a `std::collections::hash::map::HashMap<alloc::vec::Vec<u8>, i32>` as json: key must be a string"
    );
}

#[test]
fn unknown_content_type_and_encoding() {
    let codec = Codec::default();
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, "text/plain");
    let err = codec.decode::<Blob>(Some(&h), b"x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown content type `text/plain` in header `Content-Type`: expected `application/msgpack` or `application/json`"
    );

    let mut h = HeaderMap::new();
    h.insert(CONTENT_ENCODING, "br");
    let err = codec.decode::<Blob>(Some(&h), b"x").unwrap_err();
    assert_eq!(
        err.to_string(),
        "unknown content encoding `br` in header `X-Content-Encoding`: expected `gzip` or `identity`"
    );
}

#[test]
fn defaults() {
    let codec = Codec::default();
    assert_eq!(codec.format(), WireFormat::Msgpack);
    assert_eq!(codec.compress_threshold(), 4096);
    assert_eq!(codec.max_decoded_size(), 64 * 1024 * 1024);
    assert_eq!(codec.max_encoded_size(), 64 * 1024 * 1024);
}

// ---- timestamps ----

#[derive(Debug, PartialEq, Serialize, Deserialize)]
struct Audit {
    #[serde(with = "ore_timestamp")]
    at: SystemTime,
    #[serde(default, with = "ore_timestamp::option")]
    until: Option<SystemTime>,
    stamp: OreTimestamp,
}

#[test]
fn timestamps_round_trip() {
    for (text, secs) in [
        ("1970-01-01T00:00:00Z", 0),
        ("2000-02-29T23:59:59Z", 951_868_799),
        ("2024-02-29T12:34:56Z", 1_709_210_096),
        ("9999-12-31T23:59:59Z", 253_402_300_799),
    ] {
        let ts: OreTimestamp = text.parse().unwrap();
        assert_eq!(ts.unix_seconds(), secs, "{text}");
        assert_eq!(ts.to_string(), text);
    }
    let audit = Audit {
        at: UNIX_EPOCH + Duration::from_secs(1_709_210_096),
        until: None,
        stamp: "2024-01-02T03:04:05Z".parse().unwrap(),
    };
    for format in [WireFormat::Json, WireFormat::Msgpack] {
        let codec = Codec::new(format);
        let enc = codec.encode(&audit).unwrap();
        assert_eq!(codec.decode::<Audit>(None, &enc.body).unwrap(), audit);
    }
    assert_eq!(
        serde_json::to_string(&audit).unwrap(),
        r#"{"at":"2024-02-29T12:34:56Z","until":null,"stamp":"2024-01-02T03:04:05Z"}"#
    );
    // Sub-second precision is dropped.
    let ts = OreTimestamp::try_from(UNIX_EPOCH + Duration::from_millis(1500)).unwrap();
    assert_eq!(ts.unix_seconds(), 1);
}

#[test]
fn timestamp_errors_are_pinned() {
    let err = |s: &str| s.parse::<OreTimestamp>().unwrap_err().to_string();
    let shape = "expected `YYYY-MM-DDTHH:MM:SSZ` (UTC, ending in `Z`)";
    for bad in [
        "2024-01-02T03:04:05",
        "2024-01-02T03:04:05+00:00",
        "2024-01-02T03:04:05.123Z",
        "2024-01-02 03:04:05Z",
        "2024-1-02T03:04:05Z",
        "",
    ] {
        assert_eq!(err(bad), format!("invalid timestamp `{bad}`: {shape}"));
    }
    assert_eq!(
        err("2023-02-29T00:00:00Z"),
        "invalid timestamp `2023-02-29T00:00:00Z`: day 29 is out of range 1..=28"
    );
    assert_eq!(
        err("2024-13-01T00:00:00Z"),
        "invalid timestamp `2024-13-01T00:00:00Z`: month 13 is out of range 1..=12"
    );
    assert_eq!(
        err("2024-01-01T24:00:00Z"),
        "invalid timestamp `2024-01-01T24:00:00Z`: hour 24 is out of range 0..=23"
    );
    assert_eq!(
        err("2024-01-01T00:60:00Z"),
        "invalid timestamp `2024-01-01T00:60:00Z`: minute 60 is out of range 0..=59"
    );
    assert_eq!(
        err("2024-01-01T00:00:60Z"),
        "invalid timestamp `2024-01-01T00:00:60Z`: second 60 is out of range 0..=59"
    );
    assert_eq!(
        err("1969-12-31T23:59:59Z"),
        "invalid timestamp `1969-12-31T23:59:59Z`: year 1969 is before 1970"
    );
    assert_eq!(
        OreTimestamp::from_unix_seconds(253_402_300_800)
            .unwrap_err()
            .to_string(),
        "invalid timestamp `253402300800 s after the epoch`: it is after 9999-12-31T23:59:59Z"
    );
    assert_eq!(
        OreTimestamp::try_from(UNIX_EPOCH - Duration::from_secs(5))
            .unwrap_err()
            .to_string(),
        "invalid timestamp `5 s before the epoch`: it is before 1970-01-01T00:00:00Z"
    );
    let json_err = serde_json::from_str::<Audit>(
        r#"{"at":"2024-01-02T03:04:05","stamp":"2024-01-02T03:04:05Z"}"#,
    )
    .unwrap_err();
    assert!(
        json_err
            .to_string()
            .starts_with(&format!("invalid timestamp `2024-01-02T03:04:05`: {shape}")),
        "{json_err}"
    );
}
