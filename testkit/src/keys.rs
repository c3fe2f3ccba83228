//! Test-only RSA keys for GitHub App JWTs, and a JWT helper for crafting bad tokens.
//!
//! The checked-in pair under `testkit/keys/` was generated for this crate and protects nothing.
use serde::Serialize;

/// PEM (PKCS#1 `RSA PRIVATE KEY`) of the checked-in test app key.
pub const TEST_APP_PRIVATE_KEY_PEM: &str = include_str!("../keys/test-app-private-key.pem");
/// PEM (`PUBLIC KEY`) of the checked-in test app key.
pub const TEST_APP_PUBLIC_KEY_PEM: &str = include_str!("../keys/test-app-public-key.pem");

/// An RSA key pair in PEM.
#[derive(Debug, Clone)]
pub struct KeyPairPem {
    /// Private key PEM (PKCS#1 or PKCS#8), what the GitHub App client signs with.
    pub private_pem: String,
    /// Public key PEM (SubjectPublicKeyInfo), what the fake verifies with.
    pub public_pem: String,
}

/// The checked-in test key pair (no key generation cost).
pub fn test_key_pair() -> KeyPairPem {
    KeyPairPem {
        private_pem: TEST_APP_PRIVATE_KEY_PEM.to_string(),
        public_pem: TEST_APP_PUBLIC_KEY_PEM.to_string(),
    }
}

fn pem(label: &str, der: &[u8]) -> String {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(chunk).unwrap());
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Generate a fresh 2048-bit RSA key pair with aws-lc-rs (PKCS#8 private, SPKI public).
pub fn generate_rsa_key_pair() -> KeyPairPem {
    use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
    use aws_lc_rs::rsa::{KeyPair, KeySize};
    use aws_lc_rs::signature::KeyPair as _;
    let kp = KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation");
    let private: Pkcs8V1Der = kp.as_der().expect("PKCS#8 encoding");
    let public: PublicKeyX509Der = kp.public_key().as_der().expect("SPKI encoding");
    KeyPairPem {
        private_pem: pem("PRIVATE KEY", private.as_ref()),
        public_pem: pem("PUBLIC KEY", public.as_ref()),
    }
}

/// Sign a GitHub App JWT (RS256) with arbitrary `iat` / `exp` (epoch seconds), to craft expired,
/// future or wrongly signed tokens in tests.
pub fn sign_app_jwt(app_id: u64, private_pem: &str, iat: i64, exp: i64) -> String {
    #[derive(Serialize)]
    struct Claims {
        iss: u64,
        iat: i64,
        exp: i64,
    }
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("RSA PEM");
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256),
        &Claims {
            iss: app_id,
            iat,
            exp,
        },
        &key,
    )
    .expect("JWT signing")
}
