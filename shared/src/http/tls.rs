//! HTTPS clients with a compiled-in root store.
//!
//! reqwest's default verifier reads the system's CA directory (some 140 files here) when a
//! client is built: about 5 ms of a cold start, for clients the first request may never
//! use. These clients trust the Mozilla roots of `webpki-roots` instead (Google's, which
//! sign `googleapis.com` and `*.run.app`, among them), parsed from memory, and the
//! functions build them on first use.

use std::sync::Arc;

/// A reqwest builder whose TLS trusts the `webpki-roots` set, with the aws-lc-rs backend
/// (the one backend of the whole dependency graph). HTTP/1.1 and HTTP/2 by ALPN.
pub fn client_builder() -> reqwest::ClientBuilder {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = reqwest::Client::builder();
    match rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
    {
        Ok(config) => {
            let mut config = config.with_root_certificates(roots).with_no_client_auth();
            config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
            builder.tls_backend_preconfigured(config)
        }
        // The provider supports the default versions; should it not, reqwest's own TLS.
        Err(error) => {
            tracing::warn!(%error, "compiled-in roots unavailable, using the system's");
            builder
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_compact_store_builds_a_client() {
        super::client_builder().build().expect("a client");
    }
}
