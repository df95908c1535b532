//! `spec.dockerImageRepository`: OpenShift's deprecated way of importing a
//! whole repository into a stream, done as OpenShift's image-stream
//! controller does it.
//!
//! A stream with the field and without the [`REPOSITORY_CHECK_ANNOTATION`]
//! needs a repository import: the repository's tags are listed, ordered by
//! [`prioritize_tags`] and at most [`MAX_REPOSITORY_TAGS`] of them imported
//! (OpenShift's `maxImagesBulkImportedPerRepository` default). Each is
//! recorded in the stream's *status* under its own name; a spec tag of the
//! same name is the user's and is left alone. The annotation then holds the
//! time of the import, so that the next write does not list the repository
//! again; `s2i import-image STREAM` imports it again on demand, and changing
//! the field drops the annotation.

use std::cmp::Ordering;

use crate::types::ImageStream;

/// Stream annotation: when the repository of `spec.dockerImageRepository`
/// was last imported (RFC 3339). Without it the stream needs an import.
pub const REPOSITORY_CHECK_ANNOTATION: &str = "openshift.io/image.dockerRepositoryCheck";

/// Most tags a repository import takes: OpenShift's default
/// `imagePolicyConfig.maxImagesBulkImportedPerRepository`.
pub const MAX_REPOSITORY_TAGS: usize = 50;

/// The status tag that records a failure of the repository itself (it could
/// not be listed): `latest`, the tag a repository's pull spec means.
pub const REPOSITORY_FAILURE_TAG: &str = "latest";

/// A repository import a stream needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepositoryImport {
    /// `spec.dockerImageRepository`.
    pub repository: String,
    /// Whether plain HTTP / unverified TLS is allowed (the stream's
    /// `openshift.io/image.insecureRepository` annotation).
    pub insecure: bool,
}

/// The repository import `stream` needs: one when it names a repository,
/// and when `again` is set or the repository has not been imported yet.
pub fn repository_import(stream: &ImageStream, again: bool) -> Option<RepositoryImport> {
    let repository = &stream.spec.docker_image_repository;
    let checked = stream.metadata.annotations.contains_key(REPOSITORY_CHECK_ANNOTATION);
    (!repository.is_empty() && (again || !checked)).then(|| RepositoryImport {
        repository: repository.clone(),
        insecure: stream
            .metadata
            .annotations
            .get(crate::types::INSECURE_REPOSITORY_ANNOTATION)
            .is_some_and(|v| v == "true"),
    })
}

/// Of a repository's tags, those a repository import takes, in order: the
/// tags [`prioritize_tags`] puts first, at most [`MAX_REPOSITORY_TAGS`].
pub fn tags_to_import(mut tags: Vec<String>) -> Vec<String> {
    tags.sort();
    tags.dedup();
    prioritize_tags(&mut tags);
    tags.truncate(MAX_REPOSITORY_TAGS);
    tags
}

/// A tag's rank: `latest`, then minor versions (`5.1`, `v5.1`,
/// `5.1-rc1`), then full versions (`5.1.3`, `v5.1.3-beta`), then the rest.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    Latest,
    Minor,
    Full,
    Other,
}

/// A version tag's numbers and pre-release part.
#[derive(Debug, PartialEq, Eq)]
struct Version<'a> {
    numbers: Vec<u64>,
    pre: &'a str,
}

impl Ord for Version<'_> {
    /// Newer first is the caller's business; this is plain ascending order
    /// (a pre-release comes before its release).
    fn cmp(&self, other: &Self) -> Ordering {
        self.numbers.cmp(&other.numbers).then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Greater,
            (false, true) => Ordering::Less,
            (false, false) => self.pre.cmp(other.pre),
        })
    }
}

impl PartialOrd for Version<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

fn rank(tag: &str) -> (Rank, Option<Version<'_>>) {
    if tag == "latest" {
        return (Rank::Latest, None);
    }
    let short = tag.strip_prefix('v').unwrap_or(tag);
    // Build metadata (`+…`) does not order versions.
    let short = short.split_once('+').map_or(short, |(v, _)| v);
    let (core, pre) = short.split_once('-').unwrap_or((short, ""));
    let numbers: Option<Vec<u64>> = core
        .split('.')
        .map(|n| (!n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())).then(|| n.parse().ok()).flatten())
        .collect();
    match numbers {
        Some(numbers) if numbers.len() == 2 => (Rank::Minor, Some(Version { numbers, pre })),
        Some(numbers) if numbers.len() == 3 => (Rank::Full, Some(Version { numbers, pre })),
        _ => (Rank::Other, None),
    }
}

/// Order tags as OpenShift's importer does before it takes the first ones:
/// `latest`; minor versions, newest first; full versions, newest first; the
/// rest by name. Of equal versions, the one without a `v` comes first.
pub fn prioritize_tags(tags: &mut [String]) {
    tags.sort_by(|a, b| {
        let ((rank_a, version_a), (rank_b, version_b)) = (rank(a), rank(b));
        rank_a.cmp(&rank_b).then_with(|| match (version_a, version_b) {
            (Some(va), Some(vb)) => vb.cmp(&va).then_with(|| a.starts_with('v').cmp(&b.starts_with('v'))),
            _ => a.cmp(b),
        })
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ordered(tags: &[&str]) -> Vec<String> {
        let mut tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        prioritize_tags(&mut tags);
        tags
    }

    #[test]
    fn latest_then_minor_then_full_versions_newest_first_then_names() {
        assert_eq!(
            ordered(&["zeta", "1.2.3", "1.10", "latest", "v1.9", "alpha", "1.2.10", "2.0-rc1", "2.0", "5"]),
            ["latest", "2.0", "2.0-rc1", "1.10", "v1.9", "1.2.10", "1.2.3", "5", "alpha", "zeta"]
        );
        assert_eq!(ordered(&["v1.0", "1.0"]), ["1.0", "v1.0"]);
    }

    #[test]
    fn at_most_fifty_tags_are_taken_latest_first() {
        let mut tags: Vec<String> = (0..60).map(|i| format!("t{i:02}")).collect();
        tags.push("latest".into());
        let taken = tags_to_import(tags);
        assert_eq!(taken.len(), MAX_REPOSITORY_TAGS);
        assert_eq!(taken[0], "latest");
        assert_eq!(taken[1], "t00");
        assert_eq!(taken.last().map(String::as_str), Some("t48"));
    }
}
