//! Session tickets any worker can open: the ticket keys live in one small shared-memory
//! page that the master maps before forking and rotates; every worker encrypts with the
//! current key and decrypts with the current or the previous one.
//!
//! A client resumed by one worker can therefore resume on any other, which a
//! per-process key (rustls's own `Ticketer`) would defeat: with N workers behind
//! `SO_REUSEPORT`, only 1 in N resumptions would land on the worker that issued the
//! ticket.
//!
//! The page holds a ring of [`SLOTS`] keys and the generation of the current one. A
//! rotation writes the next slot (erasing the key two generations old, so a stolen
//! ticket stops opening after at most two periods) and then publishes the generation.
//! A ticket is `key name ‖ nonce ‖ AES-256-GCM(session state) ‖ tag`, the key name
//! authenticated as associated data.
//!
//! Memory ordering, across processes (lock-free atomics work on a shared mapping as
//! they do between threads, as for `heartbeat`): the master is the only writer. Each
//! slot is a seqlock: the writer makes its sequence odd, writes the key words, then
//! makes it even again with Release; a reader loads the sequence with Acquire, the words
//! Relaxed, then (after an Acquire fence) the sequence again, and trusts the words only
//! if both loads saw the same even value. The current generation is published with
//! Release after its slot is written and loaded with Acquire, so a worker that sees a
//! generation also sees its key. Rotations are an hour apart and touch only a slot no
//! reader uses (neither current nor previous), so a reader never actually waits or
//! fails; the seqlock makes even that impossible case a clean "no key" (a full
//! handshake) instead of a torn key.

use std::cell::Cell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering, fence};
use std::time::{Duration, Instant};

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::rand::{SecureRandom, SystemRandom};
use rustls::server::ProducesTickets;

/// How often the master rotates the ticket key. A ticket opens for between one and two
/// periods (while its key is current or previous); clients are told one.
pub const ROTATE_EVERY: Duration = Duration::from_secs(60 * 60);

/// Keys kept: the current, the previous (still opens tickets), and the one being
/// written at the next rotation.
const SLOTS: usize = 3;
/// Names the key a ticket was sealed with, in clear at its start.
const NAME_LEN: usize = 16;
const KEY_LEN: usize = 32;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = NAME_LEN + NONCE_LEN;
/// The longest ticket we try to open. rustls's session state without client
/// certificates is a few hundred bytes; anything much longer is not one of ours and is
/// refused before any work.
const MAX_TICKET: usize = 4096;

/// One key as stored: words, so that a read racing a write is defined (atomics), and a
/// seqlock sequence to tell whether it raced.
#[repr(C)]
struct Slot {
    /// Even: stable; odd: the master is writing it.
    seq: AtomicU64,
    name: [AtomicU64; NAME_LEN / 8],
    key: [AtomicU64; KEY_LEN / 8],
}

/// The shared page.
#[repr(C)]
struct Shared {
    /// The current key's generation; its slot is `generation % SLOTS`.
    current: AtomicU64,
    slots: [Slot; SLOTS],
}

/// A key read out of its slot.
struct Key {
    name: [u8; NAME_LEN],
    key: [u8; KEY_LEN],
}

/// The master's handle on the shared keys: it creates them before forking and rotates
/// them; workers only use the [`Ticketer`] a `ServerConfig` holds.
pub struct TicketKeys {
    shared: &'static Shared,
    /// When the master last rotated (its own clock; workers never look).
    rotated: Cell<Instant>,
}

/// The workers' side: seals with the current key, opens with the current or previous.
pub struct Ticketer {
    shared: &'static Shared,
}

impl TicketKeys {
    /// Maps the page and fills the first key from the OS's random generator. Once per
    /// master: the page is never unmapped, so every `ServerConfig` built from it (and
    /// every forked worker) can keep using it.
    pub fn new() -> std::io::Result<TicketKeys> {
        let len = size_of::<Shared>();
        // SAFETY: an anonymous mapping with no address hint touches no existing memory;
        // the result is checked for MAP_FAILED before use.
        let ptr = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED | libc::MAP_ANONYMOUS,
                -1,
                0,
            )
        };
        if ptr == libc::MAP_FAILED {
            return Err(std::io::Error::last_os_error());
        }
        // Keys have no business in a core dump. Best effort: a kernel without it still
        // serves.
        // SAFETY: advice on the mapping just made, its exact extent.
        unsafe { libc::madvise(ptr, len, libc::MADV_DONTDUMP) };
        // SAFETY: the mapping is page-aligned (enough for AtomicU64), zero-filled (all
        // zeros is a valid `Shared`: atomics of any bit pattern), `len` bytes long and
        // never unmapped, so 'static is honest.
        let shared = unsafe { &*ptr.cast::<Shared>() };
        shared.slots[0].write(&Key::random()?);
        shared.current.store(0, Ordering::Release);
        Ok(TicketKeys {
            shared,
            rotated: Cell::new(Instant::now()),
        })
    }

    /// Makes a fresh key current; the previous current still opens tickets, the one
    /// before it is erased. The master's alone (one writer). If the OS gives no random
    /// bytes, the current key stays and the error is logged.
    pub fn rotate(&self) {
        let key = match Key::random() {
            Ok(key) => key,
            Err(e) => {
                crate::log::error(format_args!("TLS ticket key rotation: {e}"));
                return;
            }
        };
        let next = self.shared.current.load(Ordering::Relaxed) + 1;
        self.shared.slot(next).write(&key);
        // Publishes the key written above: pairs with the Acquire load in `current`.
        self.shared.current.store(next, Ordering::Release);
    }

    /// Rotates if [`ROTATE_EVERY`] has passed since the last rotation (or since `new`);
    /// the master calls this every turn of its loop. True if it rotated.
    pub fn rotate_if_due(&self, now: Instant) -> bool {
        if now.saturating_duration_since(self.rotated.get()) < ROTATE_EVERY {
            return false;
        }
        self.rotate();
        self.rotated.set(now);
        true
    }

    /// What a `ServerConfig` seals and opens tickets with; every copy, in every process
    /// forked after `new`, uses the same keys.
    pub fn ticketer(&self) -> Arc<dyn ProducesTickets> {
        Arc::new(Ticketer {
            shared: self.shared,
        })
    }
}

impl Shared {
    fn slot(&self, generation: u64) -> &Slot {
        &self.slots[(generation % SLOTS as u64) as usize]
    }

    /// The current key's generation.
    fn current(&self) -> u64 {
        self.current.load(Ordering::Acquire)
    }
}

impl Slot {
    /// The master's write (single writer, seqlock).
    fn write(&self, key: &Key) {
        let seq = self.seq.load(Ordering::Relaxed);
        self.seq.store(seq.wrapping_add(1), Ordering::Relaxed);
        // No word below may become visible before the odd sequence.
        fence(Ordering::Release);
        store_words(&self.name, &key.name);
        store_words(&self.key, &key.key);
        self.seq.store(seq.wrapping_add(2), Ordering::Release);
    }

    /// The key, or None if a write raced this read.
    fn read(&self) -> Option<Key> {
        let before = self.seq.load(Ordering::Acquire);
        if before % 2 == 1 {
            return None;
        }
        let mut key = Key {
            name: [0; NAME_LEN],
            key: [0; KEY_LEN],
        };
        load_words(&self.name, &mut key.name);
        load_words(&self.key, &mut key.key);
        // The word loads above complete before the sequence is read again.
        fence(Ordering::Acquire);
        (self.seq.load(Ordering::Relaxed) == before).then_some(key)
    }
}

fn store_words(words: &[AtomicU64], bytes: &[u8]) {
    for (word, chunk) in words.iter().zip(bytes.chunks_exact(8)) {
        let value = u64::from_ne_bytes(chunk.try_into().unwrap_or_default());
        word.store(value, Ordering::Relaxed);
    }
}

fn load_words(words: &[AtomicU64], bytes: &mut [u8]) {
    for (word, chunk) in words.iter().zip(bytes.chunks_exact_mut(8)) {
        chunk.copy_from_slice(&word.load(Ordering::Relaxed).to_ne_bytes());
    }
}

impl Key {
    fn random() -> std::io::Result<Key> {
        let mut key = Key {
            name: [0; NAME_LEN],
            key: [0; KEY_LEN],
        };
        let rng = SystemRandom::new();
        rng.fill(&mut key.name)
            .and_then(|()| rng.fill(&mut key.key))
            .map_err(|_| std::io::Error::other("no random bytes from the OS"))?;
        Ok(key)
    }

    fn aead(&self) -> Option<LessSafeKey> {
        Some(LessSafeKey::new(
            UnboundKey::new(&AES_256_GCM, &self.key).ok()?,
        ))
    }
}

impl std::fmt::Debug for Ticketer {
    /// Never the keys.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ticketer").finish_non_exhaustive()
    }
}

impl ProducesTickets for Ticketer {
    fn enabled(&self) -> bool {
        true
    }

    fn lifetime(&self) -> u32 {
        ROTATE_EVERY.as_secs() as u32
    }

    fn encrypt(&self, plain: &[u8]) -> Option<Vec<u8>> {
        let key = self.shared.slot(self.shared.current()).read()?;
        // A random nonce per ticket: a key seals at most a few million tickets in its
        // period, far below the 2^32 where 96-bit random nonces start to risk a repeat.
        let mut nonce = [0u8; NONCE_LEN];
        SystemRandom::new().fill(&mut nonce).ok()?;
        let mut ticket = Vec::with_capacity(HEADER_LEN + plain.len() + TAG_LEN);
        ticket.extend_from_slice(&key.name);
        ticket.extend_from_slice(&nonce);
        ticket.extend_from_slice(plain);
        let tag = key
            .aead()?
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(key.name),
                &mut ticket[HEADER_LEN..],
            )
            .ok()?;
        ticket.extend_from_slice(tag.as_ref());
        Some(ticket)
    }

    /// The ticket is the peer's bytes: lengths are checked before any slicing, and any
    /// failure (unknown key name, bad tag) is None.
    fn decrypt(&self, ticket: &[u8]) -> Option<Vec<u8>> {
        if ticket.len() < HEADER_LEN + TAG_LEN || ticket.len() > MAX_TICKET {
            return None;
        }
        let (name, rest) = ticket.split_at(NAME_LEN);
        let (nonce, sealed) = rest.split_at(NONCE_LEN);
        let current = self.shared.current();
        // Generation 0 has no previous key (its slot was never written).
        let previous = current.checked_sub(1);
        let key = [Some(current), previous]
            .into_iter()
            .flatten()
            .filter_map(|generation| self.shared.slot(generation).read())
            .find(|key| key.name == name)?;
        let nonce = Nonce::try_assume_unique_for_key(nonce).ok()?;
        let mut plain = sealed.to_vec();
        let len = key
            .aead()?
            .open_in_place(nonce, Aad::from(key.name), &mut plain)
            .ok()?
            .len();
        plain.truncate(len);
        Some(plain)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SESSION: &[u8] = b"the session state rustls would hand us";

    #[test]
    fn a_ticket_opens_to_what_was_sealed() {
        let keys = TicketKeys::new().unwrap();
        let t = keys.ticketer();
        assert!(t.enabled());
        assert_eq!(t.lifetime(), 3600);
        let ticket = t.encrypt(SESSION).unwrap();
        assert_eq!(ticket.len(), HEADER_LEN + SESSION.len() + TAG_LEN);
        assert_eq!(t.decrypt(&ticket).unwrap(), SESSION);
        // Sealed, not copied; and two tickets of one session differ (fresh nonces).
        assert!(!ticket.windows(SESSION.len()).any(|w| w == SESSION));
        assert_ne!(t.encrypt(SESSION).unwrap(), ticket);
        assert_eq!(t.decrypt(&t.encrypt(b"").unwrap()).unwrap(), b"");
    }

    #[test]
    fn another_ticketer_over_the_same_keys_opens_it() {
        let keys = TicketKeys::new().unwrap();
        let ticket = keys.ticketer().encrypt(SESSION).unwrap();
        assert_eq!(keys.ticketer().decrypt(&ticket).unwrap(), SESSION);
        // Other keys do not.
        let others = TicketKeys::new().unwrap();
        assert_eq!(others.ticketer().decrypt(&ticket), None);
    }

    #[test]
    fn a_ticket_survives_one_rotation_but_not_two() {
        let keys = TicketKeys::new().unwrap();
        let t = keys.ticketer();
        let old = t.encrypt(SESSION).unwrap();
        keys.rotate();
        assert_eq!(t.decrypt(&old).unwrap(), SESSION);
        let newer = t.encrypt(SESSION).unwrap();
        assert_ne!(
            newer[..NAME_LEN],
            old[..NAME_LEN],
            "sealed with the new key"
        );
        keys.rotate();
        assert_eq!(t.decrypt(&old), None);
        assert_eq!(t.decrypt(&newer).unwrap(), SESSION);
        // Round the ring more than once: the slots are reused correctly.
        for _ in 0..7 {
            let ticket = t.encrypt(SESSION).unwrap();
            keys.rotate();
            assert_eq!(t.decrypt(&ticket).unwrap(), SESSION);
            keys.rotate();
            assert_eq!(t.decrypt(&ticket), None);
        }
    }

    #[test]
    fn rotation_waits_for_its_period() {
        let keys = TicketKeys::new().unwrap();
        let t = keys.ticketer();
        let ticket = t.encrypt(SESSION).unwrap();
        let start = keys.rotated.get();
        assert!(!keys.rotate_if_due(start + ROTATE_EVERY / 2));
        assert!(!keys.rotate_if_due(start));
        assert!(keys.rotate_if_due(start + ROTATE_EVERY));
        assert!(!keys.rotate_if_due(start + ROTATE_EVERY + ROTATE_EVERY / 2));
        assert!(keys.rotate_if_due(start + 2 * ROTATE_EVERY));
        assert_eq!(t.decrypt(&ticket), None, "two rotations erased its key");
    }

    #[test]
    fn damaged_or_foreign_tickets_do_not_open() {
        let keys = TicketKeys::new().unwrap();
        let t = keys.ticketer();
        let ticket = t.encrypt(SESSION).unwrap();
        assert_eq!(t.decrypt(&[]), None);
        assert_eq!(t.decrypt(&ticket[..HEADER_LEN + TAG_LEN - 1]), None);
        for cut in [1, TAG_LEN, ticket.len() - HEADER_LEN] {
            assert_eq!(t.decrypt(&ticket[..ticket.len() - cut]), None, "cut {cut}");
        }
        for i in 0..ticket.len() {
            let mut bad = ticket.clone();
            bad[i] ^= 0x01;
            assert_eq!(t.decrypt(&bad), None, "bit flipped in byte {i}");
        }
        let mut longer = ticket.clone();
        longer.push(0);
        assert_eq!(t.decrypt(&longer), None);
        assert_eq!(t.decrypt(&vec![0xa5; MAX_TICKET + 1]), None);
        // Garbage of every short length, and garbage wearing the right key name.
        for len in 0..200 {
            let mut junk: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            assert_eq!(t.decrypt(&junk), None);
            if len >= NAME_LEN {
                junk[..NAME_LEN].copy_from_slice(&ticket[..NAME_LEN]);
                assert_eq!(t.decrypt(&junk), None);
            }
        }
    }

    #[test]
    fn a_forked_worker_seals_what_the_master_opens() {
        use nix::sys::wait::{WaitStatus, waitpid};
        use nix::unistd::{ForkResult, fork, pipe, read, write};
        let keys = TicketKeys::new().unwrap();
        let ticketer = keys.ticketer();
        let (rx, tx) = pipe().unwrap();
        // SAFETY: the child only seals a ticket (glibc's malloc is safe after fork),
        // writes it to a pipe and _exits: it runs no harness code and returns nowhere.
        match unsafe { fork() }.unwrap() {
            ForkResult::Child => {
                let ticket = ticketer.encrypt(SESSION).unwrap_or_default();
                let _ = write(&tx, &ticket);
                // SAFETY: ends the child at once, without running the parent's atexit
                // handlers or destructors.
                unsafe { libc::_exit(0) };
            }
            ForkResult::Parent { child } => {
                drop(tx);
                let mut ticket = vec![0u8; MAX_TICKET];
                let mut len = 0;
                loop {
                    match read(&rx, &mut ticket[len..]).unwrap() {
                        0 => break,
                        n => len += n,
                    }
                }
                ticket.truncate(len);
                assert_eq!(waitpid(child, None).unwrap(), WaitStatus::Exited(child, 0));
                assert_eq!(ticketer.decrypt(&ticket).unwrap(), SESSION);
                // The master's rotation reaches the key the child sealed with too.
                keys.rotate();
                assert_eq!(ticketer.decrypt(&ticket).unwrap(), SESSION);
                keys.rotate();
                assert_eq!(ticketer.decrypt(&ticket), None);
            }
        }
    }
}
