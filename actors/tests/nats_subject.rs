//! Subjects, patterns, the prefix and stream names: validation messages and prefixing rules.
#![cfg(feature = "nats")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ores_actors::nats::{
    Subject, SubjectError, SubjectPattern, SubjectPrefix, event_subject, stream_name,
};

fn subject_err(s: &str) -> String {
    Subject::new(s).unwrap_err().to_string()
}

fn pattern_err(s: &str) -> String {
    SubjectPattern::new(s).unwrap_err().to_string()
}

#[test]
fn literal_subject_errors_are_pinned() {
    assert_eq!(subject_err(""), "invalid subject ``: it is empty");
    assert_eq!(
        subject_err("ores..x"),
        "invalid subject `ores..x`: token 2 is empty"
    );
    assert_eq!(subject_err(".a"), "invalid subject `.a`: token 1 is empty");
    assert_eq!(subject_err("a."), "invalid subject `a.`: token 2 is empty");
    assert_eq!(
        subject_err("a.b c"),
        "invalid subject `a.b c`: token 2 `b c` contains whitespace or a control character ( )"
    );
    assert_eq!(
        subject_err("a\tb"),
        "invalid subject `a\\tb`: token 1 `a\\tb` contains whitespace or a control character (\\t)"
    );
    assert_eq!(
        subject_err("a.*"),
        "invalid subject `a.*`: token 2 `*` contains a wildcard; a literal subject may not"
    );
    assert_eq!(
        subject_err("a.b>"),
        "invalid subject `a.b>`: token 2 `b>` contains a wildcard; a literal subject may not"
    );
}

#[test]
fn pattern_errors_are_pinned() {
    assert_eq!(pattern_err(""), "invalid subject pattern ``: it is empty");
    assert_eq!(
        pattern_err("a..>"),
        "invalid subject pattern `a..>`: token 2 is empty"
    );
    assert_eq!(
        pattern_err("a.>.b"),
        "invalid subject pattern `a.>.b`: token 2 is `>`, which is only allowed as the last token"
    );
    assert_eq!(
        pattern_err("a.b*"),
        "invalid subject pattern `a.b*`: token 2 `b*` mixes a wildcard with other characters; `*` and `>` must be whole tokens"
    );
    assert_eq!(
        pattern_err("a.>>"),
        "invalid subject pattern `a.>>`: token 2 `>>` mixes a wildcard with other characters; `*` and `>` must be whole tokens"
    );
}

#[test]
fn valid_patterns() {
    for p in [
        "a",
        "*",
        ">",
        "a.*.c",
        "a.*.>",
        "*.*",
        "refdata.v1.currencies.list",
    ] {
        let pattern = SubjectPattern::new(p).unwrap();
        assert_eq!(pattern.as_str(), p);
    }
    assert!(SubjectPattern::new("a.*").unwrap().has_wildcards());
    assert!(!SubjectPattern::new("a.b").unwrap().has_wildcards());
}

#[test]
fn service_builder() {
    let s = Subject::service("refdata", "v1", "currencies", "list").unwrap();
    assert_eq!(s.as_str(), "refdata.v1.currencies.list");
    assert_eq!(
        s.tokens().collect::<Vec<_>>(),
        ["refdata", "v1", "currencies", "list"]
    );
    assert_eq!(
        Subject::service("refdata", "v1", "a.b", "list")
            .unwrap_err()
            .to_string(),
        "invalid subject `refdata.v1.a.b.list`: token 3 `a.b` contains `.`; each part must be a single token"
    );
    assert_eq!(
        Subject::service("iam", "v1", "", "login")
            .unwrap_err()
            .to_string(),
        "invalid subject `iam.v1..login`: token 3 is empty"
    );
    assert_eq!(
        Subject::service("iam", "v1", "auth", "*")
            .unwrap_err()
            .to_string(),
        "invalid subject `iam.v1.auth.*`: token 4 `*` contains a wildcard; a literal subject may not"
    );
}

#[test]
fn event_subjects() {
    assert_eq!(
        event_subject("refdata", "currency").unwrap().as_str(),
        "ores.refdata.currency_changed"
    );
    assert_eq!(
        event_subject("ref.data", "currency")
            .unwrap_err()
            .to_string(),
        "invalid subject `ores.ref.data.currency_changed`: token 2 `ref.data` contains `.`; each part must be a single token"
    );
}

#[test]
fn prefix_rules() {
    assert_eq!(
        SubjectPrefix::new("").unwrap_err().to_string(),
        "invalid subject prefix ``: it is empty"
    );
    assert_eq!(
        SubjectPrefix::new("ores.*.x").unwrap_err().to_string(),
        "invalid subject prefix `ores.*.x`: token 2 `*` contains a wildcard; a literal subject may not"
    );

    let prefix = SubjectPrefix::new("ores.dev.local1").unwrap();
    let rel = Subject::new("refdata.v1.currencies.list").unwrap();
    let full = prefix.apply(&rel);
    assert_eq!(full.as_str(), "ores.dev.local1.refdata.v1.currencies.list");
    assert_eq!(prefix.strip(&full), Some(rel));

    // Replies are never prefixed, and strip gives them back unchanged.
    for inbox in ["_INBOX.abc", "_INBOX_custom.x.y", "_INBOX"] {
        let s = Subject::new(inbox).unwrap();
        assert_eq!(prefix.apply(&s), s);
        assert_eq!(prefix.strip(&s), Some(s));
    }
    let inbox_pattern = SubjectPattern::new("_INBOX.abc.*").unwrap();
    assert_eq!(prefix.apply_pattern(&inbox_pattern), inbox_pattern);

    // Patterns are prefixed like subjects.
    let pattern = SubjectPattern::new("refdata.v1.*.>").unwrap();
    assert_eq!(
        prefix.apply_pattern(&pattern).as_str(),
        "ores.dev.local1.refdata.v1.*.>"
    );

    // Outside the prefix, or the prefix itself, or a longer token sharing its start.
    for other in [
        "ores.dev.local2.a",
        "ores.dev.local1",
        "ores.dev.local10.a",
        "x",
    ] {
        assert_eq!(prefix.strip(&Subject::new(other).unwrap()), None, "{other}");
    }
}

#[test]
fn stream_names() {
    let prefix = SubjectPrefix::new("ores.dev.local2").unwrap();
    assert_eq!(
        stream_name(&prefix, "workflow").unwrap(),
        "ores_dev_local2_workflow"
    );
    assert_eq!(
        stream_name(&prefix, "").unwrap_err().to_string(),
        "invalid stream name `ores_dev_local2_`: its suffix is empty"
    );
    assert_eq!(
        stream_name(&prefix, "a.b").unwrap_err().to_string(),
        "invalid stream name `ores_dev_local2_a.b`: it contains `.`; stream names may not contain whitespace, `.`, `*`, `>`, `/` or `\\`"
    );
    assert_eq!(
        stream_name(&prefix, "a b").unwrap_err().to_string(),
        "invalid stream name `ores_dev_local2_a b`: it contains ` `; stream names may not contain whitespace, `.`, `*`, `>`, `/` or `\\`"
    );
    for bad in ["*", ">", "a/b", "a\\b", "a\nb"] {
        assert!(stream_name(&prefix, bad).is_err(), "{bad:?}");
    }
    let slashed = SubjectPrefix::new("ores.dev/x").unwrap();
    assert!(stream_name(&slashed, "events").is_err());
}

#[test]
fn string_traits_and_serde() {
    let s: Subject = "a.b".parse().unwrap();
    assert_eq!(s.to_string(), "a.b");
    assert_eq!(AsRef::<str>::as_ref(&s), "a.b");
    assert_eq!(String::from(s.clone()), "a.b");
    let nats: async_nats::Subject = s.clone().into();
    assert_eq!(nats.as_str(), "a.b");
    assert_eq!(Subject::try_from(nats).unwrap(), s);

    assert_eq!(serde_json::to_string(&s).unwrap(), r#""a.b""#);
    assert_eq!(serde_json::from_str::<Subject>(r#""a.b""#).unwrap(), s);
    let err = serde_json::from_str::<Subject>(r#""a..b""#).unwrap_err();
    assert!(
        err.to_string()
            .starts_with("invalid subject `a..b`: token 2 is empty"),
        "{err}"
    );
    assert!(serde_json::from_str::<SubjectPrefix>(r#""""#).is_err());
    assert!(serde_json::from_str::<SubjectPattern>(r#""a.>""#).is_ok());

    let err: SubjectError = Subject::new("a..b").unwrap_err();
    assert_eq!(err.input(), "a..b");
}
