use zeroize::Zeroize;

/// 256 bits of key material. Zeroized on drop; `Debug` prints `SecretKey([redacted])`.
#[derive(Clone)]
pub struct SecretKey([u8; 32]);

impl SecretKey {
    pub fn random() -> Result<Self, crate::CryptoError> {
        Ok(SecretKey(crate::random::bytes::<32>()?))
    }

    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        SecretKey(bytes)
    }

    pub(crate) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The key bytes, for a library that needs them (e.g. an HMAC key for JWTs). Every call
    /// site hands key material out of this crate: keep them few.
    pub fn expose_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl Drop for SecretKey {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey([redacted])")
    }
}
