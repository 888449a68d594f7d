//! Validated subjects, subscription patterns, the ORE subject prefix and stream names.
//!
//! ORE writes subjects relative, `{domain}.v1.{entity}.{verb}`, and sends them as
//! `{prefix}.{relative}` with a prefix `ores.{tier}.{instance}`; `_INBOX` subjects (replies) are
//! never prefixed. Each of these strings is a newtype whose constructor validates it, so a value
//! of the type is always well formed.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::{SubjectError, SubjectErrorReason, SubjectKind};

/// The first token of reply subjects, which are never prefixed.
const INBOX: &str = "_INBOX";

/// Checks `input` token by token. With `patterns`, `*` may be a whole token and `>` the whole
/// last token.
fn validate(input: &str, kind: SubjectKind, patterns: bool) -> Result<(), SubjectError> {
    let err = |reason| Err(SubjectError::new(kind, input, reason));
    if input.is_empty() {
        return err(SubjectErrorReason::Empty);
    }
    let count = input.split('.').count();
    for (i, token) in input.split('.').enumerate() {
        let index = i + 1;
        if token.is_empty() {
            return err(SubjectErrorReason::EmptyToken { index });
        }
        if let Some(ch) = token.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return err(SubjectErrorReason::Whitespace {
                index,
                token: token.to_owned(),
                ch,
            });
        }
        if !token.contains(['*', '>']) {
            continue;
        }
        if !patterns {
            return err(SubjectErrorReason::Wildcard {
                index,
                token: token.to_owned(),
            });
        }
        match token {
            "*" => {}
            ">" if index == count => {}
            ">" => return err(SubjectErrorReason::FullWildcardNotLast { index }),
            _ => {
                return err(SubjectErrorReason::PartialWildcard {
                    index,
                    token: token.to_owned(),
                });
            }
        }
    }
    Ok(())
}

/// Implements the string-like traits shared by the three newtypes.
macro_rules! string_newtype {
    ($ty:ident) => {
        impl $ty {
            /// The string.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The string, by value.
            pub fn into_string(self) -> String {
                self.0
            }

            /// The `.`-separated tokens.
            pub fn tokens(&self) -> impl Iterator<Item = &str> {
                self.0.split('.')
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $ty {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $ty {
            type Error = SubjectError;

            fn try_from(value: String) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = SubjectError;

            fn try_from(value: &str) -> Result<Self, Self::Error> {
                Self::new(value)
            }
        }

        impl FromStr for $ty {
            type Err = SubjectError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl From<$ty> for String {
            fn from(value: $ty) -> String {
                value.0
            }
        }

        impl From<$ty> for async_nats::Subject {
            fn from(value: $ty) -> async_nats::Subject {
                async_nats::Subject::from(value.0)
            }
        }

        impl From<&$ty> for async_nats::Subject {
            fn from(value: &$ty) -> async_nats::Subject {
                async_nats::Subject::from(value.0.as_str())
            }
        }

        impl async_nats::subject::ToSubject for $ty {
            fn to_subject(&self) -> async_nats::Subject {
                self.into()
            }
        }

        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A literal NATS subject, as published to or requested: `.`-separated non-empty tokens without
/// whitespace, control characters or wildcards.
///
/// ```
/// use ores_actors::nats::Subject;
///
/// # fn main() -> Result<(), ores_actors::nats::SubjectError> {
/// let subject: Subject = "refdata.v1.currencies.list".parse()?;
/// assert_eq!(subject, Subject::service("refdata", "v1", "currencies", "list")?);
///
/// let err = Subject::new("refdata.v1.*.list").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid subject `refdata.v1.*.list`: token 3 `*` contains a wildcard; a literal subject may not"
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subject(String);

impl Subject {
    /// Validates `subject`.
    ///
    /// # Errors
    ///
    /// [`SubjectError`] when it is empty, has an empty token, whitespace, a control character
    /// or a wildcard.
    pub fn new(subject: impl Into<String>) -> Result<Self, SubjectError> {
        let subject = subject.into();
        validate(&subject, SubjectKind::Subject, false)?;
        Ok(Self(subject))
    }

    /// The ORE service subject `{domain}.{version}.{entity}.{verb}`, e.g.
    /// `refdata.v1.currencies.list`; each part must be a single valid token.
    ///
    /// # Errors
    ///
    /// [`SubjectError`] naming the first bad part.
    pub fn service(
        domain: &str,
        version: &str,
        entity: &str,
        verb: &str,
    ) -> Result<Self, SubjectError> {
        Self::from_tokens(&[domain, version, entity, verb])
    }

    /// Joins single tokens with `.`; a token holding a `.` is refused.
    fn from_tokens(tokens: &[&str]) -> Result<Self, SubjectError> {
        let joined = tokens.join(".");
        if let Some((i, token)) = tokens.iter().enumerate().find(|(_, t)| t.contains('.')) {
            return Err(SubjectError::new(
                SubjectKind::Subject,
                &joined,
                SubjectErrorReason::NotSingleToken {
                    index: i + 1,
                    token: (*token).to_owned(),
                },
            ));
        }
        Self::new(joined)
    }

    /// Whether this is a reply subject (`_INBOX…`), which is never prefixed.
    pub fn is_inbox(&self) -> bool {
        self.0.starts_with(INBOX)
    }

    /// This subject as a pattern that matches only itself.
    pub fn to_pattern(&self) -> SubjectPattern {
        SubjectPattern(self.0.clone())
    }
}

string_newtype!(Subject);

impl TryFrom<async_nats::Subject> for Subject {
    type Error = SubjectError;

    fn try_from(value: async_nats::Subject) -> Result<Self, Self::Error> {
        Self::new(value.as_str())
    }
}

impl TryFrom<&async_nats::Subject> for Subject {
    type Error = SubjectError;

    fn try_from(value: &async_nats::Subject) -> Result<Self, Self::Error> {
        Self::new(value.as_str())
    }
}

/// The event subject `ores.<domain>.<entity>_changed` (e.g. `ores.refdata.currency_changed`),
/// relative: it is published under the prefix like any other subject.
///
/// # Errors
///
/// [`SubjectError`] when `domain` or `entity` is not a single valid token.
///
/// ```
/// use ores_actors::nats::event_subject;
///
/// # fn main() -> Result<(), ores_actors::nats::SubjectError> {
/// assert_eq!(event_subject("refdata", "currency")?.as_str(), "ores.refdata.currency_changed");
/// # Ok(())
/// # }
/// ```
pub fn event_subject(domain: &str, entity: &str) -> Result<Subject, SubjectError> {
    Subject::from_tokens(&["ores", domain, &format!("{entity}_changed")])
}

/// A subscription pattern: like a [`Subject`], but `*` may stand for one whole token and `>`
/// for one or more trailing tokens (only as the last token).
///
/// ```
/// use ores_actors::nats::SubjectPattern;
///
/// # fn main() -> Result<(), ores_actors::nats::SubjectError> {
/// let all_lists: SubjectPattern = "refdata.v1.*.list".parse()?;
/// assert_eq!(all_lists.tokens().count(), 4);
///
/// let err = SubjectPattern::new("refdata.>.list").unwrap_err();
/// assert_eq!(
///     err.to_string(),
///     "invalid subject pattern `refdata.>.list`: token 2 is `>`, which is only allowed as the last token"
/// );
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectPattern(String);

impl SubjectPattern {
    /// Validates `pattern`.
    ///
    /// # Errors
    ///
    /// [`SubjectError`] when it is empty, has an empty token, whitespace, a control character, a
    /// wildcard that is not a whole token, or `>` before the last token.
    pub fn new(pattern: impl Into<String>) -> Result<Self, SubjectError> {
        let pattern = pattern.into();
        validate(&pattern, SubjectKind::Pattern, true)?;
        Ok(Self(pattern))
    }

    /// Whether the pattern holds a wildcard.
    pub fn has_wildcards(&self) -> bool {
        self.tokens().any(|t| t == "*" || t == ">")
    }

    /// Whether this is a reply pattern (`_INBOX…`), which is never prefixed.
    pub fn is_inbox(&self) -> bool {
        self.0.starts_with(INBOX)
    }

    /// Whether `subject` matches the pattern, as NATS matches it: `*` one token, `>` one or
    /// more trailing tokens.
    ///
    /// ```
    /// use ores_actors::nats::SubjectPattern;
    ///
    /// let p = SubjectPattern::new("ores.*.currency_changed").unwrap();
    /// assert!(p.matches("ores.refdata.currency_changed"));
    /// assert!(!p.matches("ores.refdata.country_changed"));
    /// assert!(SubjectPattern::new("ores.>").unwrap().matches("ores.a.b"));
    /// assert!(!SubjectPattern::new("ores.>").unwrap().matches("ores"));
    /// ```
    pub fn matches(&self, subject: &str) -> bool {
        let mut want = self.tokens();
        let mut have = subject.split('.');
        loop {
            match (want.next(), have.next()) {
                (Some(">"), Some(_)) => return true,
                (Some("*"), Some(_)) => {}
                (Some(w), Some(h)) if w == h => {}
                (None, None) => return true,
                _ => return false,
            }
        }
    }
}

string_newtype!(SubjectPattern);

impl From<Subject> for SubjectPattern {
    fn from(value: Subject) -> Self {
        Self(value.0)
    }
}

/// The deployment's subject prefix, `ores.{tier}.{instance}` by ORE convention (e.g.
/// `ores.dev.local1`): a non-empty literal subject put in front of every subject but replies.
///
/// ```
/// use ores_actors::nats::{Subject, SubjectPrefix};
///
/// # fn main() -> Result<(), ores_actors::nats::SubjectError> {
/// let prefix = SubjectPrefix::new("ores.dev.local1")?;
/// let list = Subject::service("refdata", "v1", "currencies", "list")?;
/// let full = prefix.apply(&list);
/// assert_eq!(full.as_str(), "ores.dev.local1.refdata.v1.currencies.list");
/// assert_eq!(prefix.strip(&full), Some(list));
///
/// let reply = Subject::new("_INBOX.abc.1")?;
/// assert_eq!(prefix.apply(&reply), reply);
/// # Ok(())
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectPrefix(String);

impl SubjectPrefix {
    /// Validates `prefix` as a literal subject; an empty prefix is refused (ORE refuses to
    /// connect without one).
    ///
    /// # Errors
    ///
    /// [`SubjectError`] when it is empty or not a valid literal subject.
    pub fn new(prefix: impl Into<String>) -> Result<Self, SubjectError> {
        let prefix = prefix.into();
        validate(&prefix, SubjectKind::Prefix, false)?;
        Ok(Self(prefix))
    }

    /// `{prefix}.{relative}`, or `relative` unchanged when it is an `_INBOX` subject.
    pub fn apply(&self, relative: &Subject) -> Subject {
        if relative.is_inbox() {
            relative.clone()
        } else {
            Subject(format!("{}.{}", self.0, relative.0))
        }
    }

    /// `{prefix}.{relative}`, or `relative` unchanged when it is an `_INBOX` pattern.
    pub fn apply_pattern(&self, relative: &SubjectPattern) -> SubjectPattern {
        if relative.is_inbox() {
            relative.clone()
        } else {
            SubjectPattern(format!("{}.{}", self.0, relative.0))
        }
    }

    /// The inverse of [`apply`](Self::apply): the subject relative to this prefix, `_INBOX`
    /// subjects unchanged, and `None` for a subject outside the prefix (or equal to it).
    pub fn strip(&self, full: &Subject) -> Option<Subject> {
        if full.is_inbox() {
            return Some(full.clone());
        }
        let rest = full.0.strip_prefix(&self.0)?.strip_prefix('.')?;
        // `rest` is a tail of a valid subject after a `.`, so it is itself valid and non-empty.
        Some(Subject(rest.to_owned()))
    }
}

string_newtype!(SubjectPrefix);

/// The JetStream stream name for `suffix` under `prefix`: the prefix with `.` replaced by `_`,
/// then `_` and the suffix (`ores.dev.local2` + `workflow` → `ores_dev_local2_workflow`).
///
/// # Errors
///
/// [`SubjectError`] when `suffix` is empty or the name would contain whitespace, a control
/// character, `.`, `*`, `>`, `/` or `\`.
///
/// ```
/// use ores_actors::nats::{stream_name, SubjectPrefix};
///
/// # fn main() -> Result<(), ores_actors::nats::SubjectError> {
/// let prefix = SubjectPrefix::new("ores.dev.local2")?;
/// assert_eq!(stream_name(&prefix, "workflow")?, "ores_dev_local2_workflow");
/// # Ok(())
/// # }
/// ```
pub fn stream_name(prefix: &SubjectPrefix, suffix: &str) -> Result<String, SubjectError> {
    let name = join_stream_name(&prefix.0, suffix);
    if suffix.is_empty() {
        return Err(SubjectError::new(
            SubjectKind::StreamName,
            &name,
            SubjectErrorReason::EmptySuffix,
        ));
    }
    if let Some(ch) = name
        .chars()
        .find(|&c| c.is_whitespace() || c.is_control() || matches!(c, '.' | '*' | '>' | '/' | '\\'))
    {
        return Err(SubjectError::new(
            SubjectKind::StreamName,
            &name,
            SubjectErrorReason::StreamNameChar { ch },
        ));
    }
    Ok(name)
}

/// ORE's stream-name form, unchecked: the prefix with `.` replaced by `_`, then `_`, then the
/// suffix.
pub(crate) fn join_stream_name(prefix: &str, suffix: &str) -> String {
    format!("{}_{suffix}", prefix.replace('.', "_"))
}
