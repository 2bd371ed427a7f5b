//! Web links (`sitio_web`).

use std::fmt;

use serde::Serialize;

use super::error::InvalidValue;

/// An absolute `http`/`https` URL with a host, stored as given (trimmed).
///
/// Hand-rolled on purpose: a profile link only has to be clickable, and the rules a
/// client can be told ("http(s), a host, no spaces") matter more than RFC 3986
/// completeness. Credentials in the link (`user:pass@host`) are refused: a public
/// profile has no business carrying them and they are a classic phishing disguise.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct WebsiteUrl(String);

impl WebsiteUrl {
    pub const MAX_CHARS: usize = 2048;

    pub fn parse(raw: &str) -> Result<Self, InvalidValue> {
        let value = raw.trim();
        if value.is_empty() {
            return Err(InvalidValue::new("must not be empty"));
        }
        if value.chars().count() > Self::MAX_CHARS {
            return Err(InvalidValue::new("must be at most 2048 characters"));
        }
        if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid("must not contain spaces"));
        }
        let rest =
            strip_scheme(value).ok_or_else(|| invalid("must start with http:// or https://"))?;
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(invalid("must not contain credentials"));
        }
        check_authority(authority)?;
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

fn invalid(reason: &str) -> InvalidValue {
    InvalidValue::new(format!("is not a valid http(s) URL: {reason}"))
}

fn strip_scheme(value: &str) -> Option<&str> {
    ["https://", "http://"].into_iter().find_map(|scheme| {
        let head = value.get(..scheme.len())?;
        head.eq_ignore_ascii_case(scheme)
            .then(|| &value[scheme.len()..])
    })
}

fn check_authority(authority: &str) -> Result<(), InvalidValue> {
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let (literal, after) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid("unclosed '[' in the host"))?;
            if literal.is_empty()
                || !literal
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            {
                return Err(invalid("malformed IPv6 host"));
            }
            let port = match after {
                "" => None,
                _ => Some(
                    after
                        .strip_prefix(':')
                        .ok_or_else(|| invalid("unexpected text after the host"))?,
                ),
            };
            (None, port)
        }
        None => match authority.rsplit_once(':') {
            Some((host, port)) => (Some(host), Some(port)),
            None => (Some(authority), None),
        },
    };
    if let Some(host) = host {
        check_host(host)?;
    }
    if let Some(port) = port {
        let valid = !port.is_empty()
            && port.chars().all(|c| c.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|number| number > 0);
        if !valid {
            return Err(invalid("the port must be a number from 1 to 65535"));
        }
    }
    Ok(())
}

fn check_host(host: &str) -> Result<(), InvalidValue> {
    if host.is_empty() {
        return Err(invalid("a host is required"));
    }
    let well_formed = host.split('.').all(|label| {
        !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    });
    if !well_formed {
        return Err(invalid("malformed host"));
    }
    Ok(())
}

impl AsRef<str> for WebsiteUrl {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for WebsiteUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<&str> for WebsiteUrl {
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
    fn accepts_http_and_https_urls_stored_trimmed() {
        for raw in [
            "https://example.com",
            "http://example.com/",
            "HTTPS://Example.com/path?q=1#top",
            "https://sub.example.co:8443/a/b",
            "http://localhost:8080",
            "https://[2001:db8::1]/",
            "https://[::1]:443",
            "https://münchen.de",
            "https://ana_blog.example.com",
        ] {
            assert_eq!(
                WebsiteUrl::parse(&format!(" {raw} ")).unwrap().as_str(),
                raw
            );
        }
    }

    #[test]
    fn refuses_other_schemes_missing_hosts_and_spaces() {
        for raw in [
            "",
            "example.com",
            "www.example.com",
            "ftp://example.com",
            "javascript:alert(1)",
            "https://",
            "https:///path",
            "https://?q",
            "http://exa mple.com",
            "https://example..com",
            "https://.example.com",
            "https://example.com:",
            "https://example.com:0",
            "https://example.com:70000",
            "https://example.com:8a",
            "https://user:pass@example.com",
            "https://[::1",
            "https://[]/",
            "https://[::1]x",
            "https://exa<mple.com",
        ] {
            assert!(WebsiteUrl::parse(raw).is_err(), "{raw:?} should be refused");
        }
    }

    #[test]
    fn enforces_maximum_length() {
        let long = format!("https://example.com/{}", "a".repeat(2048));
        assert!(WebsiteUrl::parse(&long).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic(raw in any::<String>()) {
            let _ = WebsiteUrl::parse(&raw);
            let _ = WebsiteUrl::parse(&format!("https://{raw}"));
        }

        #[test]
        fn generated_urls_are_accepted(
            scheme in "[hH][tT][tT][pP][sS]?",
            host in "[a-z0-9]{1,10}(\\.[a-z0-9-]{0,8}[a-z0-9]){0,3}",
            path in "(/[A-Za-z0-9._~-]{0,10}){0,3}",
        ) {
            let raw = format!("{scheme}://{host}{path}");
            let url = WebsiteUrl::parse(&raw).unwrap();
            prop_assert_eq!(url.as_str(), raw.as_str());
        }
    }
}
