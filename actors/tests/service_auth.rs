#![cfg(feature = "service")]
#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `service::auth`: bearer-token verification and the permission check.

use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode, get_current_timestamp};
use ores_actors::nats::{ErrorCode, RequestHeaders, Token};
use ores_actors::service::ServiceError;
use ores_actors::service::auth::{AuthSetupError, BearerAuth, Claims, Principal, grants};

const PRIVATE: &[u8] = include_bytes!("fixtures/test_only_rsa_private.pem");
const PUBLIC: &[u8] = include_bytes!("fixtures/test_only_rsa_public.pem");
const OTHER_PRIVATE: &[u8] = include_bytes!("fixtures/test_only_other_rsa_private.pem");
const OTHER_PUBLIC: &[u8] = include_bytes!("fixtures/test_only_other_rsa_public.pem");

const READ: &str = "refdata::currencies:read";

fn claims(permissions: &[&str]) -> Claims {
    Claims {
        sub: "alice".into(),
        exp: get_current_timestamp() + 600,
        iat: Some(get_current_timestamp()),
        iss: Some("ores.iam".into()),
        aud: vec![],
        tenant_id: Some("tenant-1".into()),
        party_id: Some("party-1".into()),
        roles: vec!["trader".into()],
        permissions: permissions.iter().map(|p| p.to_string()).collect(),
    }
}

fn rs256(claims: &Claims) -> String {
    sign_rs256(claims, PRIVATE)
}

fn sign_rs256(claims: &Claims, private: &[u8]) -> String {
    let key = EncodingKey::from_rsa_pem(private).unwrap();
    encode(&Header::new(Algorithm::RS256), claims, &key).unwrap()
}

fn auth() -> BearerAuth {
    BearerAuth::rs256_pem(PUBLIC).unwrap()
}

fn bearer(token: &str) -> RequestHeaders {
    let mut headers = RequestHeaders::new();
    headers.bearer_token = Some(Token::new(token));
    headers
}

/// The error, checked not to leak the token.
fn fail(auth: &BearerAuth, headers: &RequestHeaders, required: Option<&str>) -> ServiceError {
    let err = auth.verify(headers, required).unwrap_err();
    for token in [&headers.bearer_token, &headers.delegated_token]
        .into_iter()
        .flatten()
    {
        let token = token.expose();
        // (Tokens of a few characters, like `..`, occur in any message.)
        if token.len() >= 8 {
            assert!(!err.message().contains(token), "token leaked: {err}");
        }
        // Not even its parts (header, payload or signature).
        for part in token.split('.').filter(|p| p.len() > 8) {
            assert!(!err.message().contains(part), "token part leaked: {err}");
        }
    }
    err
}

fn assert_unauthorized(err: &ServiceError) {
    assert_eq!(err.code(), 401, "{err}");
    assert_eq!(err.ore_code(), Some(ErrorCode::Unauthorized), "{err}");
}

#[test]
fn valid_token_with_the_permission() {
    let headers = bearer(&rs256(&claims(&[READ, "refdata::currencies:write"])));
    let who = auth().verify(&headers, Some(READ)).unwrap();
    assert_eq!(
        who,
        Principal {
            subject: "alice".into(),
            tenant_id: Some("tenant-1".into()),
            party_id: Some("party-1".into()),
            roles: vec!["trader".into()],
            permissions: vec![READ.into(), "refdata::currencies:write".into()],
            delegated: false,
        }
    );
    assert!(who.has_permission(READ));
    assert!(who.has_role("trader"));
    assert!(!who.has_role("admin"));
}

#[test]
fn required_none_needs_only_a_valid_token() {
    let headers = bearer(&rs256(&claims(&[])));
    let who = auth().verify(&headers, None).unwrap();
    assert!(who.permissions.is_empty());
}

#[test]
fn delegated_token_wins() {
    let mut delegated = claims(&[READ]);
    delegated.sub = "bob".into();

    // Valid delegated + bogus Authorization: passes, as the delegated subject.
    let mut headers = bearer("not.a.jwt");
    headers.delegated_token = Some(Token::new(rs256(&delegated)));
    let who = auth().verify(&headers, Some(READ)).unwrap();
    assert_eq!(who.subject, "bob");
    assert!(who.delegated);

    // Bogus delegated + valid Authorization: fails, and says which header.
    let mut headers = bearer(&rs256(&claims(&[READ])));
    headers.delegated_token = Some(Token::new("garbage"));
    let err = fail(&auth(), &headers, Some(READ));
    assert_unauthorized(&err);
    assert!(err.message().contains("X-Delegated-Authorization"), "{err}");

    // Delegated signed by another key: fails too, no fallback.
    let mut headers = bearer(&rs256(&claims(&[READ])));
    headers.delegated_token = Some(Token::new(sign_rs256(&delegated, OTHER_PRIVATE)));
    assert_unauthorized(&fail(&auth(), &headers, Some(READ)));
}

#[test]
fn missing_token() {
    let err = fail(&auth(), &RequestHeaders::new(), Some(READ));
    assert_unauthorized(&err);
    assert!(err.message().contains("no bearer token"), "{err}");
    // Also when nothing is required.
    assert_unauthorized(&fail(&auth(), &RequestHeaders::new(), None));
}

#[test]
fn malformed_tokens() {
    for token in ["garbage", "a.b", "a.b.c", "!!!.###.$$$", "..", ""] {
        let err = fail(&auth(), &bearer(token), None);
        assert_unauthorized(&err);
        assert!(err.message().contains("malformed"), "{token}: {err}");
        assert!(err.message().contains("`Authorization`"), "{err}");
    }
    // A well-formed header with a payload that is not JSON: the signature is checked first.
    let valid = rs256(&claims(&[READ]));
    let (head, _) = valid.split_once('.').unwrap();
    let err = fail(&auth(), &bearer(&format!("{head}.bm90IGpzb24.c2ln")), None);
    assert_unauthorized(&err);
}

#[test]
fn claims_of_the_wrong_shape() {
    // Signed properly, but without `sub`.
    #[derive(serde::Serialize)]
    struct NoSub {
        exp: u64,
    }
    let key = EncodingKey::from_rsa_pem(PRIVATE).unwrap();
    let token = encode(
        &Header::new(Algorithm::RS256),
        &NoSub {
            exp: get_current_timestamp() + 600,
        },
        &key,
    )
    .unwrap();
    let err = fail(&auth(), &bearer(&token), None);
    assert_unauthorized(&err);
    assert!(err.message().contains("`sub`"), "{err}");
}

#[test]
fn wrong_signature() {
    let token = sign_rs256(&claims(&[READ]), OTHER_PRIVATE);
    let err = fail(&auth(), &bearer(&token), Some(READ));
    assert_unauthorized(&err);
    assert!(err.message().contains("signature"), "{err}");

    // The other key's own verifier accepts it: the key pair is fine, only the key differs.
    BearerAuth::rs256_pem(OTHER_PUBLIC)
        .unwrap()
        .verify(&bearer(&token), Some(READ))
        .unwrap();

    // A tampered payload fails the signature too.
    let mut forged = claims(&["*"]);
    forged.sub = "mallory".into();
    let genuine = rs256(&claims(&[READ]));
    let forged_token = rs256(&forged);
    let parts: Vec<&str> = genuine.split('.').collect();
    let forged_parts: Vec<&str> = forged_token.split('.').collect();
    let spliced = format!("{}.{}.{}", parts[0], forged_parts[1], parts[2]);
    assert_unauthorized(&fail(&auth(), &bearer(&spliced), None));
}

#[test]
fn algorithm_is_not_the_tokens_choice() {
    // An HS256 token (e.g. signed with the public key as the secret) is refused by RS256.
    let key = EncodingKey::from_secret(PUBLIC).unwrap();
    let token = encode(&Header::new(Algorithm::HS256), &claims(&["*"]), &key).unwrap();
    let err = fail(&auth(), &bearer(&token), None);
    assert_unauthorized(&err);
    assert!(err.message().contains("HS256"), "{err}");
    assert!(err.message().contains("only RS256"), "{err}");
}

#[test]
fn expired_token() {
    let mut expired = claims(&[READ]);
    expired.exp = get_current_timestamp() - 3600;
    let err = fail(&auth(), &bearer(&rs256(&expired)), Some(READ));
    assert_eq!(err.code(), 401);
    assert_eq!(err.ore_code(), Some(ErrorCode::TokenExpired));
    assert_eq!(err.ore_code().unwrap().as_str(), "token_expired");
    assert!(err.message().contains("expired"), "{err}");

    // Within the leeway it passes; past it, it does not.
    let mut just = claims(&[READ]);
    just.exp = get_current_timestamp() - 2;
    let token = rs256(&just);
    auth().verify(&bearer(&token), Some(READ)).unwrap();
    let strict = auth().leeway(Duration::ZERO);
    assert_eq!(
        fail(&strict, &bearer(&token), Some(READ)).ore_code(),
        Some(ErrorCode::TokenExpired)
    );
}

#[test]
fn permission_missing_is_forbidden() {
    let headers = bearer(&rs256(&claims(&["refdata::currencies:write"])));
    let err = fail(&auth(), &headers, Some(READ));
    assert_eq!(err.code(), 403);
    assert_eq!(err.ore_code(), Some(ErrorCode::Forbidden));
    assert!(err.message().contains(READ), "{err}");
}

#[test]
fn empty_permissions_grant_nothing() {
    let headers = bearer(&rs256(&claims(&[])));
    let err = fail(&auth(), &headers, Some(READ));
    assert_eq!(err.code(), 403);
    assert_eq!(err.ore_code(), Some(ErrorCode::Forbidden));
    assert!(err.message().contains("no permissions"), "{err}");
}

#[test]
fn wildcard_grants() {
    let all = bearer(&rs256(&claims(&["*"])));
    auth().verify(&all, Some(READ)).unwrap();
    auth().verify(&all, Some("iam::accounts:write")).unwrap();

    let refdata = bearer(&rs256(&claims(&["refdata::*"])));
    auth().verify(&refdata, Some(READ)).unwrap();
    auth()
        .verify(&refdata, Some("refdata::books:write"))
        .unwrap();
    assert_eq!(
        fail(&auth(), &refdata, Some("iam::accounts:write")).code(),
        403
    );
    assert_eq!(
        fail(&auth(), &refdata, Some("refdatax::currencies:read")).code(),
        403
    );
}

fn list(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

#[test]
fn grants_edge_cases() {
    // Exact, case-sensitive.
    assert!(grants(&list(&[READ]), READ));
    assert!(!grants(&list(&["Refdata::currencies:read"]), READ));
    assert!(!grants(&list(&["refdata::currencies:read "]), READ));
    // `*` grants everything; `*` required is granted only by `*`.
    assert!(grants(&list(&["*"]), "anything"));
    assert!(grants(&list(&["*"]), "*"));
    assert!(!grants(&list(&["refdata::*"]), "*"));
    // component::* : the part before the first `::`, whole.
    assert!(grants(&list(&["refdata::*"]), READ));
    assert!(grants(&list(&["refdata::*"]), "refdata::a::b:c"));
    assert!(!grants(&list(&["refdata::*"]), "refdatax::currencies:read"));
    assert!(!grants(&list(&["refdata::*"]), "xrefdata::currencies:read"));
    assert!(!grants(&list(&["refdata::*"]), "refdata"));
    assert!(!grants(&list(&["refdata::*"]), "refdata::"));
    assert!(!grants(&list(&["refdata::*"]), "refdata:currencies:read"));
    assert!(!grants(&list(&["refdata::*"]), "iam::refdata::x"));
    // Not wildcards: only themselves.
    assert!(!grants(&list(&["::*"]), READ));
    assert!(!grants(
        &list(&["refdata::currencies::*"]),
        "refdata::currencies::read"
    ));
    assert!(grants(
        &list(&["refdata::currencies::*"]),
        "refdata::currencies::*"
    ));
    assert!(!grants(&list(&["refdata:*"]), READ));
    assert!(!grants(&list(&["refdata*"]), READ));
    assert!(!grants(&list(&["re*::*"]), READ));
    // Several granted: any one suffices. Empty grants nothing.
    assert!(grants(&list(&["iam::*", READ]), READ));
    assert!(!grants(&[], READ));
    assert!(!grants(&[], "*"));
}

#[test]
fn hs256_for_development() {
    let auth = BearerAuth::hs256(b"a development secret");
    let key = EncodingKey::from_secret(b"a development secret").unwrap();
    let token = encode(&Header::default(), &claims(&[READ]), &key).unwrap();
    auth.verify(&bearer(&token), Some(READ)).unwrap();

    let other = EncodingKey::from_secret(b"another secret").unwrap();
    let token = encode(&Header::default(), &claims(&[READ]), &other).unwrap();
    assert_unauthorized(&fail(&auth, &bearer(&token), Some(READ)));

    // An RS256 token is refused by an HS256 verifier.
    assert_unauthorized(&fail(&auth, &bearer(&rs256(&claims(&[READ]))), None));

    assert_eq!(
        BearerAuth::try_hs256(b"").unwrap_err(),
        AuthSetupError::EmptySecret
    );
}

#[test]
fn issuer_and_audience() {
    let auth = auth().issuer("ores.iam");
    auth.verify(&bearer(&rs256(&claims(&[]))), None).unwrap();

    let mut other = claims(&[]);
    other.iss = Some("someone.else".into());
    let err = fail(&auth, &bearer(&rs256(&other)), None);
    assert_unauthorized(&err);
    assert!(err.message().contains("issuer"), "{err}");

    let mut none = claims(&[]);
    none.iss = None;
    let err = fail(&auth, &bearer(&rs256(&none)), None);
    assert!(err.message().contains("`iss`"), "{err}");

    // Audience: unchecked by default, even when the token has one.
    let mut with_aud = claims(&[]);
    with_aud.aud = vec!["ores.refdata".into(), "ores.trading".into()];
    let token = rs256(&with_aud);
    self::auth().verify(&bearer(&token), None).unwrap();
    // Checked when set: any of the token's audiences.
    self::auth()
        .audience("ores.trading")
        .verify(&bearer(&token), None)
        .unwrap();
    let err = fail(&self::auth().audience("ores.iam"), &bearer(&token), None);
    assert!(err.message().contains("audience"), "{err}");
    let err = fail(
        &self::auth().audience("ores.iam"),
        &bearer(&rs256(&claims(&[]))),
        None,
    );
    assert!(err.message().contains("`aud`"), "{err}");
}

#[test]
fn claims_round_trip_and_aud_as_string() {
    let json = r#"{"sub":"alice","exp":1,"aud":"ores.refdata","tenant_id":"t"}"#;
    let parsed: Claims = serde_json::from_str(json).unwrap();
    assert_eq!(parsed.aud, vec!["ores.refdata".to_string()]);
    assert!(parsed.roles.is_empty() && parsed.permissions.is_empty());
    assert_eq!(parsed.party_id, None);
    let back: Claims = serde_json::from_str(&serde_json::to_string(&parsed).unwrap()).unwrap();
    assert_eq!(back, parsed);
}

#[test]
fn bad_public_keys() {
    for (pem, says) in [
        (PRIVATE, "private key"),
        (&b"not a key"[..], "BEGIN PUBLIC KEY"),
        (
            &b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"[..],
            "invalid RS256 public key",
        ),
        (
            &b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"[..],
            "certificate",
        ),
    ] {
        let err = BearerAuth::rs256_pem(pem).unwrap_err();
        assert!(matches!(err, AuthSetupError::InvalidPublicKey { .. }));
        assert!(err.to_string().contains(says), "{err}");
        assert!(err.to_string().contains("openssl pkey -pubout"), "{err}");
    }
}

#[test]
fn debug_shows_no_key() {
    let debug = format!("{:?}", auth().issuer("ores.iam"));
    assert!(
        debug.contains("RS256") && debug.contains("ores.iam"),
        "{debug}"
    );
    assert!(debug.contains("<redacted>"), "{debug}");
}
