//! The bookmark vault: the cryptography of the bookmark store, with no storage of its own.
//!
//! - A [`VaultKey`] (32 random bytes from the OS) seals every secret with XChaCha20-Poly1305;
//!   the associated data is the secret's record id and field, so a ciphertext copied onto
//!   another row, or into another field, fails to [`open`] ([`VaultError::Tampered`]).
//! - The vault key is stored only wrapped ([`WrappedKey`]): sealed with a key derived from the
//!   master password by Argon2id ([`KdfParams`], stored with it). [`unwrap`] checks the
//!   password against the wrapped key's own authentication tag, so a wrong password is
//!   [`VaultError::WrongPassword`] and nothing else is read or changed. [`unlock`] also
//!   rewraps a key whose parameters are below [`KdfParams::POLICY`].
//! - Keys and plaintexts ([`Secret`]) are zeroized when dropped (a vault locks by dropping its
//!   key) and print as `<redacted>` in `Debug` and `Display`.
//!
//! Both primitives come from orion 0.18: `hazardous::aead::xchacha20poly1305` and
//! `hazardous::kdf::argon2` (Argon2id, version 1.3, computed on one thread: a parallelism
//! above 1 is honoured in the output but its lanes run one after another).
//!
//! ```
//! use ores_actors::connections::vault::{self, KdfParams, Secret, VaultKey};
//!
//! # fn main() -> Result<(), vault::VaultError> {
//! let key = VaultKey::generate()?;
//! let sealed = vault::seal(&key, "bookmark-42", "password", b"hunter2")?;
//! let opened = vault::open(&key, "bookmark-42", "password", &sealed)?;
//! assert_eq!(opened.expose(), "hunter2");
//! // The same bytes on another record do not open.
//! assert!(vault::open(&key, "bookmark-43", "password", &sealed).is_err());
//!
//! // The key itself is kept wrapped by the master password.
//! let master = Secret::from("correct horse battery staple");
//! let wrapped = vault::wrap(&key, &master, KdfParams::POLICY)?;
//! let again = vault::unwrap(&wrapped, &master)?;
//! assert_eq!(vault::open(&again, "bookmark-42", "password", &sealed)?.expose(), "hunter2");
//! # Ok(())
//! # }
//! ```

use std::fmt;

use orion::hazardous::aead::xchacha20poly1305::{Nonce, SecretKey, XChaCha20Poly1305};
use orion::hazardous::kdf::argon2::{Argon2, CostParams, ID, Sequential};
use zeroize::{Zeroize, Zeroizing};

/// Bytes of a vault key (and of the key derived from the master password).
pub const KEY_LEN: usize = 32;
/// Bytes of the random nonce in front of every sealed value.
pub const NONCE_LEN: usize = 24;
/// Bytes of the authentication tag at the end of every sealed value.
pub const TAG_LEN: usize = 16;
/// Bytes of the random Argon2id salt of a [`WrappedKey`].
pub const SALT_LEN: usize = 16;

/// Domain separation for secrets sealed with the vault key.
const SECRET_DOMAIN: &[u8] = b"ores-rs/bookmarks/secret/v1";
/// Domain separation for the vault key sealed with the password-derived key.
const KEY_DOMAIN: &[u8] = b"ores-rs/bookmarks/vault-key/v1";
/// Format version of [`WrappedKey::to_bytes`].
const WRAPPED_FORMAT: u8 = 1;
/// Upper bounds on stored parameters, so a corrupted file cannot ask for terabytes.
const MAX_MEMORY_KIB: u32 = 4 * 1024 * 1024;
const MAX_ITERATIONS: u32 = 64;
const MAX_PARALLELISM: u32 = 64;

/// What can go wrong in the vault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VaultError {
    /// The master password does not open the wrapped vault key.
    #[error("wrong master password")]
    WrongPassword,
    /// A sealed value does not open for this record and field: it was altered, or it belongs
    /// to another record or field.
    #[error("the sealed {field} of record {record} was tampered with or belongs elsewhere")]
    Tampered {
        /// The record the value was opened for.
        record: String,
        /// The field the value was opened for.
        field: String,
    },
    /// A sealed value opened, but its plaintext is not UTF-8 text.
    #[error("the {field} of record {record} is not UTF-8 text")]
    NotText {
        /// The record the value was opened for.
        record: String,
        /// The field the value was opened for.
        field: String,
    },
    /// Key-derivation parameters outside what this vault accepts.
    #[error("invalid key-derivation parameters: {0}")]
    InvalidParams(String),
    /// Stored bytes that are not a wrapped key or sealed value of this format.
    #[error("malformed vault data: {0}")]
    Malformed(&'static str),
    /// The cryptographic library failed (e.g. the OS random source).
    #[error("cryptographic failure: {0}")]
    Crypto(&'static str),
}

/// A zeroizing secret string (a password, a token): wiped when dropped, `<redacted>` when
/// printed. [`Secret::expose`] is the one way to read it.
#[derive(Clone, Default)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Takes ownership of `value` (no copy is left behind).
    pub fn new(value: String) -> Self {
        Self(Zeroizing::new(value))
    }

    /// The secret text.
    pub fn expose(&self) -> &str {
        self.0.as_str()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The random key that seals every secret of a vault. Zeroized when dropped; dropping it is
/// how a vault locks.
pub struct VaultKey(SecretKey);

impl VaultKey {
    /// A fresh key of [`KEY_LEN`] bytes from the OS random source.
    pub fn generate() -> Result<Self, VaultError> {
        SecretKey::generate()
            .map(Self)
            .map_err(|_| VaultError::Crypto("the OS random source failed"))
    }
}

impl fmt::Debug for VaultKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VaultKey(<redacted>)")
    }
}

/// Argon2id cost parameters, stored with the key they wrapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes.
    pub parallelism: u32,
}

impl KdfParams {
    /// Today's policy, the OWASP minimum for Argon2id: 19 MiB, 2 passes, 1 lane. Keys wrapped
    /// with less are rewrapped by [`unlock`].
    pub const POLICY: KdfParams = KdfParams {
        memory_kib: 19_456,
        iterations: 2,
        parallelism: 1,
    };

    /// Whether these parameters are weaker than `policy` (less memory or fewer passes).
    pub fn is_below(&self, policy: &KdfParams) -> bool {
        self.memory_kib < policy.memory_kib || self.iterations < policy.iterations
    }

    fn cost(&self) -> Result<CostParams, VaultError> {
        if self.memory_kib > MAX_MEMORY_KIB
            || self.iterations > MAX_ITERATIONS
            || self.parallelism > MAX_PARALLELISM
        {
            return Err(VaultError::InvalidParams(format!(
                "{self:?} exceeds the limits (memory {MAX_MEMORY_KIB} KiB, \
                 {MAX_ITERATIONS} passes, {MAX_PARALLELISM} lanes)"
            )));
        }
        CostParams::new(self.iterations, self.memory_kib, self.parallelism).map_err(|_| {
            VaultError::InvalidParams(format!(
                "{self:?}: Argon2 needs at least 1 pass, 1 lane and 8 KiB per lane"
            ))
        })
    }

    fn to_le_bytes(self) -> [u8; 12] {
        let mut out = [0u8; 12];
        out[..4].copy_from_slice(&self.memory_kib.to_le_bytes());
        out[4..8].copy_from_slice(&self.iterations.to_le_bytes());
        out[8..].copy_from_slice(&self.parallelism.to_le_bytes());
        out
    }
}

/// The vault key sealed with a key derived from the master password: what is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// The Argon2id parameters the wrapping key was derived with.
    pub params: KdfParams,
    /// The Argon2id salt (random per wrap).
    pub salt: [u8; SALT_LEN],
    /// Nonce ‖ sealed vault key ‖ tag.
    pub sealed: Vec<u8>,
}

impl WrappedKey {
    /// One byte string for storage: format version ‖ memory ‖ iterations ‖ parallelism (u32
    /// little-endian) ‖ salt ‖ sealed.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + 12 + SALT_LEN + self.sealed.len());
        out.push(WRAPPED_FORMAT);
        out.extend_from_slice(&self.params.to_le_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.sealed);
        out
    }

    /// Reads [`WrappedKey::to_bytes`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, VaultError> {
        let (&version, rest) = bytes
            .split_first()
            .ok_or(VaultError::Malformed("empty wrapped key"))?;
        if version != WRAPPED_FORMAT {
            return Err(VaultError::Malformed("unknown wrapped-key format"));
        }
        if rest.len() != 12 + SALT_LEN + NONCE_LEN + KEY_LEN + TAG_LEN {
            return Err(VaultError::Malformed("wrapped key of the wrong length"));
        }
        let word = |i: usize| {
            let mut w = [0u8; 4];
            w.copy_from_slice(&rest[i * 4..i * 4 + 4]);
            u32::from_le_bytes(w)
        };
        let params = KdfParams {
            memory_kib: word(0),
            iterations: word(1),
            parallelism: word(2),
        };
        let mut salt = [0u8; SALT_LEN];
        salt.copy_from_slice(&rest[12..12 + SALT_LEN]);
        Ok(Self {
            params,
            salt,
            sealed: rest[12 + SALT_LEN..].to_vec(),
        })
    }

    /// The associated data of the wrapped key: its parameters and salt, so neither can be
    /// swapped without the tag failing.
    fn associated_data(&self) -> Vec<u8> {
        let mut ad = Vec::with_capacity(KEY_DOMAIN.len() + 12 + SALT_LEN);
        ad.extend_from_slice(KEY_DOMAIN);
        ad.extend_from_slice(&self.params.to_le_bytes());
        ad.extend_from_slice(&self.salt);
        ad
    }
}

/// Derives the key-wrapping key from the master password.
fn derive(password: &Secret, salt: &[u8], params: KdfParams) -> Result<SecretKey, VaultError> {
    let cost = params.cost()?;
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    Argon2::<ID, Sequential>::derive_key(
        password.expose().as_bytes(),
        salt,
        &cost,
        None,
        None,
        out.as_mut(),
    )
    .map_err(|_| VaultError::Crypto("Argon2id failed"))?;
    SecretKey::try_from(out.as_slice()).map_err(|_| VaultError::Crypto("derived key"))
}

/// Nonce ‖ ciphertext ‖ tag of `plaintext` under `key` and `ad`.
fn seal_raw(key: &SecretKey, ad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, VaultError> {
    let nonce = Nonce::generate().map_err(|_| VaultError::Crypto("the OS random source failed"))?;
    let mut out = vec![0u8; NONCE_LEN + plaintext.len() + TAG_LEN];
    out[..NONCE_LEN].copy_from_slice(nonce.as_ref());
    XChaCha20Poly1305::seal(key, &nonce, plaintext, Some(ad), &mut out[NONCE_LEN..])
        .map_err(|_| VaultError::Crypto("XChaCha20-Poly1305 seal failed"))?;
    Ok(out)
}

/// The plaintext of [`seal_raw`]'s output, or `None` if it does not authenticate.
fn open_raw(key: &SecretKey, ad: &[u8], sealed: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    if sealed.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let nonce = Nonce::try_from(&sealed[..NONCE_LEN]).ok()?;
    let mut out = Zeroizing::new(vec![0u8; sealed.len() - NONCE_LEN - TAG_LEN]);
    XChaCha20Poly1305::open(key, &nonce, &sealed[NONCE_LEN..], Some(ad), &mut out).ok()?;
    Some(out)
}

/// Wraps `key` with a key derived from `password` under `params` and a fresh random salt.
/// Changing the master password is `wrap(&unwrap(&old, old_pw)?, new_pw, POLICY)`.
pub fn wrap(
    key: &VaultKey,
    password: &Secret,
    params: KdfParams,
) -> Result<WrappedKey, VaultError> {
    let mut salt = [0u8; SALT_LEN];
    orion::util::secure_rand_bytes(&mut salt)
        .map_err(|_| VaultError::Crypto("the OS random source failed"))?;
    let kek = derive(password, &salt, params)?;
    let mut wrapped = WrappedKey {
        params,
        salt,
        sealed: Vec::new(),
    };
    wrapped.sealed = seal_raw(&kek, &wrapped.associated_data(), key.0.unprotected_as_ref())?;
    Ok(wrapped)
}

/// Opens the wrapped vault key with `password`. The wrapped key's own authentication tag is
/// the password check: a wrong password is [`VaultError::WrongPassword`].
pub fn unwrap(wrapped: &WrappedKey, password: &Secret) -> Result<VaultKey, VaultError> {
    if wrapped.sealed.len() != NONCE_LEN + KEY_LEN + TAG_LEN {
        return Err(VaultError::Malformed("wrapped key of the wrong length"));
    }
    let kek = derive(password, &wrapped.salt, wrapped.params)?;
    let bytes = open_raw(&kek, &wrapped.associated_data(), &wrapped.sealed)
        .ok_or(VaultError::WrongPassword)?;
    SecretKey::try_from(bytes.as_slice())
        .map(VaultKey)
        .map_err(|_| VaultError::Malformed("vault key of the wrong length"))
}

/// An unlocked vault: the key, and a rewrapped key to store if the stored one was below policy.
#[derive(Debug)]
pub struct Unlocked {
    /// The vault key.
    pub key: VaultKey,
    /// `Some` when the stored wrapping was below [`KdfParams::POLICY`]: the same key wrapped
    /// again under the policy (new salt), to be stored in place of the old one.
    pub rewrapped: Option<WrappedKey>,
}

/// [`unwrap`], then a rewrap under `policy` when the stored parameters are below it.
pub fn unlock(
    wrapped: &WrappedKey,
    password: &Secret,
    policy: KdfParams,
) -> Result<Unlocked, VaultError> {
    let key = unwrap(wrapped, password)?;
    let rewrapped = if wrapped.params.is_below(&policy) {
        Some(wrap(&key, password, policy)?)
    } else {
        None
    };
    Ok(Unlocked { key, rewrapped })
}

/// The canonical associated data of a secret: domain ‖ len(record) ‖ record ‖ len(field) ‖
/// field, lengths as u64 little-endian, so no two (record, field) pairs encode alike.
fn secret_ad(record: &str, field: &str) -> Vec<u8> {
    let mut ad = Vec::with_capacity(SECRET_DOMAIN.len() + 16 + record.len() + field.len());
    ad.extend_from_slice(SECRET_DOMAIN);
    for part in [record, field] {
        ad.extend_from_slice(&(part.len() as u64).to_le_bytes());
        ad.extend_from_slice(part.as_bytes());
    }
    ad
}

/// Seals `plaintext` for `field` of `record`: random 24-byte nonce ‖ ciphertext ‖ 16-byte tag.
///
/// ```
/// use ores_actors::connections::vault::{self, VaultError, VaultKey};
///
/// let key = VaultKey::generate()?;
/// let sealed = vault::seal(&key, "bookmark-1", "password", b"s3cret")?;
/// assert_eq!(vault::open(&key, "bookmark-1", "password", &sealed)?.expose(), "s3cret");
/// assert!(matches!(
///     vault::open(&key, "bookmark-1", "token", &sealed),
///     Err(VaultError::Tampered { .. })
/// ));
/// # Ok::<(), VaultError>(())
/// ```
pub fn seal(
    key: &VaultKey,
    record: &str,
    field: &str,
    plaintext: &[u8],
) -> Result<Vec<u8>, VaultError> {
    seal_raw(&key.0, &secret_ad(record, field), plaintext)
}

/// Opens what [`seal`] sealed for the same `record` and `field`. Altered bytes, or bytes
/// sealed for another record or field, are [`VaultError::Tampered`] naming `record`.
///
/// ```
/// use ores_actors::connections::vault::{self, VaultError, VaultKey};
///
/// let key = VaultKey::generate()?;
/// let mut sealed = vault::seal(&key, "bookmark-1", "password", b"s3cret")?;
/// sealed[30] ^= 1;
/// match vault::open(&key, "bookmark-1", "password", &sealed) {
///     Err(VaultError::Tampered { record, .. }) => assert_eq!(record, "bookmark-1"),
///     other => panic!("expected Tampered, got {other:?}"),
/// }
/// # Ok::<(), VaultError>(())
/// ```
pub fn open(
    key: &VaultKey,
    record: &str,
    field: &str,
    sealed: &[u8],
) -> Result<Secret, VaultError> {
    let mut bytes = open_raw(&key.0, &secret_ad(record, field), sealed).ok_or_else(|| {
        VaultError::Tampered {
            record: record.to_owned(),
            field: field.to_owned(),
        }
    })?;
    match String::from_utf8(std::mem::take(&mut *bytes)) {
        Ok(text) => Ok(Secret::new(text)),
        Err(err) => {
            err.into_bytes().zeroize();
            Err(VaultError::NotText {
                record: record.to_owned(),
                field: field.to_owned(),
            })
        }
    }
}
