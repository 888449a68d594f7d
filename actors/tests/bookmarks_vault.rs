//! The bookmark vault: sealing secrets to their record and field, and the master-password
//! wrapping of the vault key.
#![cfg(feature = "connections")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use ores_actors::connections::vault::{self, KdfParams, Secret, VaultError, VaultKey, WrappedKey};

/// Cheap parameters so the tests do not spend their time in Argon2id.
const FAST: KdfParams = KdfParams {
    memory_kib: 64,
    iterations: 1,
    parallelism: 1,
};

fn pw(s: &str) -> Secret {
    Secret::from(s)
}

#[test]
fn seal_open_round_trip() {
    let key = VaultKey::generate().unwrap();
    for text in ["", "hunter2", "pässwörd ✓", &"x".repeat(10_000)] {
        let sealed = vault::seal(&key, "bm-1", "password", text.as_bytes()).unwrap();
        assert_eq!(sealed.len(), vault::NONCE_LEN + text.len() + vault::TAG_LEN);
        assert!(!sealed.windows(7).any(|w| w == b"hunter2"));
        let opened = vault::open(&key, "bm-1", "password", &sealed).unwrap();
        assert_eq!(opened.expose(), text);
    }
}

#[test]
fn sealing_twice_uses_fresh_nonces() {
    let key = VaultKey::generate().unwrap();
    let a = vault::seal(&key, "bm-1", "password", b"same").unwrap();
    let b = vault::seal(&key, "bm-1", "password", b"same").unwrap();
    assert_ne!(a, b);
}

#[test]
fn wrap_unwrap_round_trip() {
    let key = VaultKey::generate().unwrap();
    let sealed = vault::seal(&key, "bm-1", "token", b"abc").unwrap();
    let wrapped = vault::wrap(&key, &pw("master"), FAST).unwrap();
    assert_eq!(wrapped.params, FAST);

    let bytes = wrapped.to_bytes();
    let read = WrappedKey::from_bytes(&bytes).unwrap();
    assert_eq!(read, wrapped);

    let again = vault::unwrap(&read, &pw("master")).unwrap();
    assert_eq!(
        vault::open(&again, "bm-1", "token", &sealed)
            .unwrap()
            .expose(),
        "abc"
    );
}

#[test]
fn wrong_password_is_a_clear_error() {
    let key = VaultKey::generate().unwrap();
    let wrapped = vault::wrap(&key, &pw("master"), FAST).unwrap();
    let before = wrapped.clone();
    let err = vault::unwrap(&wrapped, &pw("Master")).unwrap_err();
    assert!(matches!(err, VaultError::WrongPassword), "{err:?}");
    assert_eq!(err.to_string(), "wrong master password");
    assert!(matches!(
        vault::unlock(&wrapped, &pw(""), KdfParams::POLICY),
        Err(VaultError::WrongPassword)
    ));
    // Nothing changed: the right password still opens it.
    assert_eq!(wrapped, before);
    vault::unwrap(&wrapped, &pw("master")).unwrap();
}

#[test]
fn altered_wrapped_key_does_not_open() {
    let key = VaultKey::generate().unwrap();
    let wrapped = vault::wrap(&key, &pw("master"), FAST).unwrap();

    let mut salt = wrapped.clone();
    salt.salt[0] ^= 1;
    assert!(matches!(
        vault::unwrap(&salt, &pw("master")),
        Err(VaultError::WrongPassword)
    ));

    let mut sealed = wrapped.clone();
    sealed.sealed[40] ^= 1;
    assert!(matches!(
        vault::unwrap(&sealed, &pw("master")),
        Err(VaultError::WrongPassword)
    ));

    let mut bytes = wrapped.to_bytes();
    bytes.pop();
    assert!(matches!(
        WrappedKey::from_bytes(&bytes),
        Err(VaultError::Malformed(_))
    ));
    assert!(matches!(
        WrappedKey::from_bytes(&[]),
        Err(VaultError::Malformed(_))
    ));
}

#[test]
fn tampered_byte_is_tampered_naming_the_record() {
    let key = VaultKey::generate().unwrap();
    let sealed = vault::seal(&key, "bm-7", "password", b"hunter2").unwrap();
    for i in [0, vault::NONCE_LEN, sealed.len() - 1] {
        let mut bad = sealed.clone();
        bad[i] ^= 0x80;
        match vault::open(&key, "bm-7", "password", &bad) {
            Err(VaultError::Tampered { record, field }) => {
                assert_eq!(record, "bm-7");
                assert_eq!(field, "password");
            }
            other => panic!("byte {i}: expected Tampered, got {other:?}"),
        }
    }
    let err = vault::open(&key, "bm-7", "password", &sealed[..10]).unwrap_err();
    assert!(err.to_string().contains("bm-7"), "{err}");
}

#[test]
fn ciphertext_swapped_between_records_or_fields_is_tampered() {
    let key = VaultKey::generate().unwrap();
    let a = vault::seal(&key, "bm-a", "password", b"alpha").unwrap();
    match vault::open(&key, "bm-b", "password", &a) {
        Err(VaultError::Tampered { record, .. }) => assert_eq!(record, "bm-b"),
        other => panic!("expected Tampered, got {other:?}"),
    }
    assert!(matches!(
        vault::open(&key, "bm-a", "token", &a),
        Err(VaultError::Tampered { .. })
    ));
    // The encoding is canonical: moving the boundary between record and field does not help.
    let ab = vault::seal(&key, "ab", "c", b"x").unwrap();
    assert!(matches!(
        vault::open(&key, "a", "bc", &ab),
        Err(VaultError::Tampered { .. })
    ));
    // Another key does not open it either.
    let other = VaultKey::generate().unwrap();
    assert!(matches!(
        vault::open(&other, "bm-a", "password", &a),
        Err(VaultError::Tampered { .. })
    ));
}

#[test]
fn non_text_plaintext_is_reported() {
    let key = VaultKey::generate().unwrap();
    let sealed = vault::seal(&key, "bm-1", "blob", &[0xff, 0xfe]).unwrap();
    assert!(matches!(
        vault::open(&key, "bm-1", "blob", &sealed),
        Err(VaultError::NotText { .. })
    ));
}

#[test]
fn params_below_policy_are_reported_and_raised_on_unlock() {
    let policy = KdfParams::POLICY;
    assert!(policy.memory_kib >= 19_456 && policy.iterations >= 2 && policy.parallelism == 1);
    assert!(!policy.is_below(&policy));
    assert!(FAST.is_below(&policy));
    assert!(
        KdfParams {
            iterations: 1,
            ..policy
        }
        .is_below(&policy)
    );
    assert!(
        KdfParams {
            memory_kib: 19_455,
            ..policy
        }
        .is_below(&policy)
    );
    assert!(
        !KdfParams {
            memory_kib: 65_536,
            iterations: 3,
            ..policy
        }
        .is_below(&policy)
    );

    // unlock rewraps a weak wrapping under the policy it is given (a small one here, for
    // speed), and leaves a good one alone.
    let stronger = KdfParams {
        memory_kib: 128,
        iterations: 2,
        parallelism: 1,
    };
    let key = VaultKey::generate().unwrap();
    let sealed = vault::seal(&key, "bm-1", "password", b"pw").unwrap();
    let weak = vault::wrap(&key, &pw("master"), FAST).unwrap();
    let unlocked = vault::unlock(&weak, &pw("master"), stronger).unwrap();
    let rewrapped = unlocked.rewrapped.expect("rewrapped");
    assert_eq!(rewrapped.params, stronger);
    assert_ne!(rewrapped.salt, weak.salt);
    let key2 = vault::unwrap(&rewrapped, &pw("master")).unwrap();
    assert_eq!(
        vault::open(&key2, "bm-1", "password", &sealed)
            .unwrap()
            .expose(),
        "pw"
    );
    assert!(
        vault::unlock(&rewrapped, &pw("master"), stronger)
            .unwrap()
            .rewrapped
            .is_none()
    );
}

#[test]
fn invalid_params_are_rejected() {
    let key = VaultKey::generate().unwrap();
    for params in [
        KdfParams {
            memory_kib: 64,
            iterations: 0,
            parallelism: 1,
        },
        KdfParams {
            memory_kib: 64,
            iterations: 1,
            parallelism: 0,
        },
        KdfParams {
            memory_kib: 4,
            iterations: 1,
            parallelism: 1,
        },
        KdfParams {
            memory_kib: u32::MAX,
            iterations: 1,
            parallelism: 1,
        },
    ] {
        assert!(
            matches!(
                vault::wrap(&key, &pw("m"), params),
                Err(VaultError::InvalidParams(_))
            ),
            "{params:?}"
        );
    }
}

#[test]
fn debug_and_display_show_no_secret() {
    let key = VaultKey::generate().unwrap();
    assert_eq!(format!("{key:?}"), "VaultKey(<redacted>)");
    let secret = pw("hunter2");
    assert_eq!(format!("{secret:?}"), "Secret(<redacted>)");
    assert_eq!(format!("{secret}"), "<redacted>");
    let sealed = vault::seal(&key, "bm-1", "password", b"hunter2").unwrap();
    let opened = vault::open(&key, "bm-1", "password", &sealed).unwrap();
    let shown = format!("{opened:?} {opened} {:?}", Ok::<_, VaultError>(&opened));
    assert!(!shown.contains("hunter2"), "{shown}");
    let unlocked = vault::unlock(
        &vault::wrap(&key, &pw("hunter2"), FAST).unwrap(),
        &pw("hunter2"),
        FAST,
    )
    .unwrap();
    assert!(!format!("{unlocked:?}").contains("hunter2"));
}

#[test]
fn wrap_with_policy_works() {
    let key = VaultKey::generate().unwrap();
    let wrapped = vault::wrap(&key, &pw("correct horse"), KdfParams::POLICY).unwrap();
    assert_eq!(wrapped.params, KdfParams::POLICY);
    let unlocked = vault::unlock(&wrapped, &pw("correct horse"), KdfParams::POLICY).unwrap();
    assert!(unlocked.rewrapped.is_none());
    assert!(matches!(
        vault::unwrap(&wrapped, &pw("wrong horse")),
        Err(VaultError::WrongPassword)
    ));
}
