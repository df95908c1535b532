//! Committing a build's container as the output image: the plan's command,
//! entrypoint, environment and user, with the plan's labels plus those
//! assemble wrote to `/tmp/.s2i/image_metadata.json`.

use std::collections::BTreeMap;

use super::Engine;
use super::write::WrittenImage;
use crate::env::EnvVar;
use crate::error::{Error, Result};
use crate::events::{EventSinkExt, Stage};
use crate::exec::StageTimer;
use crate::labels::{self, IMAGE_METADATA_PATH};
use crate::owner;
use crate::plan::{BuildPlan, ResolvedImage};
use crate::reference::ImageReference;
use crate::runtime::CommitSpec;

/// The output image, committed by the engine or written by s2i.
#[derive(Debug, Clone, Default)]
pub(crate) struct Committed {
    /// Its ID.
    pub(crate) image_id: String,
    /// Its labels.
    pub(crate) labels: BTreeMap<String, String>,
    /// What s2i wrote, when it wrote the image itself.
    pub(crate) written: Option<WrittenImage>,
}

impl Engine {
    /// Commit the assembled container as the output image (or, with an
    /// image plan, write the image from its changes).
    pub(crate) async fn commit(&self, plan: &BuildPlan, container: &str) -> Result<Committed> {
        let display = plan.output.as_ref().map_or_else(|| "(untagged)".to_owned(), ToString::to_string);
        let mut labels = plan.labels.clone();
        labels.extend(self.image_metadata(container).await?);
        labels::check_size(&display, &labels)?;
        let commit = CommitSpec {
            repository: plan.output.as_ref().map(ImageReference::name),
            tag: plan.output.as_ref().map(|o| o.tag_or_default().to_owned()),
            cmd: plan.run_command.clone(),
            entrypoint: plan.output_entrypoint.clone(),
            env: plan.env.iter().map(EnvVar::to_entry).collect(),
            user: plan.output_user.clone(),
            labels: owner::without_owner(&labels),
        };
        self.commit_as(plan, container, &plan.builder, &commit, "assemble", labels).await
    }

    /// Commit `container` (made from `base`) as `commit` says, or write it
    /// when the plan says s2i writes the image; `step` names the build step.
    pub(crate) async fn commit_as(
        &self,
        plan: &BuildPlan,
        container: &str,
        base: &ResolvedImage,
        commit: &CommitSpec,
        step: &str,
        labels: BTreeMap<String, String>,
    ) -> Result<Committed> {
        if let Some(image) = &plan.image {
            let written = self.write_image(plan, image, container, base, commit, step).await?;
            return Ok(Committed { image_id: written.image_id.clone(), labels, written: Some(written) });
        }
        let display = plan.output.as_ref().map_or_else(|| "(untagged)".to_owned(), ToString::to_string);
        let stage = StageTimer::start(self.events.as_ref(), Stage::Commit, &display);
        let image_id = self
            .runtime
            .commit_container(container, commit)
            .await
            .map_err(|e| Error::runtime(format!("commit {display}"), e))?;
        stage.finish(self.events.as_ref());
        Ok(Committed { image_id, labels, written: None })
    }

    /// Labels assemble wrote to `/tmp/.s2i/image_metadata.json`, if it did.
    pub(crate) async fn image_metadata(&self, container: &str) -> Result<BTreeMap<String, String>> {
        let Some(text) = self.read_small_file(container, IMAGE_METADATA_PATH).await? else {
            return Ok(BTreeMap::new());
        };
        let labels = labels::parse_image_metadata(text.as_bytes())?;
        if !labels.is_empty() {
            self.events.detail(format!(
                "Labels from {IMAGE_METADATA_PATH}: {}",
                labels.keys().cloned().collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(labels)
    }
}
