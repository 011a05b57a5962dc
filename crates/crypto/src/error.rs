/// Every failure of this crate. No variant carries key material, plaintext or ciphertext.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CryptoError {
    /// The bytes are not in any format this build writes (wrong prefix, too short).
    #[error("malformed ciphertext or key material")]
    Malformed,
    /// The format or algorithm id is one this build does not know.
    #[error("unknown format or algorithm")]
    UnknownFormat,
    /// Authentication failed: wrong key, wrong context (moved to another row, field, record or
    /// version), or the bytes were altered.
    #[error("integrity check failed")]
    Integrity,
    /// The master key version the data needs is not in the key ring (retired or never loaded).
    #[error("master key version {0} is not in the key ring")]
    MissingKeyVersion(u32),
    /// The key file or key text is unusable; the message names the line, never its content.
    #[error("key file: {0}")]
    KeyFile(String),
    /// A setting or argument out of range (for example a blind index size).
    #[error("{0}")]
    Invalid(String),
    #[error("the operating system's random number generator failed")]
    Random,
}

impl From<crate::random::RandomError> for CryptoError {
    fn from(_: crate::random::RandomError) -> Self {
        CryptoError::Random
    }
}
