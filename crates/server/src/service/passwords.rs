//! Argon2id password hashing, off the async runtime.

use argon2::password_hash::{rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::error::AppError;

/// Argon2id with fixed parameters (defaults: OWASP's 19 MiB, 2 iterations, 1 lane).
pub struct Hasher {
    argon2: Argon2<'static>,
    /// Hash of a random password, verified against when a username is unknown so that login
    /// takes the same time either way.
    decoy: String,
}

impl Hasher {
    /// Builds a hasher; errors if the parameters are out of Argon2's range.
    pub fn new(memory_kib: u32, iterations: u32) -> Result<Self, argon2::Error> {
        let params = Params::new(memory_kib, iterations, 1, None)?;
        let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        let salt = SaltString::generate(&mut OsRng);
        let decoy = argon2
            .hash_password(salt.as_str().as_bytes(), &salt)
            .map_err(|_| argon2::Error::AlgorithmInvalid)?
            .to_string();
        Ok(Self { argon2, decoy })
    }

    /// PHC string for `password`, computed on the blocking pool.
    pub async fn hash(self: &std::sync::Arc<Self>, password: String) -> Result<String, AppError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let salt = SaltString::generate(&mut OsRng);
            this.argon2
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| AppError::Internal(e.to_string().into()))
        })
        .await?
    }

    /// Whether `password` matches `hash` (the decoy when `None`, always `false`), computed on
    /// the blocking pool.
    pub async fn verify(self: &std::sync::Arc<Self>, password: String, hash: Option<String>) -> Result<bool, AppError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || {
            let real = hash.is_some();
            let phc = hash.unwrap_or_else(|| this.decoy.clone());
            let parsed = PasswordHash::new(&phc).map_err(|e| AppError::Internal(e.to_string().into()))?;
            Ok(real && this.argon2.verify_password(password.as_bytes(), &parsed).is_ok())
        })
        .await?
    }
}
