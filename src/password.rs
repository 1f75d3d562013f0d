//! Password hashing (argon2id) whose memory is bounded by design.
//!
//! Each hash uses OWASP's argon2id parameters (m=19456 KiB, t=2, p=1): a 19 MiB work area and
//! ~14 ms of one core here. At most `--hash-concurrency` hashes run at once, on tokio's
//! blocking threads behind a semaphore, so a login storm queues instead of starving requests.
//!
//! **Where the 19 MiB comes from.** argon2's own `hash_password` allocates the work area with
//! the global allocator and frees it afterwards. glibc serves the first such block with `mmap`,
//! then raises its mmap threshold to the freed size, so every later block comes from a heap
//! arena and stays there when freed, in as many arenas as there are threads. Measured on a
//! release build (issue 9): 40 parallel signups left the server at 594–614 MB, 200 signups and
//! 200 logins at 750 MB to 1.2 GB, and failed logins for unknown accounts (which verify a dummy
//! hash) did the same. A 512 MB Raspberry Pi is killed by a few dozen logins.
//!
//! **What we do instead.** [`HashMemory`] maps each work area itself (anonymous `mmap`), never
//! through the allocator, and hands it out as argon2 `Block`s:
//! - while hashes overlap, a finished area goes back to a small pool and the next hash reuses
//!   it (there are never more than `--hash-concurrency` areas, because each lease holds a
//!   semaphore permit);
//! - when the last running hash finishes, every area is unmapped, so an idle server holds none.
//!
//! So memory for hashing is at most `--hash-concurrency` × 19 MiB while hashing and zero after.
//! Measured here (single core, same binary): a reused area costs 13.6 ms per hash, a fresh
//! `mmap` per hash 17–18 ms (page faults and zeroing), 14.7 ms with transparent huge pages
//! requested (`MADV_HUGEPAGE`, asked for on every area where the kernel has them). Under a
//! storm the pool keeps the 13.6 ms; a lone login pays the ~1–4 ms of a fresh area, which no
//! person notices. After 200 signups and 200 logins RSS grows by a few MB instead of ~1 GB
//! (`tests/memory.rs`).

use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use memmap2::MmapMut;
use tokio::sync::Semaphore;

use crate::error::{ApiError, ApiResult};

/// The argon2id parameters of every hash natter makes (OWASP: m=19 MiB, t=2, p=1).
const M_COST_KIB: u32 = 19 * 1024;
const T_COST: u32 = 2;
const P_COST: u32 = 1;
/// Bytes of random salt per hash, and bytes of hash output.
const SALT_LEN: usize = 16;
const OUTPUT_LEN: usize = 32;
/// The largest work area a stored hash may ask for when it is verified (1 GiB): a hash made with
/// other parameters still verifies, but a corrupt one cannot make us map any amount.
const MAX_M_COST_KIB: u32 = 1024 * 1024;

fn params() -> Params {
    // Constants within argon2's bounds; `Params::new` only fails outside them.
    Params::new(M_COST_KIB, T_COST, P_COST, Some(OUTPUT_LEN)).expect("natter's argon2 parameters are valid")
}

/// Work areas for argon2, mapped by us and returned to the operating system when no hash runs.
#[derive(Default)]
pub struct HashMemory {
    pool: Mutex<Pool>,
}

#[derive(Default)]
struct Pool {
    /// Finished areas of the standard size, kept while another hash is still running.
    idle: Vec<MmapMut>,
    /// Leases out now.
    busy: usize,
}

/// One hash's work area; back to the pool (or unmapped) when dropped.
struct Lease<'a> {
    memory: &'a HashMemory,
    area: Option<MmapMut>,
    blocks: usize,
}

impl HashMemory {
    fn pool(&self) -> std::sync::MutexGuard<'_, Pool> {
        // The pool holds only counts and mappings; a panic elsewhere cannot leave it inconsistent.
        crate::sync::lock(&self.pool)
    }

    /// An area of `blocks` argon2 blocks (1 KiB each): a pooled one if one is idle and fits,
    /// else a fresh mapping.
    fn lease(&self, blocks: usize) -> std::io::Result<Lease<'_>> {
        let bytes = blocks * std::mem::size_of::<Block>();
        let reused = {
            let mut pool = self.pool();
            pool.busy += 1;
            pool.idle.pop()
        };
        let mut lease = Lease { memory: self, area: reused, blocks };
        if lease.area.as_ref().is_none_or(|area| area.len() != bytes) {
            let area = MmapMut::map_anon(bytes)?;
            // Huge pages, where the kernel offers them: fewer page faults for a fresh area
            // (17.6 → 14.7 ms per hash measured). Refused on some kernels; nothing depends on it.
            #[cfg(target_os = "linux")]
            let _ = area.advise(memmap2::Advice::HugePage);
            lease.area = Some(area);
        }
        Ok(lease)
    }

    /// Mapped areas right now, busy or idle (for tests).
    pub fn mapped(&self) -> usize {
        let pool = self.pool();
        pool.busy + pool.idle.len()
    }
}

impl Lease<'_> {
    fn blocks(&mut self) -> &mut [Block] {
        let area = self.area.as_mut().expect("a lease holds its area until dropped");
        // SAFETY: the mapping is page-aligned (more than `Block`'s 64-byte alignment), at least
        // `blocks` × size_of::<Block>() bytes long (checked in `lease`), readable and writable,
        // and owned by this lease alone for the borrow's lifetime. `Block` is plain `u64`s, so
        // any bytes (zeroes from the kernel, an earlier hash's state) are a valid value.
        unsafe { std::slice::from_raw_parts_mut(area.as_mut_ptr().cast::<Block>(), self.blocks) }
    }
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        let mut pool = self.memory.pool();
        pool.busy -= 1;
        if pool.busy == 0 {
            // No hash running: give everything back to the operating system.
            pool.idle.clear();
        } else if let Some(area) = self.area.take()
            && area.len() == M_COST_KIB as usize * std::mem::size_of::<Block>()
        {
            pool.idle.push(area);
        }
    }
}

/// Hash `password` with a fresh random salt into a PHC string (`$argon2id$v=19$m=19456,...`).
fn hash_with(memory: &HashMemory, password: &str) -> Result<String, String> {
    let mut salt = [0u8; SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| format!("no random salt: {e}"))?;
    let params = params();
    let mut out = [0u8; OUTPUT_LEN];
    let mut lease = memory.lease(params.block_count()).map_err(|e| format!("cannot map hash memory: {e}"))?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut out, lease.blocks())
        .map_err(|e| e.to_string())?;
    drop(lease);
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| e.to_string())?,
        salt: Some(Salt::new(&salt).map_err(|e| e.to_string())?),
        hash: Some(Output::new(&out).map_err(|e| e.to_string())?),
    };
    Ok(phc.to_string())
}

/// Whether `password` matches the PHC string `hash`. A malformed hash matches nothing.
fn verify_with(memory: &HashMemory, password: &str, hash: &str) -> bool {
    let Ok(phc) = PasswordHash::new(hash) else { return false };
    let (Some(salt), Some(expected)) = (&phc.salt, &phc.hash) else { return false };
    let Ok(algorithm) = Algorithm::try_from(phc.algorithm.as_str()) else { return false };
    let Some(Ok(version)) = phc.version.map(Version::try_from) else { return false };
    let Ok(params) = Params::try_from(&phc) else { return false };
    if params.m_cost() > MAX_M_COST_KIB {
        return false;
    }
    let Ok(mut lease) = memory.lease(params.block_count()) else { return false };
    let mut out = vec![0u8; expected.len()];
    let hashed = Argon2::new(algorithm, version, params).hash_password_into_with_memory(
        password.as_bytes(),
        salt,
        &mut out,
        lease.blocks(),
    );
    // `Output`'s comparison is constant-time.
    hashed.is_ok() && Output::new(&out).is_ok_and(|out| out == *expected)
}

/// A hash for the CLI (one process, one hash): its own work area, unmapped when done.
pub fn hash_blocking(password: &str) -> Result<String, String> {
    hash_with(&HashMemory::default(), password)
}

/// Password hashing for the server: bounded concurrency, bounded memory, equal cost for known
/// and unknown accounts.
pub struct Passwords {
    permits: Semaphore,
    memory: Arc<HashMemory>,
    /// Verified when a login names no account, so that "no such user" costs what "wrong
    /// password" costs.
    dummy_hash: String,
}

impl Passwords {
    /// `concurrency` hashes at once (at least one). Fails only if the dummy hash cannot be
    /// made, in which case unknown-account logins would answer faster than wrong passwords.
    pub fn new(concurrency: usize) -> Result<Passwords, String> {
        let memory = Arc::new(HashMemory::default());
        let dummy_hash = hash_with(&memory, "natter-dummy-password")?;
        Ok(Passwords { permits: Semaphore::new(concurrency.max(1)), memory, dummy_hash })
    }

    pub async fn hash(&self, password: String) -> ApiResult<String> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        let memory = self.memory.clone();
        tokio::task::spawn_blocking(move || hash_with(&memory, &password))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)
    }

    /// Check `password` against `hash`, or against the dummy hash when there is no account.
    pub async fn verify(&self, password: String, hash: Option<String>) -> ApiResult<bool> {
        let _permit = self.permits.acquire().await.map_err(ApiError::internal)?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let memory = self.memory.clone();
        let ok = tokio::task::spawn_blocking(move || verify_with(&memory, &password, &hash))
            .await
            .map_err(ApiError::internal)?;
        Ok(ok && known)
    }

    /// Work areas mapped right now (zero when no hash runs).
    pub fn mapped_areas(&self) -> usize {
        self.memory.mapped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let memory = HashMemory::default();
        let hash = hash_with(&memory, "correct horse").unwrap();
        assert!(hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{hash}");
        assert!(verify_with(&memory, "correct horse", &hash));
        assert!(!verify_with(&memory, "correct horsf", &hash));
        assert!(!verify_with(&memory, "correct horse", "not a hash"));
        assert!(!verify_with(&memory, "correct horse", ""));
        assert_eq!(memory.mapped(), 0, "nothing stays mapped once no hash runs");
    }

    #[test]
    fn hashes_made_by_argon2s_own_api_still_verify() {
        // Accounts created before this module (argon2's `PasswordHasher`) must keep logging in,
        // including hashes with other parameters.
        use argon2::password_hash::PasswordHasher;
        let memory = HashMemory::default();
        let standard = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(M_COST_KIB, 2, 1, None).unwrap());
        let other = Argon2::new(Algorithm::Argon2i, Version::V0x10, Params::new(4096, 3, 1, None).unwrap());
        for hasher in [standard, other] {
            let hash = hasher.hash_password(b"password123").unwrap().to_string();
            assert!(verify_with(&memory, "password123", &hash), "{hash}");
            assert!(!verify_with(&memory, "password124", &hash), "{hash}");
        }
        // And ours verify with argon2's own verifier.
        use argon2::password_hash::PasswordVerifier;
        let ours = hash_with(&memory, "password123").unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(Argon2::default().verify_password(b"password123", &parsed).is_ok());
    }

    #[test]
    fn a_hash_asking_for_more_than_a_gibibyte_is_refused_without_mapping_it() {
        let memory = HashMemory::default();
        let huge = "$argon2id$v=19$m=4194304,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
        assert!(!verify_with(&memory, "x", huge));
    }

    #[test]
    fn overlapping_hashes_share_areas_and_release_them_all_at_the_end() {
        let memory = HashMemory::default();
        let blocks = params().block_count();
        let first = memory.lease(blocks).unwrap();
        let second = memory.lease(blocks).unwrap();
        assert_eq!(memory.mapped(), 2);
        drop(first);
        assert_eq!(memory.mapped(), 2, "kept for reuse while another hash runs");
        let third = memory.lease(blocks).unwrap();
        assert_eq!(memory.mapped(), 2, "the idle area is reused, not a new one mapped");
        drop(second);
        drop(third);
        assert_eq!(memory.mapped(), 0);
    }
}
