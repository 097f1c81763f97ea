//! Model families: what the MODEL lamp and the price table group model ids by.

/// The family of a Claude model id, as the MODEL lamp shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelFamily {
    /// `claude-opus-*` and other Opus-class ids: the MODEL lamp is on.
    Opus,
    /// `claude-sonnet-*`.
    Sonnet,
    /// `claude-haiku-*`.
    Haiku,
    /// Anything else, including `<synthetic>` and other vendors' models.
    Other,
}

impl ModelFamily {
    /// The family of a model id such as `claude-opus-4-6`, `claude-3-5-sonnet-20241022`
    /// or `anthropic/claude-haiku-4-5`. Matching is on the family word as a whole
    /// dash/slash/dot-separated component, case-insensitively, so `opus` alone counts and
    /// `magnum-opusx` does not.
    pub fn of(model_id: &str) -> ModelFamily {
        for part in model_id.split(['-', '/', '.', ':', '@', '_']) {
            if part.eq_ignore_ascii_case("opus") {
                return ModelFamily::Opus;
            }
            if part.eq_ignore_ascii_case("sonnet") {
                return ModelFamily::Sonnet;
            }
            if part.eq_ignore_ascii_case("haiku") {
                return ModelFamily::Haiku;
            }
        }
        ModelFamily::Other
    }

    /// The lowercase name used on the wire (`/usage`'s `model.family`).
    pub const fn as_str(self) -> &'static str {
        match self {
            ModelFamily::Opus => "opus",
            ModelFamily::Sonnet => "sonnet",
            ModelFamily::Haiku => "haiku",
            ModelFamily::Other => "other",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_from_real_ids() {
        assert_eq!(ModelFamily::of("claude-opus-4-6"), ModelFamily::Opus);
        assert_eq!(ModelFamily::of("claude-3-opus-20240229"), ModelFamily::Opus);
        assert_eq!(
            ModelFamily::of("claude-sonnet-4-5-20250929"),
            ModelFamily::Sonnet
        );
        assert_eq!(
            ModelFamily::of("claude-3-5-sonnet-20241022"),
            ModelFamily::Sonnet
        );
        assert_eq!(
            ModelFamily::of("anthropic/claude-haiku-4-5"),
            ModelFamily::Haiku
        );
        assert_eq!(ModelFamily::of("sonnet"), ModelFamily::Sonnet);
        assert_eq!(ModelFamily::of("<synthetic>"), ModelFamily::Other);
        assert_eq!(ModelFamily::of("claude-fable-5"), ModelFamily::Other);
        assert_eq!(ModelFamily::of("magnum-opusx"), ModelFamily::Other);
        assert_eq!(ModelFamily::Opus.as_str(), "opus");
    }
}
