//! Password hashing: argon2id, m = 19 MiB, t = 2, p = 1 (OWASP), as PHC strings.

use argon2::password_hash::{self, Output, ParamsString, PasswordHash, Salt, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use std::sync::{mpsc, Arc, Mutex, OnceLock};

use zeroize::Zeroizing;

use crate::CryptoError;

pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

fn policy() -> Result<Argon2<'static>, CryptoError> {
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None)
        .map_err(|_| CryptoError::Invalid("argon2 parameters".into()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// A job for the hashing threads.
type Job = Box<dyn FnOnce() + Send>;

/// The hashing threads: as many as the machine has cores (at most 4), started at first use
/// and kept. glibc keeps memory a thread frees in that thread's arena (and after the first
/// large free it stops returning such buffers to the system), so every thread that ever ran
/// argon2id kept its 19 MiB or more: hashing on the server's blocking pool (up to hundreds of
/// threads) left 470-510 MiB resident after 30 sign-ins, six at a time. On a few threads of its
/// own the memory kept is bounded by their number, and throughput is unchanged: argon2id is
/// bound by the cores. (`MALLOC_MMAP_THRESHOLD_=4194304` in the environment makes glibc return
/// the buffers altogether: docs/operations.md.)
fn hashing_threads() -> &'static mpsc::Sender<Job> {
    static THREADS: OnceLock<mpsc::Sender<Job>> = OnceLock::new();
    THREADS.get_or_init(|| {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let count = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2)
            .clamp(1, 4);
        for i in 0..count {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("argon2id-{i}"))
                .spawn(move || loop {
                    let job = receiver.lock().unwrap_or_else(|p| p.into_inner()).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                });
            if spawned.is_err() {
                break;
            }
        }
        sender
    })
}

/// Runs `f` on a hashing thread and waits for its result (on the caller's thread if none runs).
fn on_hashing_thread<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::sync_channel(1);
    let job: Job = Box::new(move || {
        let _ = done.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)));
    });
    if let Err(mpsc::SendError(job)) = hashing_threads().send(job) {
        job();
    }
    match result.recv() {
        Ok(Ok(value)) => value,
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => panic!("a hashing thread is gone"),
    }
}

thread_local! {
    /// The hashing thread's argon2id memory, kept for the thread's life (see above) and zeroed
    /// after every use.
    static MEMORY: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// argon2id of `password` under `argon` with this salt, in the thread's own memory: what
/// `PasswordHasher::hash_password` does, minus its 19 MiB allocation per call.
fn compute(
    argon: &Argon2<'_>,
    password: &[u8],
    salt: Salt<'_>,
    output_len: usize,
) -> Result<Output, CryptoError> {
    let mut salt_bytes = [0u8; 64];
    let salt_bytes = salt
        .decode_b64(&mut salt_bytes)
        .map_err(|_| CryptoError::Malformed)?;
    MEMORY.with_borrow_mut(|memory| {
        let needed = argon.params().block_count();
        if memory.len() < needed {
            memory.resize(needed, Block::default());
        }
        let output = Output::init_with(output_len, |out| {
            argon
                .hash_password_into_with_memory(password, salt_bytes, out, &mut memory[..])
                .map_err(|_| password_hash::Error::Password)
        })
        .map_err(|_| CryptoError::Invalid("password hashing failed".into()));
        memory.fill(Block::default());
        output
    })
}

/// Hashes a password with a fresh 128-bit salt from the system's random generator.
pub fn hash(password: &str) -> Result<String, CryptoError> {
    let salt = SaltString::encode_b64(&crate::random::bytes::<16>()?)
        .map_err(|_| CryptoError::Invalid("salt".into()))?;
    let argon = policy()?;
    let password = Zeroizing::new(password.as_bytes().to_vec());
    on_hashing_thread(move || {
        let output = compute(
            &argon,
            &password,
            salt.as_salt(),
            Params::DEFAULT_OUTPUT_LEN,
        )?;
        let phc = PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(argon.params())
                .map_err(|_| CryptoError::Invalid("argon2 parameters".into()))?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        };
        Ok(phc.to_string())
    })
}

/// Checks a password against a stored PHC string, in constant time for the comparison, using the
/// parameters stored with the hash. A malformed stored hash is an error, never a match.
pub fn verify(password: &str, stored: &str) -> Result<bool, CryptoError> {
    let parsed = PasswordHash::new(stored).map_err(|_| CryptoError::Malformed)?;
    if parsed.algorithm != argon2::ARGON2ID_IDENT {
        return Err(CryptoError::UnknownFormat);
    }
    let stored = stored.to_string();
    let password = Zeroizing::new(password.as_bytes().to_vec());
    on_hashing_thread(move || {
        let parsed = PasswordHash::new(&stored).map_err(|_| CryptoError::Malformed)?;
        let params = Params::try_from(&parsed).map_err(|_| CryptoError::Malformed)?;
        let version = parsed
            .version
            .map(Version::try_from)
            .transpose()
            .map_err(|_| CryptoError::Malformed)?
            .unwrap_or_default();
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return Err(CryptoError::Malformed);
        };
        let argon = Argon2::new(Algorithm::Argon2id, version, params);
        // A stored hash this code cannot reproduce (bad salt, bad length) is no match.
        Ok(compute(&argon, &password, salt, expected.len()).is_ok_and(|output| output == expected))
    })
}

/// Whether a stored hash is weaker than the policy (or not argon2id) and should be replaced at
/// the next successful login.
pub fn needs_rehash(stored: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(stored) else {
        return true;
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return true;
    };
    parsed.algorithm != argon2::ARGON2ID_IDENT
        || parsed.version != Some(Version::V0x13 as u32)
        || params.m_cost() < MEMORY_KIB
        || params.t_cost() < ITERATIONS
        || params.p_cost() < PARALLELISM
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::password_hash::{PasswordHasher, PasswordVerifier};

    /// The hashes of this module and of the argon2 crate's own API are the same thing: each
    /// verifies the other's.
    #[test]
    fn hashes_agree_with_the_argon2_crate() {
        let ours = hash("a passphrase").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default()
            .verify_password(b"a passphrase", &parsed)
            .is_ok());
        assert!(Argon2::default()
            .verify_password(b"another passphrase", &parsed)
            .is_err());
        let theirs = policy()
            .unwrap()
            .hash_password(
                b"a passphrase",
                &SaltString::encode_b64(&[9u8; 16]).unwrap(),
            )
            .unwrap()
            .to_string();
        assert!(verify("a passphrase", &theirs).unwrap());
        assert!(!verify("a passphrase!", &theirs).unwrap());
        // Many at once, from many threads: each gets its own answer.
        std::thread::scope(|s| {
            for i in 0..6 {
                let (ours, theirs) = (&ours, &theirs);
                s.spawn(move || {
                    assert!(verify("a passphrase", ours).unwrap(), "{i}");
                    assert!(!verify("wrong", theirs).unwrap(), "{i}");
                });
            }
        });
    }

    #[test]
    fn hashes_verify_and_carry_their_parameters() {
        let h = hash("correct horse battery staple").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{h}");
        assert!(verify("correct horse battery staple", &h).unwrap());
        assert!(!verify("correct horse battery stapl", &h).unwrap());
        assert!(!needs_rehash(&h));
        assert_ne!(
            h,
            hash("correct horse battery staple").unwrap(),
            "salts differ"
        );
    }

    #[test]
    fn weaker_hashes_need_a_rehash_and_junk_is_refused() {
        let weak = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(4096, 1, 1, None).unwrap(),
        )
        .hash_password(b"pw", &SaltString::encode_b64(&[7u8; 16]).unwrap())
        .unwrap()
        .to_string();
        assert!(needs_rehash(&weak));
        assert!(
            verify("pw", &weak).unwrap(),
            "old hashes still verify, so users can log in to upgrade"
        );
        let argon2i = Argon2::new(Algorithm::Argon2i, Version::V0x13, Params::default())
            .hash_password(b"pw", &SaltString::encode_b64(&[7u8; 16]).unwrap())
            .unwrap()
            .to_string();
        assert!(needs_rehash(&argon2i));
        assert_eq!(verify("pw", &argon2i), Err(CryptoError::UnknownFormat));
        assert_eq!(verify("pw", "not a hash"), Err(CryptoError::Malformed));
        assert!(needs_rehash("not a hash"));
    }

    #[test]
    fn argon2id_matches_rfc_9106_test_vector() {
        // RFC 9106 section 5.3: Argon2id, m = 32 KiB, t = 3, p = 4, with secret and data.
        let params = argon2::ParamsBuilder::new()
            .m_cost(32)
            .t_cost(3)
            .p_cost(4)
            .output_len(32)
            .data(argon2::AssociatedData::new(&[4u8; 12]).unwrap())
            .build()
            .unwrap();
        let mut out = [0u8; 32];
        Argon2::new_with_secret(&[3u8; 8], Algorithm::Argon2id, Version::V0x13, params)
            .unwrap()
            .hash_password_into(&[1u8; 32], &[2u8; 16], &mut out)
            .unwrap();
        assert_eq!(
            crate::random::hex(&out),
            "0d640df58d78766c08c037a34a8b53c9d01ef0452d75b65eb52520e96b01e659"
        );
    }
}
