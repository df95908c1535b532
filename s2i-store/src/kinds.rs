//! The registry of kinds: which kinds a program knows, and which one a name
//! a user typed (`is`, `imagestreams`, `ImageStream`,
//! `imagestream.image.openshift.io`) or a document's `apiVersion`/`kind`
//! means.

use crate::error::{Error, Result};
use crate::resource::{KindInfo, Resource};

/// The kinds a program knows, in the order they were registered (the order
/// lists show them in; on a name two kinds share, the first one wins, as
/// kubectl prefers one group over another).
#[derive(Debug, Clone, Default)]
pub struct KindRegistry {
    kinds: Vec<KindInfo>,
}

impl KindRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// A registry of `kinds`, in that order.
    pub fn of(kinds: impl IntoIterator<Item = KindInfo>) -> Result<Self> {
        let mut registry = Self::new();
        for kind in kinds {
            registry.register(kind)?;
        }
        Ok(registry)
    }

    /// Add a kind; a kind of the same group is refused.
    pub fn register(&mut self, kind: KindInfo) -> Result<()> {
        if self.kinds.iter().any(|known| known.kind == kind.kind && known.group == kind.group) {
            return Err(Error::KindRegistered { kind: kind.kind.into(), group: kind.group.into() });
        }
        self.kinds.push(kind);
        Ok(())
    }

    /// Add the kind of a [`Resource`] type.
    pub fn register_resource<T: Resource>(&mut self) -> Result<()> {
        self.register(T::INFO)
    }

    /// The kinds, in registration order.
    pub fn kinds(&self) -> &[KindInfo] {
        &self.kinds
    }

    /// The kind a user's name means (see [`KindInfo::is_named`]), if any.
    pub fn find(&self, name: &str) -> Option<&KindInfo> {
        self.kinds.iter().find(|kind| kind.is_named(name))
    }

    /// The kind a user's name means; [`Error::UnknownKind`], listing the
    /// kinds, when none does.
    pub fn resolve(&self, name: &str) -> Result<&KindInfo> {
        self.find(name).ok_or_else(|| Error::UnknownKind {
            name: name.into(),
            known: self.kinds.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "),
        })
    }

    /// The kind a document's `kind` field names (exactly, as written in
    /// documents), with its `apiVersion` when the document has one (a
    /// kind's legacy version counts, see [`KindInfo::accepts_api_version`]).
    pub fn by_type(&self, api_version: Option<&str>, kind: &str) -> Option<&KindInfo> {
        let mut candidates = self.kinds.iter().filter(|known| known.kind == kind);
        match api_version.filter(|v| !v.is_empty()) {
            Some(api_version) => {
                let all: Vec<&KindInfo> = candidates.collect();
                all.iter().find(|known| known.accepts_api_version(api_version)).or(all.first()).copied()
            }
            None => candidates.next(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STREAM: KindInfo = KindInfo {
        group: "image.openshift.io",
        version: "v1",
        kind: "ImageStream",
        plural: "imagestreams",
        short_names: &["is"],
        namespaced: true,
    };
    const BUILD: KindInfo = KindInfo {
        group: "build.openshift.io",
        version: "v1",
        kind: "Build",
        plural: "builds",
        short_names: &[],
        namespaced: true,
    };

    #[test]
    fn names_resolve_to_one_kind() {
        let registry = KindRegistry::of([STREAM, BUILD]).unwrap();
        for name in ["is", "imagestreams", "ImageStream", "imagestream.image.openshift.io", "IS"] {
            assert_eq!(registry.resolve(name).unwrap().kind, "ImageStream", "{name}");
        }
        let error = registry.resolve("pods").unwrap_err();
        assert_eq!(error.to_string(), "the server doesn't have a resource type \"pods\"");
        assert!(
            matches!(&error, Error::UnknownKind { known, .. } if known == "imagestreams (is); builds"),
            "no empty parentheses for a kind without short names"
        );
        assert_eq!(registry.by_type(Some("build.openshift.io/v1"), "Build").map(|k| k.plural), Some("builds"));
        assert_eq!(registry.by_type(None, "build"), None, "a document's kind is exact");
    }

    #[test]
    fn a_kind_is_registered_once() {
        let mut registry = KindRegistry::of([STREAM]).unwrap();
        assert!(matches!(registry.register(STREAM), Err(Error::KindRegistered { .. })));
        let other_group = KindInfo { group: "example.com", ..STREAM };
        registry.register(other_group).unwrap();
        assert_eq!(registry.resolve("is").unwrap().group, "image.openshift.io", "the first one wins");
        assert_eq!(registry.resolve("is.example.com").unwrap().group, "example.com");
    }
}
