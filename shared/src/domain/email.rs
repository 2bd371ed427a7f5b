//! E-mail addresses.

use std::fmt;

use serde::Serialize;

use super::error::InvalidValue;

/// A deliverable-looking address, trimmed and lower-cased.
///
/// Lower-casing the whole address (the spec's rule) is what makes the uniqueness
/// constraint case-insensitive. We accept the common `local@domain.tld` shape in
/// ASCII only: no quoted local parts, IP-literal domains or internationalised
/// addresses, which real sign-ups essentially never use and which are where naive
/// validators go wrong.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    /// RFC 5321's limit on a forward path.
    pub const MAX_CHARS: usize = 254;
    const MAX_LOCAL: usize = 64;
    const MAX_LABEL: usize = 63;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        if !value.is_ascii() {
            return Err(invalid("must contain only ASCII characters"));
        }
        if value.len() > Self::MAX_CHARS {
            return Err(invalid("must be at most 254 characters"));
        }
        if value
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control())
        {
            return Err(invalid("must not contain spaces"));
        }
        let mut parts = value.split('@');
        let (Some(local), Some(domain), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(invalid("must contain exactly one '@'"));
        };
        check_local(local)?;
        check_domain(domain)?;
        Ok(Self(value.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

fn invalid(reason: &str) -> InvalidValue {
    InvalidValue::new(format!("is not a valid e-mail address: {reason}"))
}

fn check_local(local: &str) -> Result<(), InvalidValue> {
    if local.is_empty() || local.len() > Email::MAX_LOCAL {
        return Err(invalid("the part before '@' must have 1 to 64 characters"));
    }
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(invalid("misplaced '.' before '@'"));
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-.".contains(c);
    if !local.chars().all(allowed) {
        return Err(invalid("unexpected character before '@'"));
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), InvalidValue> {
    let labels: Vec<&str> = domain.split('.').collect();
    if labels.len() < 2 {
        return Err(invalid("the domain needs a dot, as in example.com"));
    }
    for label in &labels {
        let well_formed = !label.is_empty()
            && label.len() <= Email::MAX_LABEL
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-');
        if !well_formed {
            return Err(invalid("malformed domain"));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.chars().all(|c| c.is_ascii_digit()))
    {
        return Err(invalid("the domain must be a name, not an IP address"));
    }
    Ok(())
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for Email {
    type Error = InvalidValue;

    fn try_from(raw: &str) -> Result<Self, Self::Error> {
        Self::parse(raw)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn valid_addresses_are_trimmed_and_lower_cased() {
        let email = Email::parse("  Ana.Gomez+promo@Example.CO  ").unwrap();
        assert_eq!(email.as_str(), "ana.gomez+promo@example.co");
    }

    #[test]
    fn accepts_common_shapes() {
        for raw in [
            "a@b.co",
            "first.last@sub.domain.example",
            "x_y-z@my-host.io",
            "o'brien@example.ie",
            "user@xn--80ak6aa92e.com",
        ] {
            assert!(Email::parse(raw).is_ok(), "{raw} should be accepted");
        }
    }

    #[test]
    fn refuses_malformed_addresses() {
        for raw in [
            "",
            "   ",
            "plainaddress",
            "@example.com",
            "user@",
            "user@@example.com",
            "a@b@example.com",
            "user@localhost",
            "user@.example.com",
            "user@example..com",
            "user@-example.com",
            "user@example-.com",
            ".user@example.com",
            "user.@example.com",
            "us..er@example.com",
            "us er@example.com",
            "user@exa mple.com",
            "user@127.0.0.1",
            "usér@example.com",
            "user@example.com\0",
            "(user)@example.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }

    #[test]
    fn enforces_length_limits() {
        let local_64 = "a".repeat(64);
        assert!(Email::parse(&format!("{local_64}@example.com")).is_ok());
        assert!(Email::parse(&format!("a{local_64}@example.com")).is_err());
        let long_domain = format!("{}.com", vec!["a".repeat(60); 5].join("."));
        assert!(Email::parse(&format!("user@{long_domain}")).is_err());
        assert!(Email::parse(&format!("user@{}.com", "a".repeat(64))).is_err());
    }

    #[test]
    fn error_message_says_why() {
        let error = Email::parse("user@localhost").unwrap_err();
        assert!(error.message().starts_with("is not a valid e-mail address"));
    }

    prop_compose! {
        fn valid_email()(
            local in "[A-Za-z0-9_+-]{1,20}(\\.[A-Za-z0-9_+-]{1,10}){0,2}",
            labels in prop::collection::vec("[A-Za-z0-9]([A-Za-z0-9-]{0,10}[A-Za-z0-9])?", 1..4),
            tld in "[A-Za-z]{2,6}",
            padding in "[ \t]{0,2}",
        ) -> String {
            format!("{padding}{local}@{}.{tld}{padding}", labels.join("."))
        }
    }

    proptest! {
        #[test]
        fn any_valid_email_round_trips_lower_cased(raw in valid_email()) {
            let email = Email::parse(&raw).unwrap();
            prop_assert_eq!(email.as_str(), raw.trim().to_lowercase());
            prop_assert_eq!(Email::parse(email.as_str()).unwrap(), email);
        }

        #[test]
        fn arbitrary_strings_never_panic(raw in any::<String>()) {
            if let Ok(email) = Email::parse(&raw) {
                prop_assert_eq!(email.as_str().matches('@').count(), 1);
                prop_assert_eq!(email.as_str(), email.as_str().to_lowercase());
            }
        }
    }
}
