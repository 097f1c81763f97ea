//! Model families: what the MODEL lamp and the price table group model ids by, and the
//! colour the MODEL lamp shows for each.

use crate::wire::Rgb;

/// The family of a Claude model id, as the MODEL lamp shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ModelFamily {
    /// `claude-opus-*` and other Opus-class ids.
    Opus,
    /// `claude-sonnet-*`.
    Sonnet,
    /// `claude-haiku-*`.
    Haiku,
    /// `claude-fable-*`.
    Fable,
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
            if part.eq_ignore_ascii_case("fable") {
                return ModelFamily::Fable;
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
            ModelFamily::Fable => "fable",
            ModelFamily::Other => "other",
        }
    }

    /// The family with this wire name.
    pub fn from_name(name: &str) -> Option<ModelFamily> {
        [
            ModelFamily::Opus,
            ModelFamily::Sonnet,
            ModelFamily::Haiku,
            ModelFamily::Fable,
            ModelFamily::Other,
        ]
        .into_iter()
        .find(|f| f.as_str() == name)
    }

    /// The MODEL lamp's colour for the family (SPEC.md): Opus red, Sonnet amber, Haiku
    /// green, Fable violet, anything else white.
    pub const fn color(self) -> Rgb {
        match self {
            ModelFamily::Opus => Rgb::new(0xe0, 0x30, 0x1e),
            ModelFamily::Sonnet => Rgb::new(0xff, 0x9f, 0x1c),
            ModelFamily::Haiku => Rgb::new(0x2e, 0xc2, 0x7e),
            ModelFamily::Fable => Rgb::new(0x9b, 0x5d, 0xe5),
            ModelFamily::Other => Rgb::WHITE,
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
        assert_eq!(ModelFamily::of("claude-fable-5"), ModelFamily::Fable);
        assert_eq!(ModelFamily::of("gpt-5"), ModelFamily::Other);
        assert_eq!(ModelFamily::of("magnum-opusx"), ModelFamily::Other);
        assert_eq!(ModelFamily::Opus.as_str(), "opus");
        assert_eq!(ModelFamily::from_name("fable"), Some(ModelFamily::Fable));
        assert_eq!(&ModelFamily::Opus.color().hex(), b"#e0301e");
    }
}
