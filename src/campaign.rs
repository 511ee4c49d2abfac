//! Seeded campaigns: case `k` of seed `S` is generated from bytes filled by a
//! `ChaCha8Rng` seeded from `(S, k)`, so any case reproduces alone and the
//! run's results do not depend on how cases are spread over threads.

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Bytes handed to the generator for one case.
pub const CASE_BYTES: usize = 8192;

/// The generator input of case `k` of seed `seed`.
pub fn case_bytes(seed: u64, k: u64) -> Vec<u8> {
    let mut key = [0u8; 32];
    key[..8].copy_from_slice(&seed.to_le_bytes());
    key[8..16].copy_from_slice(&k.to_le_bytes());
    key[16..].copy_from_slice(b"patch-equiv case");
    let mut rng = ChaCha8Rng::from_seed(key);
    let mut buf = vec![0u8; CASE_BYTES];
    rng.fill_bytes(&mut buf);
    buf
}
