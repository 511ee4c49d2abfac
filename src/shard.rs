//! Shards: `run --shard I/N` on N machines checks exactly the cases one
//! machine would, without overlap. One seed's case indices are cut into
//! blocks of `BLOCK` consecutive cases, dealt round-robin: case `k` belongs to
//! shard `⌊k / BLOCK⌋ mod N`. Blocks (not `k mod N`) keep each chunk of a
//! campaign a contiguous range, as the runner and its child processes want.
//!
//! A shard runs its blocks in order; what it covered is always the first `m`
//! cases of its own sequence (`Covered`), so a summary states its case set in
//! three numbers, and summaries of the shards of one seed add up (`merge`).

use std::fmt;

/// Consecutive cases per block. Changing it changes which shard holds which
/// case (never which case a seed and index make).
pub const BLOCK: u64 = 2048;

/// Shard `index` of `count` (`I/N`, `0 <= I < N`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Shard {
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// Every case: the unsharded run.
    pub const WHOLE: Shard = Shard { index: 0, count: 1 };

    /// `I/N`, with what is wrong named.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let (i, n) =
            s.split_once('/').ok_or_else(|| format!("\"{s}\" is not I/N (e.g. 0/4: the first of 4 shards)"))?;
        let num = |t: &str, what: &str| {
            t.trim().parse::<u64>().map_err(|_| format!("\"{s}\": the {what} \"{t}\" is not a whole number"))
        };
        let (index, count) = (num(i, "index")?, num(n, "shard count")?);
        if count == 0 {
            return Err(format!("\"{s}\": the shard count must be at least 1"));
        }
        if index >= count {
            return Err(format!("\"{s}\": the index must be below the count (shards are numbered 0 to {})", count - 1));
        }
        Ok(Shard { index, count })
    }

    /// Does case `k` belong to this shard?
    pub fn holds(&self, k: u64) -> bool {
        (k / BLOCK) % self.count == self.index
    }

    /// This shard's cases below `limit`, as ranges `[from, to)` in order.
    pub fn blocks(&self, limit: u64) -> impl Iterator<Item = (u64, u64)> {
        let (first, step) = (self.index, self.count);
        (0u64..)
            .map_while(move |j| j.checked_mul(step)?.checked_add(first)?.checked_mul(BLOCK))
            .take_while(move |&from| from < limit)
            .map(move |from| (from, from.saturating_add(BLOCK).min(limit)))
    }

    /// How many of the cases `[0, n)` are this shard's.
    pub fn cases_below(&self, n: u64) -> u64 {
        // In u128: BLOCK × N and I × BLOCK may not fit in a u64.
        let (b, i, n) = (BLOCK as u128, self.index as u128, n as u128);
        let round = b * self.count as u128;
        let (rounds, rest) = (n / round, n % round);
        (rounds * b + rest.saturating_sub(i * b).min(b)) as u64
    }

    /// One past the last of this shard's first `m` cases (0 when `m` is 0).
    pub fn end_of(&self, m: u64) -> u64 {
        if m == 0 {
            return 0;
        }
        let (j, rest) = ((m - 1) / BLOCK, (m - 1) % BLOCK);
        let end = (j as u128 * self.count as u128 + self.index as u128) * BLOCK as u128 + rest as u128 + 1;
        end.min(u64::MAX as u128) as u64
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// What a run covered: the first `count` cases of `shard`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Covered {
    pub shard: Shard,
    pub count: u64,
}

impl Covered {
    /// As a summary states it: `{"shard": "I/N", "block": 2048, "count": m,
    /// "end": e}`, the cases `k < e` with `⌊k / block⌋ mod N = I`.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "shard": self.shard.to_string(),
            "block": BLOCK,
            "count": self.count,
            "end": self.shard.end_of(self.count),
        })
    }

    /// Several coverings of the shards of one `N` (distinct indices), as one
    /// prefix `[0, n)` of the whole seed when that is what they add up to.
    pub fn union_as_prefix(parts: &[Covered]) -> Option<Covered> {
        let n: u64 = parts.iter().map(|c| c.count).sum();
        let count = parts.first()?.shard.count;
        let of = |i: u64| parts.iter().find(|c| c.shard.index == i).map_or(0, |c| c.count);
        (0..count)
            .all(|i| of(i) == Shard { index: i, count }.cases_below(n))
            .then_some(Covered { shard: Shard::WHOLE, count: n })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_with_the_reason() {
        assert_eq!(Shard::parse("1/4"), Ok(Shard { index: 1, count: 4 }));
        assert_eq!(Shard::parse("0/1"), Ok(Shard::WHOLE));
        assert!(Shard::parse("4/4").unwrap_err().contains("below the count"));
        assert!(Shard::parse("0/0").unwrap_err().contains("at least 1"));
        assert!(Shard::parse("1").unwrap_err().contains("not I/N"));
        assert!(Shard::parse("-1/2").unwrap_err().contains("not a whole number"));
        assert_eq!(Shard { index: 3, count: 8 }.to_string(), "3/8");
    }

    /// Every case below `n` is in exactly one shard, and each shard's blocks,
    /// counts and ends agree with `holds`.
    #[test]
    fn shards_partition_the_cases() {
        for count in 1..=5 {
            for n in [0, 1, 2047, 2048, 2049, 4096, 10_000, 40_000] {
                let mut seen = vec![0u8; n as usize];
                for index in 0..count {
                    let s = Shard { index, count };
                    let mut m = 0;
                    let mut last = 0;
                    for (a, b) in s.blocks(n) {
                        assert!(a < b && b <= n);
                        for k in a..b {
                            assert!(s.holds(k));
                            seen[k as usize] += 1;
                        }
                        m += b - a;
                        last = b;
                    }
                    assert_eq!(s.cases_below(n), m, "{s} below {n}");
                    assert_eq!(s.end_of(m), last, "{s}: end of its {m} cases");
                    assert_eq!((0..n).filter(|&k| s.holds(k)).count() as u64, m);
                }
                assert!(seen.iter().all(|&c| c == 1), "N={count} n={n}");
            }
        }
    }

    #[test]
    fn huge_indices_do_not_overflow() {
        let s = Shard { index: 1, count: 3 };
        let v: Vec<_> = s.blocks(u64::MAX).take(2).collect();
        assert_eq!(v, [(2048, 4096), (8192, 10240)]);
        // A shard whose first block lies past the last index has no case.
        let far = Shard { index: u64::MAX - 1, count: u64::MAX };
        assert_eq!(far.blocks(u64::MAX).count(), 0);
        assert_eq!(far.cases_below(u64::MAX), 0);
        assert_eq!(Shard::WHOLE.cases_below(u64::MAX), u64::MAX);
    }

    #[test]
    fn complete_shards_add_up_to_a_prefix() {
        let n = 40_000;
        let parts: Vec<Covered> = (0..3)
            .map(|index| {
                let shard = Shard { index, count: 3 };
                Covered { shard, count: shard.cases_below(n) }
            })
            .collect();
        assert_eq!(Covered::union_as_prefix(&parts), Some(Covered { shard: Shard::WHOLE, count: n }));
        // A shard that stopped early (a deadline) leaves a hole: no prefix…
        let mut short = parts.clone();
        short[0].count -= 1;
        assert_eq!(Covered::union_as_prefix(&short), None);
        // …unless its last case was the last of all (shard 1 holds case 39,999).
        let mut short = parts.clone();
        short[1].count -= 1;
        assert_eq!(Covered::union_as_prefix(&short), Some(Covered { shard: Shard::WHOLE, count: n - 1 }));
        // A missing shard that held cases: no prefix.
        assert_eq!(Covered::union_as_prefix(&parts[..2]), None);
    }
}
