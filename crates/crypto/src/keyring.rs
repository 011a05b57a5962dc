//! The master key ring: versioned key-encryption keys with one primary, the blind-index root key
//! and the audit checkpoint signing key, kept in one text file outside the database.
//!
//! File format (one item per line, `#` comments):
//!
//! ```text
//! format hotline-keys-1
//! environment development|production
//! primary 2
//! key 1 <64 hex digits>
//! key 2 <64 hex digits>
//! index <64 hex digits>
//! signing <hex of an Ed25519 PKCS#8 document>
//! ```

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use ring::signature::{Ed25519KeyPair, KeyPair};
use zeroize::Zeroizing;

use crate::encoding::from_hex;
use crate::random::hex;
use crate::{CryptoError, SecretKey};

const FORMAT: &str = "hotline-keys-1";

/// Whether a key file was generated for development (refused in production).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyEnvironment {
    Development,
    Production,
}

pub struct KeyRing {
    keks: BTreeMap<u32, SecretKey>,
    primary: u32,
    index_root: SecretKey,
    signing_pkcs8: Zeroizing<Vec<u8>>,
    signing: Ed25519KeyPair,
    environment: KeyEnvironment,
}

impl std::fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyRing")
            .field("versions", &self.versions())
            .field("primary", &self.primary)
            .field("environment", &self.environment)
            .finish_non_exhaustive()
    }
}

fn bad(line: usize, what: &str) -> CryptoError {
    CryptoError::KeyFile(format!("line {line}: {what}"))
}

impl KeyRing {
    /// A new ring with master key version 1 as primary and fresh index and signing keys.
    pub fn generate(environment: KeyEnvironment) -> Result<Self, CryptoError> {
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| CryptoError::Random)?;
        let signing_pkcs8 = Zeroizing::new(pkcs8.as_ref().to_vec());
        let signing =
            Ed25519KeyPair::from_pkcs8(&signing_pkcs8).map_err(|_| CryptoError::Random)?;
        Ok(KeyRing {
            keks: BTreeMap::from([(1, SecretKey::random()?)]),
            primary: 1,
            index_root: SecretKey::random()?,
            signing_pkcs8,
            signing,
            environment,
        })
    }

    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let mut format_seen = false;
        let mut environment = None;
        let mut primary = None;
        let mut keks = BTreeMap::new();
        let mut index_root = None;
        let mut signing_pkcs8 = None;
        for (n, line) in text.lines().enumerate() {
            let n = n + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let parts: Vec<&str> = line.split_whitespace().collect();
            match parts.as_slice() {
                ["format", FORMAT] => format_seen = true,
                ["format", _] => return Err(bad(n, "unknown key file format")),
                ["environment", "development"] => environment = Some(KeyEnvironment::Development),
                ["environment", "production"] => environment = Some(KeyEnvironment::Production),
                ["primary", v] => {
                    primary = Some(
                        v.parse::<u32>()
                            .map_err(|_| bad(n, "primary must be a version number"))?,
                    )
                }
                ["key", v, material] => {
                    let version: u32 = v
                        .parse()
                        .map_err(|_| bad(n, "key version must be a number"))?;
                    if version == 0
                        || keks
                            .insert(
                                version,
                                key32(material)
                                    .ok_or_else(|| bad(n, "key must be 64 hex digits"))?,
                            )
                            .is_some()
                    {
                        return Err(bad(n, "key version is zero or repeated"));
                    }
                }
                ["index", material] => {
                    index_root = Some(
                        key32(material).ok_or_else(|| bad(n, "index key must be 64 hex digits"))?,
                    )
                }
                ["signing", material] => {
                    signing_pkcs8 = Some(Zeroizing::new(
                        from_hex(material).ok_or_else(|| bad(n, "signing key must be hex"))?,
                    ))
                }
                _ => return Err(bad(n, "unrecognised line")),
            }
        }
        let missing = |what: &str| CryptoError::KeyFile(format!("missing `{what}` line"));
        if !format_seen {
            return Err(missing("format"));
        }
        let primary = primary.ok_or_else(|| missing("primary"))?;
        if !keks.contains_key(&primary) {
            return Err(CryptoError::KeyFile(format!(
                "primary version {primary} has no key line"
            )));
        }
        let signing_pkcs8 = signing_pkcs8.ok_or_else(|| missing("signing"))?;
        let signing = Ed25519KeyPair::from_pkcs8(&signing_pkcs8).map_err(|_| {
            CryptoError::KeyFile("the signing key is not an Ed25519 PKCS#8 document".into())
        })?;
        Ok(KeyRing {
            keks,
            primary,
            index_root: index_root.ok_or_else(|| missing("index"))?,
            signing_pkcs8,
            signing,
            environment: environment.ok_or_else(|| missing("environment"))?,
        })
    }

    /// The key file's text. It holds every secret of the ring: write it only to a 0600 file.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut s = String::from(
            "# hotline master keys. SECRET: keep this file outside the database host and its\n\
             # backups, mode 0600. Losing it makes every encrypted record unreadable.\n",
        );
        s.push_str(&format!("format {FORMAT}\n"));
        s.push_str(match self.environment {
            KeyEnvironment::Development => "environment development\n",
            KeyEnvironment::Production => "environment production\n",
        });
        s.push_str(&format!("primary {}\n", self.primary));
        for (v, k) in &self.keks {
            s.push_str(&format!("key {v} {}\n", hex(k.bytes())));
        }
        s.push_str(&format!("index {}\n", hex(self.index_root.bytes())));
        s.push_str(&format!("signing {}\n", hex(&self.signing_pkcs8)));
        Zeroizing::new(s)
    }

    /// Reads a key file. A file readable by group or others is refused: it holds every secret.
    pub fn load(path: &Path) -> Result<Self, CryptoError> {
        let meta = fs::metadata(path)
            .map_err(|e| CryptoError::KeyFile(format!("{}: {e}", path.display())))?;
        if meta.permissions().mode() & 0o077 != 0 {
            return Err(CryptoError::KeyFile(format!(
                "{} is readable by group or others (mode {:o}); chmod 600 it",
                path.display(),
                meta.permissions().mode() & 0o777
            )));
        }
        let text = Zeroizing::new(
            fs::read_to_string(path)
                .map_err(|e| CryptoError::KeyFile(format!("{}: {e}", path.display())))?,
        );
        Self::parse(&text).map_err(|e| match e {
            CryptoError::KeyFile(m) => CryptoError::KeyFile(format!("{}: {m}", path.display())),
            other => other,
        })
    }

    /// Writes the key file atomically (temp file, fsync, rename, fsync of the directory), mode
    /// 0600: a crash leaves either the old file or the new one, never a torn one.
    pub fn save(&self, path: &Path) -> Result<(), CryptoError> {
        let io = |e: std::io::Error| CryptoError::KeyFile(format!("{}: {e}", path.display()));
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io)?;
        }
        let tmp = dir.join(format!(
            ".{}.tmp",
            path.file_name().and_then(|n| n.to_str()).unwrap_or("keys")
        ));
        let _ = fs::remove_file(&tmp);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(io)?;
        file.write_all(self.to_text().as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
        drop(file);
        fs::rename(&tmp, path).map_err(io)?;
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
        Ok(())
    }

    pub fn environment(&self) -> KeyEnvironment {
        self.environment
    }

    pub fn primary(&self) -> u32 {
        self.primary
    }

    /// Master key versions present, oldest first.
    pub fn versions(&self) -> Vec<u32> {
        self.keks.keys().copied().collect()
    }

    /// Adds a new master key version and makes it primary; returns its number.
    pub fn add_version(&mut self) -> Result<u32, CryptoError> {
        let next = self.keks.keys().next_back().copied().unwrap_or(0) + 1;
        self.keks.insert(next, SecretKey::random()?);
        self.primary = next;
        Ok(next)
    }

    /// Destroys a master key version. The primary cannot be removed.
    pub fn remove_version(&mut self, version: u32) -> Result<(), CryptoError> {
        if version == self.primary {
            return Err(CryptoError::Invalid(format!(
                "version {version} is the primary"
            )));
        }
        self.keks
            .remove(&version)
            .map(drop)
            .ok_or(CryptoError::MissingKeyVersion(version))
    }

    pub(crate) fn kek(&self, version: u32) -> Result<&SecretKey, CryptoError> {
        self.keks
            .get(&version)
            .ok_or(CryptoError::MissingKeyVersion(version))
    }

    pub(crate) fn index_root(&self) -> &SecretKey {
        &self.index_root
    }

    pub(crate) fn signing_key(&self) -> &Ed25519KeyPair {
        &self.signing
    }

    /// A 256-bit key for one named purpose (token HMACs, JWT signing, pseudonyms), derived from
    /// the index root with HKDF-SHA256 so that each purpose has its own independent key and no
    /// key file change is needed to add one. Stable across master key rotations.
    pub fn purpose_key(&self, purpose: &str) -> Result<SecretKey, CryptoError> {
        struct Len;
        impl ring::hkdf::KeyType for Len {
            fn len(&self) -> usize {
                32
            }
        }
        let info = crate::encoding::lp(&[b"purpose", purpose.as_bytes()]);
        let info_parts = [info.as_slice()];
        let mut out = [0u8; 32];
        ring::hkdf::Salt::new(ring::hkdf::HKDF_SHA256, b"hotline-purpose-key-v1")
            .extract(self.index_root.bytes())
            .expand(&info_parts, Len)
            .and_then(|okm| okm.fill(&mut out))
            .map_err(|_| CryptoError::Invalid("HKDF output length".into()))?;
        Ok(SecretKey::from_bytes(out))
    }

    /// The public half of the checkpoint signing key (for auditors' own verification).
    pub fn signing_public_key(&self) -> Vec<u8> {
        self.signing.public_key().as_ref().to_vec()
    }
}

fn key32(material: &str) -> Option<SecretKey> {
    let bytes = Zeroizing::new(from_hex(material)?);
    let array: [u8; 32] = bytes.as_slice().try_into().ok()?;
    Some(SecretKey::from_bytes(array))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_debug_shows_no_key() {
        let mut ring = KeyRing::generate(KeyEnvironment::Development).unwrap();
        ring.add_version().unwrap();
        let text = ring.to_text();
        let back = KeyRing::parse(&text).unwrap();
        assert_eq!(back.versions(), vec![1, 2]);
        assert_eq!(back.primary(), 2);
        assert_eq!(back.environment(), KeyEnvironment::Development);
        assert_eq!(back.kek(1).unwrap().bytes(), ring.kek(1).unwrap().bytes());
        assert_eq!(back.signing_public_key(), ring.signing_public_key());
        let debug = format!("{ring:?} {:?}", ring.kek(1).unwrap());
        let key_hex = hex(ring.kek(1).unwrap().bytes());
        assert!(!debug.contains(&key_hex[..16]), "{debug}");
        assert!(debug.contains("[redacted]"));
    }

    #[test]
    fn bad_files_name_the_line_but_not_the_content() {
        let ring = KeyRing::generate(KeyEnvironment::Production).unwrap();
        let good = ring.to_text().to_string();
        let secret = hex(ring.kek(1).unwrap().bytes());
        let cases = [
            (good.replace(&secret, &secret[..60]), "64 hex"),
            (good.replace("primary 1", "primary 7"), "primary version 7"),
            (
                good.replace("format hotline-keys-1\n", ""),
                "missing `format`",
            ),
            (
                good.replace("environment production", "environment staging"),
                "unrecognised line",
            ),
            (format!("{good}key 1 {secret}\n"), "repeated"),
        ];
        for (text, expected) in cases {
            let err = KeyRing::parse(&text).unwrap_err().to_string();
            assert!(err.contains(expected), "{err}");
            assert!(!err.contains(&secret[..16]), "{err}");
        }
    }

    #[test]
    fn versions_are_added_and_removed_but_never_the_primary() {
        let mut ring = KeyRing::generate(KeyEnvironment::Development).unwrap();
        assert_eq!(ring.add_version().unwrap(), 2);
        assert!(ring.remove_version(2).is_err());
        ring.remove_version(1).unwrap();
        assert_eq!(ring.versions(), vec![2]);
        assert_eq!(
            ring.remove_version(1),
            Err(CryptoError::MissingKeyVersion(1))
        );
    }

    #[test]
    fn files_are_private_and_wide_ones_are_refused() {
        let dir = std::env::temp_dir().join(format!(
            "hotline-keyring-{}",
            crate::random::hex_id::<8>().unwrap()
        ));
        let path = dir.join("master.keys");
        let ring = KeyRing::generate(KeyEnvironment::Development).unwrap();
        ring.save(&path).unwrap();
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(KeyRing::load(&path).unwrap().primary(), 1);
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(KeyRing::load(&path)
            .unwrap_err()
            .to_string()
            .contains("chmod 600"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
