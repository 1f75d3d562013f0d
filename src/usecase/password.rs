//! Password hashing (argon2id) whose memory is bounded by design.
//!
//! Each hash uses OWASP's argon2id parameters (m=19456 KiB, t=2, p=1): a 19 MiB work area and
//! ~14 ms of one core here. At most `--hash-concurrency` hashes run at once, behind a semaphore,
//! on threads of their own that run at a lower CPU priority (nice +5, [`HashThreads`]): when
//! the machine is busy, chat traffic goes first and a login storm waits, instead of the storm's
//! hashes taking their fair half of every core. At most `--hash-queue` more wait for a turn.
//!
//! **Where the 19 MiB comes from.** argon2's own `hash_password` allocates the work area with
//! the global allocator and frees it afterwards. glibc serves the first such block with `mmap`,
//! then raises its mmap threshold to the freed size, so every later block comes from a heap
//! arena and stays there when freed, in as many arenas as there are threads. Measured on a
//! release build: 40 parallel signups left the server at 594–614 MB, 200 signups and
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
//! (`tests/it/memory.rs`).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use memmap2::MmapMut;
use tokio::sync::{Semaphore, SemaphorePermit};

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
        crate::runtime::mutexes::lock(&self.pool)
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

/// How much lower than the rest of natter hashing runs (`nice` +5: the kernel then gives a busy
/// hash thread about a third of the CPU a busy request thread gets; +10, a tenth, made 200
/// logins on a saturated 2-core VM take 13–46 s).
const HASH_NICE: i32 = 5;

/// The threads hashes run on: `count` of them, started on first use, each lowered to
/// [`HASH_NICE`] once. A nice value cannot be raised back without privileges, so these are not
/// tokio's blocking threads (which also run SQLite reads). The caller's semaphore permit keeps
/// at most `count` jobs here at once, so none waits in the channel.
struct HashThreads {
    count: usize,
    jobs: std::sync::OnceLock<std::sync::mpsc::Sender<Job>>,
}

type Job = Box<dyn FnOnce() + Send>;

impl HashThreads {
    fn new(count: usize) -> Self {
        HashThreads { count: count.max(1), jobs: std::sync::OnceLock::new() }
    }

    /// Run `work` on a hash thread; its result.
    async fn run<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> ApiResult<T> {
        let (done, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = done.send(work());
        });
        self.jobs().send(job).map_err(|_| ApiError::internal("the hash threads are gone"))?;
        result.await.map_err(|_| ApiError::internal("a hash thread failed"))
    }

    fn jobs(&self) -> &std::sync::mpsc::Sender<Job> {
        self.jobs.get_or_init(|| {
            let (sender, receiver) = std::sync::mpsc::channel::<Job>();
            let receiver = Arc::new(Mutex::new(receiver));
            for n in 0..self.count {
                let receiver = receiver.clone();
                let spawned = std::thread::Builder::new().name(format!("natter-hash-{n}")).spawn(move || {
                    lower_priority();
                    loop {
                        let job = crate::runtime::mutexes::lock(&receiver).recv();
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
                if let Err(e) = spawned {
                    tracing::error!(error = %e, "cannot start a password hashing thread");
                }
            }
            sender
        })
    }
}

/// Lower the calling thread's CPU priority to [`HASH_NICE`] (Linux: a nice value is per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain system calls on the calling thread, no memory passed.
        let failed = unsafe {
            let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, HASH_NICE) != 0
        };
        if failed {
            tracing::warn!(error = %std::io::Error::last_os_error(), "cannot lower the priority of password hashing");
        }
    }
}

/// Password hashing for the server: bounded concurrency, bounded memory, equal cost for known
/// and unknown accounts.
pub struct Passwords {
    threads: HashThreads,
    permits: Semaphore,
    /// Hashes waiting for a permit now, and how many may (`--hash-queue`).
    waiting: AtomicUsize,
    max_waiting: usize,
    memory: Arc<HashMemory>,
    /// Verified when a login names no account, so that "no such user" costs what "wrong
    /// password" costs.
    dummy_hash: String,
}

impl Passwords {
    /// `concurrency` hashes at once (at least one), and at most `max_waiting` more waiting for
    /// their turn. Fails only if the dummy hash cannot be made, in which case unknown-account
    /// logins would answer faster than wrong passwords.
    pub fn new(concurrency: usize, max_waiting: usize) -> Result<Passwords, String> {
        let memory = Arc::new(HashMemory::default());
        let dummy_hash = hash_with(&memory, "natter-dummy-password")?;
        Ok(Passwords {
            threads: HashThreads::new(concurrency),
            permits: Semaphore::new(concurrency.max(1)),
            waiting: AtomicUsize::new(0),
            max_waiting,
            memory,
            dummy_hash,
        })
    }

    /// A turn to hash. When every permit is taken and `max_waiting` hashes already wait, 503
    /// `unavailable` at once: in a login storm the last in line would otherwise wait longer
    /// than `--request-timeout` and get a 500, and the waiting requests hold memory meanwhile.
    async fn turn(&self) -> ApiResult<SemaphorePermit<'_>> {
        if let Ok(permit) = self.permits.try_acquire() {
            return Ok(permit);
        }
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::Relaxed);
            }
        }
        let ahead = self.waiting.fetch_add(1, Ordering::Relaxed);
        let _waiting = Waiting(&self.waiting);
        if ahead >= self.max_waiting {
            return Err(ApiError::Busy("Too many sign-ins at once; try again in a second."));
        }
        self.permits.acquire().await.map_err(ApiError::internal)
    }

    pub async fn hash(&self, password: String) -> ApiResult<String> {
        let _permit = self.turn().await?;
        let memory = self.memory.clone();
        self.threads.run(move || hash_with(&memory, &password)).await?.map_err(ApiError::internal)
    }

    /// Check `password` against `hash`, or against the dummy hash when there is no account.
    pub async fn verify(&self, password: String, hash: Option<String>) -> ApiResult<bool> {
        let _permit = self.turn().await?;
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        let memory = self.memory.clone();
        let ok = self.threads.run(move || verify_with(&memory, &password, &hash)).await?;
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

    #[tokio::test]
    async fn hashes_past_the_queue_get_503_at_once() {
        let passwords = Passwords::new(1, 1).unwrap();
        let running = passwords.turn().await.unwrap();
        // One may wait for the slot...
        let waiter = passwords.turn();
        tokio::pin!(waiter);
        let pending = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(std::future::Future::poll(waiter.as_mut(), cx).is_pending())
        });
        assert!(pending.await, "waits for the slot");
        // ...the next is refused without waiting, with the SPEC's 503.
        let refused = passwords.verify("x".into(), None).await.unwrap_err();
        assert_eq!((refused.code(), refused.retry_after()), ("unavailable", Some(1)), "{refused:?}");
        drop(running);
        drop(waiter.await.unwrap());
        assert!(passwords.verify("x".into(), None).await.is_ok(), "served again once the queue drained");
    }

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
