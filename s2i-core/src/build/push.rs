//! Publishing: after a successful build, `Engine::publish` pushes the output
//! tag (and, when asked, the builder stage an incremental chained build
//! keeps) to its registry, with the credentials the runtime knows, and
//! records the digest the registry stored.

use std::time::Duration;

use super::{BuildOptions, BuildResult, Engine, PushedImage};
use crate::error::{Error, Result};
use crate::events::{BuildEvent, EventSinkExt, Stage};
use crate::exec::{StageTimer, short_id};
use crate::plan::BuildPlan;
use crate::reference::ImageReference;
use crate::retry::retry;
use crate::runtime::RuntimeErrorKind;

/// Options that ask for a push, checked before anything is built.
pub(crate) fn check_push_options(options: &BuildOptions) -> Result<()> {
    if options.push && options.tag.as_deref().is_none_or(str::is_empty) {
        return Err(Error::NoTagToPush);
    }
    if options.push_builder_stage && !options.push {
        return Err(Error::option(
            "--push-builder-stage",
            "the builder stage is pushed only with the image itself",
            "add --push",
        ));
    }
    if options.push_builder_stage && !(options.incremental && options.runtime_image.is_some()) {
        return Err(Error::option(
            "--push-builder-stage",
            "only an incremental build with --runtime-image keeps a builder stage",
            "add --incremental and --runtime-image, or drop --push-builder-stage",
        ));
    }
    Ok(())
}

impl Engine {
    /// Push what the options ask for and record it in `result`.
    pub(crate) async fn publish(
        &self,
        options: &BuildOptions,
        plan: &BuildPlan,
        result: &mut BuildResult,
    ) -> Result<()> {
        if !options.push {
            return Ok(());
        }
        let output = plan.output.as_ref().expect("checked: --push has a tag");
        result.pushed = Some(self.push(output, &result.image_id).await?);
        if options.push_builder_stage
            && let Some(stage) = &plan.builder_stage
        {
            let reference = super::parse_image("builder stage", stage)?;
            let id = self
                .runtime
                .inspect_image(stage)
                .await
                .map_err(|e| Error::runtime(format!("inspect the builder stage {stage}"), e))?
                .map(|info| info.id)
                .unwrap_or_default();
            result.builder_stage_pushed = Some(self.push(&reference, &id).await?);
        }
        Ok(())
    }

    /// Push `reference` (a tag the engine has, naming image `image_id`) to its registry.
    async fn push(&self, reference: &ImageReference, image_id: &str) -> Result<PushedImage> {
        let tag = format!("{}:{}", reference.name(), reference.tag_or_default());
        let registry = reference.registry_or_default().to_owned();
        let stage = StageTimer::start(self.events.as_ref(), Stage::Push, &tag);
        self.events.info(format!("Pushing {tag} ..."));
        let events = self.events.clone();
        let image = tag.clone();
        let progress = move |progress| events.emit(BuildEvent::Push { image: image.clone(), progress });
        let pushed = retry(3, Duration::from_secs(2), is_transient, |_| self.runtime.push_image(&tag, &progress)).await;
        let failed = |kind: RuntimeErrorKind, message: String| Error::PushFailed {
            image: tag.clone(),
            registry: registry.clone(),
            image_id: short_id(image_id).to_owned(),
            kind,
            message,
        };
        let digest = match pushed {
            Ok(Some(digest)) => digest,
            // The engine did not say; the digest it records for the repository is the one pushed.
            Ok(None) => self.recorded_digest(reference, image_id).await.ok_or_else(|| {
                failed(RuntimeErrorKind::Other, "the engine did not say which digest the registry stored".into())
            })?,
            Err(e) => return Err(failed(e.kind, e.message)),
        };
        stage.finish(self.events.as_ref());
        let pushed = PushedImage { reference: format!("{}@{digest}", reference.name()), digest, tag };
        self.events.info(format!("Pushed {} ({})", pushed.tag, pushed.digest));
        Ok(pushed)
    }

    /// The digest the engine records for `reference`'s repository on the image.
    async fn recorded_digest(&self, reference: &ImageReference, image_id: &str) -> Option<String> {
        let info = self.runtime.inspect_image(image_id).await.ok()??;
        let wanted = reference.normalized().name();
        info.repo_digests.iter().find_map(|entry| {
            let (name, digest) = entry.split_once('@')?;
            let name = ImageReference::parse(name).ok()?.normalized().name();
            (name == wanted).then(|| digest.to_owned())
        })
    }
}

/// A failure worth trying again: the connection to the registry dropped, or
/// the engine was busy with the same image.
pub(crate) fn is_transient(e: &crate::runtime::RuntimeError) -> bool {
    e.kind == RuntimeErrorKind::Other
        && ["connection reset", "connection refused", "already in progress", "transport closed", "timeout"]
            .iter()
            .any(|needle| e.message.contains(needle))
}
