//! BOOST: the prompt cache's hit rate, cache reads over all prompt tokens (uncached
//! input, cache writes and cache reads), over the same window as TEMP (see
//! [`super::thinking`]). Every response counts, OpenTelemetry's too.

use crate::usage;

use super::Live;

/// The cache figures over the window.
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct CacheValue {
    /// Cache reads.
    pub(super) read: u64,
    /// Prompt tokens.
    pub(super) prompt: u64,
}

impl CacheValue {
    /// The hit rate, 0..1; `None` without prompt tokens.
    pub(super) fn value(&self) -> Option<f64> {
        (self.prompt > 0).then(|| self.read as f64 / self.prompt as f64)
    }

    /// `/usage`'s `cache` object.
    pub(super) fn to_wire(self, source: &'static str) -> usage::Cache {
        let known = self.prompt > 0;
        usage::Cache {
            hit_rate: self.value().map(usage::round_share),
            read_tokens: known.then_some(self.read),
            prompt_tokens: known.then_some(self.prompt),
            source: known.then_some(source),
        }
    }
}

impl Live {
    /// The cache hit rate over the ratio window `window` (TEMP's).
    pub(super) fn cache(&self, window: Option<(i64, i64)>) -> CacheValue {
        let mut v = CacheValue::default();
        if let Some((from, to)) = window {
            for (_, e) in self.in_range(from, to) {
                let t = e.tokens();
                v.read += t.cache_read;
                v.prompt += t.prompt();
            }
        }
        v
    }
}
