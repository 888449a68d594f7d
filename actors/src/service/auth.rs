//! Bearer-token authentication: [`BearerAuth`] verifies the JWT of a request and checks a
//! permission, giving the [`Principal`] who is calling.
//!
//! This is the check ORE's service runner makes on every request (ORE's IAM issues RS256 tokens):
//!
//! 1. the token is taken from `X-Delegated-Authorization` when present, else from
//!    `Authorization` (both `Bearer <jwt>`); a delegated token *wins*: when it is present and
//!    invalid, the request fails even if `Authorization` holds a valid token;
//! 2. its signature, `exp` (and `nbf`, `iss`, `aud` when present or configured) are verified;
//! 3. the permission the endpoint requires, if any, must be granted by the token's
//!    `permissions` claim, following [`grants`]. An empty list grants nothing (ORE accepted
//!    it; that hole is closed here).
//!
//! Pure logic, no I/O: the service middleware calls [`BearerAuth::verify`] and attaches the
//! [`Principal`] to the request context. Failures are [`ServiceError`]s: 401 `unauthorized`,
//! 401 `token_expired`, 403 `forbidden`. Their messages say what is wrong, never the token.

use std::fmt;
use std::time::Duration;

use jsonwebtoken::errors::{Error as JwtError, ErrorKind};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Deserializer, Serialize};

use crate::nats::headers::{AUTHORIZATION, DELEGATED_AUTHORIZATION, RequestHeaders, Token};
use crate::service::ServiceError;

/// The clock skew [`BearerAuth`] tolerates by default on `exp` and `nbf`: 5 seconds.
///
/// Small on purpose: the services and the IAM that issues tokens run on synchronised hosts, and
/// every second of leeway is a second an expired token keeps working. Change it with
/// [`BearerAuth::leeway`].
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(5);

/// Verifies bearer tokens (JWTs) and checks permissions.
///
/// Build it once at service start-up with the IAM's key, then call [`verify`](Self::verify) per
/// request. Cheap to clone.
///
/// - [`rs256_pem`](Self::rs256_pem): production, the IAM's RSA public key in PEM;
/// - [`hs256`](Self::hs256): development and tests, a shared secret.
///
/// Only the algorithm of the constructor is accepted (a token whose header says another
/// algorithm is refused), so a token cannot pick how it is checked.
///
/// ```
/// use jsonwebtoken::{EncodingKey, Header, encode, get_current_timestamp};
/// use ores_actors::nats::{RequestHeaders, Token};
/// use ores_actors::service::auth::{BearerAuth, Claims};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let auth = BearerAuth::hs256(b"dev-secret").issuer("ores.iam");
///
/// // What the IAM would issue.
/// let claims = Claims {
///     sub: "alice".into(),
///     exp: get_current_timestamp() + 600,
///     iat: None,
///     iss: Some("ores.iam".into()),
///     aud: vec![],
///     tenant_id: Some("t1".into()),
///     party_id: None,
///     roles: vec!["trader".into()],
///     permissions: vec!["refdata::*".into()],
/// };
/// let jwt = encode(&Header::default(), &claims, &EncodingKey::from_secret(b"dev-secret")?)?;
///
/// let mut headers = RequestHeaders::new();
/// headers.bearer_token = Some(Token::new(jwt));
///
/// let who = auth.verify(&headers, Some("refdata::currencies:read"))?;
/// assert_eq!(who.subject, "alice");
/// assert_eq!(who.tenant_id.as_deref(), Some("t1"));
/// assert!(!who.delegated);
///
/// let denied = auth.verify(&headers, Some("iam::accounts:write")).unwrap_err();
/// assert_eq!(denied.code(), 403);
/// # Ok(())
/// # }
/// ```
#[derive(Clone)]
pub struct BearerAuth {
    key: DecodingKey,
    algorithm: Algorithm,
    issuer: Option<String>,
    audience: Option<String>,
    validation: Validation,
}

impl BearerAuth {
    /// Verifies RS256 tokens with an RSA public key in PEM: SPKI (`-----BEGIN PUBLIC KEY-----`,
    /// what `openssl pkey -pubout` writes) or PKCS#1 (`-----BEGIN RSA PUBLIC KEY-----`).
    ///
    /// # Errors
    ///
    /// [`AuthSetupError::InvalidPublicKey`] when the bytes are not an RSA public key in PEM,
    /// including when they are a private key or a certificate.
    pub fn rs256_pem(public_key_pem: &[u8]) -> Result<Self, AuthSetupError> {
        let text = String::from_utf8_lossy(public_key_pem);
        if text.contains("PRIVATE KEY-----") {
            return Err(AuthSetupError::InvalidPublicKey {
                reason: "this is a private key; give the public key (`openssl pkey -in key.pem \
                         -pubout`), and keep the private key with the issuer"
                    .into(),
            });
        }
        if text.contains("-----BEGIN CERTIFICATE-----") {
            return Err(AuthSetupError::InvalidPublicKey {
                reason: "this is a certificate; extract its public key (`openssl x509 -in \
                         cert.pem -pubkey -noout`)"
                    .into(),
            });
        }
        if !text.contains("-----BEGIN PUBLIC KEY-----")
            && !text.contains("-----BEGIN RSA PUBLIC KEY-----")
        {
            return Err(AuthSetupError::InvalidPublicKey {
                reason: "no `-----BEGIN PUBLIC KEY-----` or `-----BEGIN RSA PUBLIC KEY-----` \
                         block found"
                    .into(),
            });
        }
        let key = DecodingKey::from_rsa_pem(public_key_pem).map_err(|err| {
            AuthSetupError::InvalidPublicKey {
                reason: match err.kind() {
                    ErrorKind::InvalidKeyFormat => "the PEM block is not an RSA key".into(),
                    _ => err.to_string(),
                },
            }
        })?;
        Ok(Self::with_key(key, Algorithm::RS256))
    }

    /// Verifies HS256 tokens with a shared secret. For development and tests: every holder of
    /// the secret can issue tokens; production services use [`rs256_pem`](Self::rs256_pem).
    ///
    /// # Panics
    ///
    /// When `secret` is empty (an empty HMAC key would accept tokens anyone can sign). Use
    /// [`try_hs256`](Self::try_hs256) when the secret comes from configuration.
    pub fn hs256(secret: &[u8]) -> Self {
        match Self::try_hs256(secret) {
            Ok(auth) => auth,
            Err(err) => panic!("{err}"),
        }
    }

    /// [`hs256`](Self::hs256), checked.
    ///
    /// # Errors
    ///
    /// [`AuthSetupError::EmptySecret`] when `secret` is empty.
    pub fn try_hs256(secret: &[u8]) -> Result<Self, AuthSetupError> {
        let key = DecodingKey::from_secret(secret).map_err(|_| AuthSetupError::EmptySecret)?;
        Ok(Self::with_key(key, Algorithm::HS256))
    }

    fn with_key(key: DecodingKey, algorithm: Algorithm) -> Self {
        let mut auth = Self {
            key,
            algorithm,
            issuer: None,
            audience: None,
            validation: Validation::new(algorithm),
        };
        auth.validation.leeway = DEFAULT_LEEWAY.as_secs();
        auth.rebuild_validation();
        auth
    }

    /// Accepts only tokens whose `iss` claim is `issuer` (and refuses tokens without `iss`).
    /// By default the issuer is not checked.
    #[must_use]
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self.rebuild_validation();
        self
    }

    /// Accepts only tokens whose `aud` claim is or contains `audience` (and refuses tokens
    /// without `aud`). By default the audience is not checked, so tokens with any or no `aud`
    /// are accepted.
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self.rebuild_validation();
        self
    }

    /// The clock skew tolerated on `exp` and `nbf`, in whole seconds (a fraction is dropped).
    /// Default [`DEFAULT_LEEWAY`], 5 seconds.
    #[must_use]
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.validation.leeway = leeway.as_secs();
        self
    }

    fn rebuild_validation(&mut self) {
        let mut required = vec!["exp", "sub"];
        let validation = &mut self.validation;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        match &self.issuer {
            Some(issuer) => {
                validation.set_issuer(&[issuer]);
                required.push("iss");
            }
            None => validation.iss = None,
        }
        match &self.audience {
            Some(audience) => {
                validation.set_audience(&[audience]);
                validation.validate_aud = true;
                required.push("aud");
            }
            None => {
                validation.aud = None;
                validation.validate_aud = false;
            }
        }
        validation.set_required_spec_claims(&required);
    }

    /// Verifies the request's token and, when `required` is `Some`, that it grants that
    /// permission (see [`grants`]); `None` means the endpoint needs only a valid token.
    ///
    /// The token is `X-Delegated-Authorization` when present, else `Authorization`; a present
    /// delegated token is never passed over for `Authorization`, even when it is invalid.
    ///
    /// # Errors
    ///
    /// - [`ServiceError::unauthorized`] (401): no token; a token that is not a JWT, whose
    ///   signature does not verify, whose algorithm, issuer or audience is not the expected one,
    ///   that is not valid yet, or whose claims are not [`Claims`];
    /// - [`ServiceError::token_expired`] (401): the token's `exp` has passed (beyond the
    ///   [leeway](Self::leeway));
    /// - [`ServiceError::forbidden`] (403): the token does not grant `required`;
    /// - [`ServiceError::internal`] (500): the key cannot verify anything (a configuration
    ///   error, not the caller's).
    ///
    /// The messages name the header and what is wrong, never the token.
    pub fn verify(
        &self,
        headers: &RequestHeaders,
        required: Option<&str>,
    ) -> Result<Principal, ServiceError> {
        let (token, delegated) = match (&headers.delegated_token, &headers.bearer_token) {
            (Some(token), _) => (token, true),
            (None, Some(token)) => (token, false),
            (None, None) => {
                return Err(ServiceError::unauthorized(format!(
                    "no bearer token: send `{AUTHORIZATION}: Bearer <jwt>` (or \
                     `{DELEGATED_AUTHORIZATION}`)"
                )));
            }
        };
        let source = if delegated {
            DELEGATED_AUTHORIZATION
        } else {
            AUTHORIZATION
        };
        let claims = self.decode(token, source)?;
        if let Some(required) = required
            && !grants(&claims.permissions, required)
        {
            let why = if claims.permissions.is_empty() {
                "the token grants no permissions"
            } else {
                "not among the token's permissions"
            };
            return Err(ServiceError::forbidden(format!(
                "permission `{required}` required: {why}"
            )));
        }
        Ok(Principal {
            subject: claims.sub,
            tenant_id: claims.tenant_id,
            party_id: claims.party_id,
            roles: claims.roles,
            permissions: claims.permissions,
            delegated,
        })
    }

    fn decode(&self, token: &Token, source: &str) -> Result<Claims, ServiceError> {
        jsonwebtoken::decode::<Claims>(token.expose(), &self.key, &self.validation)
            .map(|data| data.claims)
            .map_err(|err| self.explain(&err, token, source))
    }

    /// The error for a token that failed: what is wrong, never the token itself.
    fn explain(&self, err: &JwtError, token: &Token, source: &str) -> ServiceError {
        let what = format!("the bearer token in `{source}`");
        let expected = self.expected_algorithm();
        match err.kind() {
            ErrorKind::ExpiredSignature => {
                ServiceError::token_expired(format!("{what} has expired; get a new token"))
            }
            ErrorKind::InvalidSignature => ServiceError::unauthorized(format!(
                "{what} has a bad signature: it was not signed by this service's issuer key"
            )),
            ErrorKind::InvalidAlgorithm => {
                let found = jsonwebtoken::decode_header(token.expose())
                    .map(|header| format!("{:?}", header.alg))
                    .unwrap_or_else(|_| "another algorithm".into());
                ServiceError::unauthorized(format!(
                    "{what} is signed with {found}; this service accepts only {expected}"
                ))
            }
            ErrorKind::ImmatureSignature => {
                ServiceError::unauthorized(format!("{what} is not valid yet (its `nbf` is ahead)"))
            }
            ErrorKind::InvalidIssuer => ServiceError::unauthorized(format!(
                "{what} has the wrong issuer (`iss`); expected `{}`",
                self.issuer.as_deref().unwrap_or_default()
            )),
            ErrorKind::InvalidAudience => ServiceError::unauthorized(format!(
                "{what} is not for this audience (`aud`); expected `{}`",
                self.audience.as_deref().unwrap_or_default()
            )),
            ErrorKind::InvalidSubject => {
                ServiceError::unauthorized(format!("{what} has the wrong subject (`sub`)"))
            }
            ErrorKind::MissingRequiredClaim(claim) => {
                ServiceError::unauthorized(format!("{what} has no `{claim}` claim"))
            }
            ErrorKind::InvalidClaimFormat(claim) => {
                ServiceError::unauthorized(format!("{what} has a malformed `{claim}` claim"))
            }
            ErrorKind::InvalidToken | ErrorKind::Base64(_) | ErrorKind::Utf8(_) => {
                ServiceError::unauthorized(format!(
                    "{what} is malformed: not a JWT (`header.payload.signature`, base64url)"
                ))
            }
            ErrorKind::Json(json) => ServiceError::unauthorized(format!(
                "{what} is malformed: its header or claims are not what this service expects \
                 ({})",
                json_reason(json)
            )),
            ErrorKind::InvalidRsaKey(_)
            | ErrorKind::InvalidKeyFormat
            | ErrorKind::MissingAlgorithm
            | ErrorKind::Provider(_) => ServiceError::internal(format!(
                "this service cannot verify {expected} tokens: its key is unusable ({err})"
            )),
            _ => ServiceError::unauthorized(format!("{what} cannot be verified ({err})")),
        }
    }

    fn expected_algorithm(&self) -> &'static str {
        match self.algorithm {
            Algorithm::RS256 => "RS256",
            _ => "HS256",
        }
    }
}

/// A JSON error's category and position, without the text it quotes (a claim value).
fn json_reason(err: &serde_json::Error) -> String {
    let text = err.to_string();
    // serde_json's messages name the field in backticks ("missing field `sub`"); values it
    // quotes ("invalid type: string \"...\"") are dropped.
    match text.find(" at line ") {
        Some(at) if text.starts_with("missing field") || text.starts_with("unknown field") => {
            text[..at].to_owned()
        }
        _ => format!("{:?} error", err.classify()).to_lowercase(),
    }
}

impl fmt::Debug for BearerAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerAuth")
            .field("algorithm", &self.algorithm)
            .field("key", &"<redacted>")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .field("leeway", &Duration::from_secs(self.validation.leeway))
            .finish()
    }
}

/// The claims of an ORE token, as the IAM issues them (the JWT payload).
///
/// | claim         | type                    | meaning                                         |
/// |---------------|-------------------------|-------------------------------------------------|
/// | `sub`         | string, required        | who the token is for (account id)               |
/// | `exp`         | seconds, required       | expiry, Unix time                               |
/// | `iat`         | seconds, optional       | issued at, Unix time                            |
/// | `iss`         | string, optional        | issuer; checked when [`BearerAuth::issuer`] set |
/// | `aud`         | string or list, optional| audience; checked when [`BearerAuth::audience`] |
/// | `tenant_id`   | string, optional        | ORE: the tenant the caller acts for             |
/// | `party_id`    | string, optional        | ORE: the party the caller acts as               |
/// | `roles`       | list, default `[]`      | ORE: role names                                 |
/// | `permissions` | list, default `[]`      | ORE: granted permissions, see [`grants`]        |
///
/// An `nbf` claim, when present, is honoured too. Other claims are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// `sub`: the subject, who the token is for.
    pub sub: String,
    /// `exp`: when the token expires, seconds since the Unix epoch.
    pub exp: u64,
    /// `iat`: when the token was issued, seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    /// `iss`: who issued the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iss: Option<String>,
    /// `aud`: who the token is for; a string or a list on the wire, empty when absent.
    #[serde(
        default,
        deserialize_with = "one_or_many",
        skip_serializing_if = "Vec::is_empty"
    )]
    pub aud: Vec<String>,
    /// `tenant_id`: the tenant the caller acts for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
    /// `party_id`: the party the caller acts as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party_id: Option<String>,
    /// `roles`: the caller's role names.
    #[serde(default)]
    pub roles: Vec<String>,
    /// `permissions`: what the caller may do, e.g. `refdata::currencies:read`, `refdata::*`,
    /// `*`; see [`grants`].
    #[serde(default)]
    pub permissions: Vec<String>,
}

fn one_or_many<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        One(String),
        Many(Vec<String>),
    }
    Ok(match Option::<OneOrMany>::deserialize(deserializer)? {
        None => Vec::new(),
        Some(OneOrMany::One(one)) => vec![one],
        Some(OneOrMany::Many(many)) => many,
    })
}

/// Who is calling: the verified token's identity, attached to the request context by the
/// service middleware.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The token's `sub`.
    pub subject: String,
    /// The token's `tenant_id`.
    pub tenant_id: Option<String>,
    /// The token's `party_id`.
    pub party_id: Option<String>,
    /// The token's `roles`.
    pub roles: Vec<String>,
    /// The token's `permissions`.
    pub permissions: Vec<String>,
    /// Whether the token came from `X-Delegated-Authorization` (someone acting on behalf of
    /// the subject) rather than `Authorization`.
    pub delegated: bool,
}

impl Principal {
    /// Whether the principal's permissions grant `required`; see [`grants`].
    pub fn has_permission(&self, required: &str) -> bool {
        grants(&self.permissions, required)
    }

    /// Whether the principal has the role `role` (exact match).
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// Whether the `granted` permissions grant `required`.
///
/// A granted permission grants `required` when it is:
///
/// - exactly `required` (case-sensitive);
/// - `*`: everything;
/// - `component::*`, where `component` is not empty and holds no `::` or `*`, and `required`
///   is `component::` followed by something: everything of that component. The component is
///   the part of `required` before its first `::`, compared whole, so `refdata::*` does not
///   grant `refdatax::…`.
///
/// Nothing else is a wildcard: `refdata::currencies::*`, `refdata:*` and `refdata*` grant only
/// themselves, exactly. An empty `granted` list grants nothing (ORE granted everything to it).
///
/// ```
/// use ores_actors::service::auth::grants;
///
/// let p = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
///
/// assert!(grants(&p(&["refdata::currencies:read"]), "refdata::currencies:read"));
/// assert!(grants(&p(&["*"]), "iam::accounts:write"));
/// assert!(grants(&p(&["refdata::*"]), "refdata::currencies:read"));
/// assert!(!grants(&p(&["refdata::*"]), "refdatax::currencies:read"));
/// assert!(!grants(&p(&["refdata::*"]), "refdata"));
/// assert!(!grants(&p(&["refdata::currencies:read"]), "refdata::currencies:write"));
/// assert!(!grants(&[], "refdata::currencies:read"));
/// ```
pub fn grants(granted: &[String], required: &str) -> bool {
    granted.iter().any(|g| grant_one(g, required))
}

fn grant_one(granted: &str, required: &str) -> bool {
    if granted == required || granted == "*" {
        return true;
    }
    let Some(component) = granted.strip_suffix("::*") else {
        return false;
    };
    if component.is_empty() || component.contains("::") || component.contains('*') {
        return false;
    }
    match required.split_once("::") {
        Some((req_component, rest)) => req_component == component && !rest.is_empty(),
        None => false,
    }
}

/// A [`BearerAuth`] that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthSetupError {
    /// The RS256 key is not an RSA public key in PEM.
    #[error(
        "invalid RS256 public key: {reason} (expected the issuer's RSA public key in PEM, \
         `-----BEGIN PUBLIC KEY-----` as `openssl pkey -pubout` writes it, or \
         `-----BEGIN RSA PUBLIC KEY-----`)"
    )]
    InvalidPublicKey {
        /// What is wrong with it.
        reason: String,
    },
    /// The HS256 secret is empty.
    #[error("empty HS256 secret: configure a shared secret (at least 32 random bytes)")]
    EmptySecret,
}

/// As middleware, [`BearerAuth`] checks every request's token against the endpoint's
/// permission ([`EndpointOptions::permission`](super::EndpointOptions::permission); none means
/// any valid token), answers 401/403 itself when the check fails, and otherwise hands the
/// handler the caller in [`RequestContext::principal`](super::RequestContext::principal).
impl super::Middleware for BearerAuth {
    fn call<'a>(
        &'a self,
        mut req: super::ServiceRequest,
        next: super::Next<'a>,
    ) -> super::BoxFuture<'a, super::ServiceResult> {
        let checked = self.verify(&req.ctx.headers, req.ctx.endpoint().permission.as_deref());
        match checked {
            Ok(principal) => {
                req.ctx.principal = Some(principal);
                next.run(req)
            }
            Err(err) => Box::pin(std::future::ready(Err(err))),
        }
    }
}
