//! What a build config keeps that this machine does not act on: reported
//! once, when the config is created or changed (not when an apply finds it
//! unchanged), as data a front end words.

use std::fmt;

/// A setting kept as written that a local build does not act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kept {
    /// Webhook triggers, by type (`GitHub`, `Generic`, `GitLab`,
    /// `Bitbucket`), in the config's order: they start builds while a
    /// process serves webhooks ([`crate::Builds::webhook`]).
    WebhookTriggers(Vec<String>),
    /// A strategy local builds cannot run (`Docker`, `Custom`,
    /// `JenkinsPipeline`): starting a build of the config fails.
    Strategy {
        /// Where it is, e.g. `spec.strategy.dockerStrategy`.
        field: String,
        /// Its name, e.g. `Docker`.
        strategy: String,
    },
    /// A cluster's setting, kept for the cluster.
    Setting {
        /// Where it is, e.g. `spec.nodeSelector`.
        field: String,
        /// What it is for, and what a local build does instead.
        note: String,
    },
}

impl Kept {
    pub(crate) fn setting(field: impl Into<String>, note: impl Into<String>) -> Self {
        Self::Setting { field: field.into(), note: note.into() }
    }
}

impl fmt::Display for Kept {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::WebhookTriggers(types) => write!(
                f,
                "spec.triggers: {} webhook trigger{} kept; they start builds while a controller serves webhooks",
                types.join(", "),
                if types.len() == 1 { " is" } else { "s are" }
            ),
            Self::Strategy { field, strategy } => write!(
                f,
                "{field}: the {strategy} strategy is kept, but a local build cannot run it (s2i builds with \
                 Source-to-Image only): starting a build of this config fails"
            ),
            Self::Setting { field, note } => write!(f, "{field} {note}"),
        }
    }
}
