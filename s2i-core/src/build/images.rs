//! Obtaining images: `Engine::obtain_image` makes an image available by pull
//! policy (pulling with retries on transient failures) and inspects it.

use std::time::Duration;

use super::{Engine, PullPolicy};
use crate::auth::CredentialFiles;
use crate::error::{Error, Result};
use crate::events::{BuildEvent, EventSinkExt, Stage};
use crate::exec::StageTimer;
use crate::plan::ResolvedImage;
use crate::reference::ImageReference;
use crate::retry::retry;

impl Engine {
    /// Make an image available by pull policy and inspect it.
    pub async fn obtain_image(&self, reference: &ImageReference, policy: PullPolicy) -> Result<ResolvedImage> {
        self.obtain_image_with(reference, policy, None).await
    }

    /// [`Self::obtain_image`], pulling with `credentials` when they have an
    /// entry for the image's repository (else with the runtime's own).
    pub async fn obtain_image_with(
        &self,
        reference: &ImageReference,
        policy: PullPolicy,
        credentials: Option<&CredentialFiles>,
    ) -> Result<ResolvedImage> {
        let engine_name = reference.engine_name();
        let stage = StageTimer::start(self.events.as_ref(), Stage::PullImage, &engine_name);
        let inspect = |name: String| async move {
            self.runtime.inspect_image(&name).await.map_err(|e| Error::runtime(format!("inspect image {name}"), e))
        };
        let info = match policy {
            PullPolicy::Never => inspect(engine_name.clone()).await?,
            PullPolicy::IfNotPresent => match inspect(engine_name.clone()).await? {
                Some(info) => Some(info),
                None => {
                    self.pull(&engine_name, policy, credentials).await?;
                    inspect(engine_name.clone()).await?
                }
            },
            PullPolicy::Always => {
                self.pull(&engine_name, policy, credentials).await?;
                inspect(engine_name.clone()).await?
            }
        };
        let Some(info) = info else {
            return Err(Error::ImageNotFound { image: engine_name, policy, runtime_image: false });
        };
        stage.finish(self.events.as_ref());
        Ok(ResolvedImage {
            name: reference.to_string(),
            canonical: reference.normalized().to_string(),
            engine_name,
            info,
        })
    }

    async fn pull(&self, image: &str, policy: PullPolicy, credentials: Option<&CredentialFiles>) -> Result<()> {
        self.events.info(format!("Pulling image {image} ..."));
        let explicit = match (credentials, ImageReference::parse(image)) {
            (Some(files), Ok(reference)) => {
                // A credential helper may run: off the async threads.
                let files = files.clone();
                tokio::task::spawn_blocking(move || files.credentials_for(&reference)).await.map_err(|e| {
                    Error::PullFailed {
                        image: image.to_owned(),
                        kind: crate::runtime::RuntimeErrorKind::Other,
                        policy,
                        message: format!("the credential lookup failed: {e}"),
                    }
                })??
            }
            _ => None,
        };
        let events = self.events.clone();
        let image_owned = image.to_owned();
        let progress = move |progress| events.emit(BuildEvent::Pull { image: image_owned.clone(), progress });
        retry(3, Duration::from_secs(2), super::push::is_transient, |_| async {
            match &explicit {
                Some(credentials) => self.runtime.pull_image_with(image, credentials, &progress).await,
                None => self.runtime.pull_image(image, &progress).await,
            }
        })
        .await
        .map_err(|e| Error::PullFailed { image: image.to_owned(), kind: e.kind, policy, message: e.message })
    }
}
