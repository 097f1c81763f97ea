//! The four token counts an API response reports, and their sums.

use core::ops::{Add, AddAssign};

/// Token counts of one response, or a sum of responses.
///
/// The field names follow the API's `usage` object; `cache_creation` is the total written to
/// the cache (5-minute and 1-hour writes together).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct TokenCounts {
    /// `input_tokens`: uncached input.
    pub input: u64,
    /// `output_tokens`.
    pub output: u64,
    /// `cache_creation_input_tokens`: input written to the prompt cache.
    pub cache_creation: u64,
    /// `cache_read_input_tokens`: input served from the prompt cache.
    pub cache_read: u64,
}

impl TokenCounts {
    /// Counts in the order the API's `usage` lists them less the cache split: input,
    /// output, cache writes, cache reads.
    pub const fn new(input: u64, output: u64, cache_creation: u64, cache_read: u64) -> Self {
        TokenCounts {
            input,
            output,
            cache_creation,
            cache_read,
        }
    }

    /// All four kinds together: ccusage's `totalTokens`, and the fuel gauge's basis.
    pub const fn total(&self) -> u64 {
        self.input + self.output + self.cache_creation + self.cache_read
    }

    /// The prompt as the API saw it: uncached input plus cache writes plus cache reads.
    /// This is what long-context and prompt-size price tiers are measured on.
    pub const fn prompt(&self) -> u64 {
        self.input + self.cache_creation + self.cache_read
    }

    /// The tach's basis: input, output and cache writes; cache reads are left out because
    /// they dwarf everything else and cost a tenth as much.
    pub const fn tach(&self) -> u64 {
        self.input + self.output + self.cache_creation
    }

    /// The prompt cache's hit rate: cache reads over the whole prompt; `None` without a
    /// prompt.
    pub fn cache_hit_rate(&self) -> Option<f64> {
        let prompt = self.prompt();
        (prompt > 0).then(|| self.cache_read as f64 / prompt as f64)
    }
}

impl Add for TokenCounts {
    type Output = TokenCounts;
    fn add(self, rhs: TokenCounts) -> TokenCounts {
        TokenCounts {
            input: self.input + rhs.input,
            output: self.output + rhs.output,
            cache_creation: self.cache_creation + rhs.cache_creation,
            cache_read: self.cache_read + rhs.cache_read,
        }
    }
}

impl AddAssign for TokenCounts {
    fn add_assign(&mut self, rhs: TokenCounts) {
        *self = *self + rhs;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_hit_rate_is_reads_over_the_prompt() {
        assert_eq!(TokenCounts::new(10, 99, 30, 60).cache_hit_rate(), Some(0.6));
        assert_eq!(TokenCounts::new(0, 99, 0, 0).cache_hit_rate(), None);
    }

    #[test]
    fn sums_are_per_kind() {
        let a = TokenCounts {
            input: 1,
            output: 2,
            cache_creation: 3,
            cache_read: 4,
        };
        let b = TokenCounts {
            input: 10,
            output: 20,
            cache_creation: 30,
            cache_read: 40,
        };
        let mut c = a;
        c += b;
        assert_eq!(
            c,
            TokenCounts {
                input: 11,
                output: 22,
                cache_creation: 33,
                cache_read: 44
            }
        );
        assert_eq!(c.total(), 110);
        assert_eq!(c.prompt(), 88);
        assert_eq!(c.tach(), 66);
    }
}
