//! `Engine::rebuild_options`: the options that build an image again, read
//! back from the build labels s2i wrote on it.

use super::{BuildOptions, Engine, PullPolicy, parse_image};
use crate::error::{Error, Result};
use crate::labels;
use crate::users::AllowedUids;

impl Engine {
    /// `s2i rebuild`: the options that rebuild `image` from its build labels.
    /// The image is obtained by `pull_policy` and checked against `allowed_uids`.
    pub async fn rebuild_options(
        &self,
        image: &str,
        pull_policy: PullPolicy,
        allowed_uids: &AllowedUids,
    ) -> Result<BuildOptions> {
        let reference = parse_image("image", image)?;
        let resolved = self.obtain_image(&reference, pull_policy).await?;
        allowed_uids.check_image(&resolved.name, &resolved.info, None)?;
        let labels = &resolved.info.labels;
        let label = |key: &str| labels.get(key).filter(|v| !v.is_empty()).cloned();
        let required = |key: &str| {
            label(key).ok_or_else(|| Error::NotBuiltByS2i { image: image.to_owned(), label: key.to_owned() })
        };
        let builder = required("io.openshift.s2i.build.image")?;
        let source = label("io.openshift.s2i.build.source-location").ok_or_else(|| {
            Error::option(
                "image",
                format!("image {image} does not record its source (label \"io.openshift.s2i.build.source-location\")"),
                "a reproducible build from a directory of this machine leaves the directory's path out of its labels, \
                 as a build without a source has none; build it again from its source instead",
            )
        })?;
        let mut options = BuildOptions::new(Some(source), builder);
        options.tag = Some(reference.to_string());
        options.context_dir = label("io.openshift.s2i.build.source-context-dir");
        options.git_ref = label("io.openshift.s2i.build.commit.ref").filter(|r| r != "HEAD");
        if options.git_ref.is_none() {
            options.git_ref = label("io.openshift.s2i.build.commit.id");
        }
        options.description = label(labels::DESCRIPTION_LABEL);
        options.display_name = label(labels::DISPLAY_NAME_LABEL);
        options.pull_policy = pull_policy;
        options.allowed_uids = allowed_uids.clone();
        Ok(options)
    }
}
