//! What the API server does with a BuildConfig before it is stored: defaults
//! and conversions (run policy, history limits, `from` kinds, `ImageStream`
//! references read as their `latest` tag, an ImageChange trigger's implicit
//! `imageChange: {}`, triggers that could never fire dropped, binary sources
//! without `binary`, the computed `type` fields, deprecated trigger
//! spellings) and validation with OpenShift's rules and messages. What a
//! local build does not act on (other strategies, webhooks, cluster
//! settings) is accepted, kept as written, and reported as [`Kept`] data.

use s2i_core::reference::ImageReference;

use crate::error::{Error, Result};
use crate::kept::Kept;
use crate::quantity::{self, ParsedQuantity};
use crate::types::*;
use s2i_imagestream::names::{split_istag_name, validate_stream_name, validate_tag};
use s2i_store::{Resource, validate_namespace};

/// How many builds of each outcome are kept when a BuildConfig does not say.
pub(crate) const DEFAULT_HISTORY_LIMIT: i32 = 5;

/// `DockerImage`.
pub(crate) const KIND_DOCKER_IMAGE: &str = "DockerImage";
/// `ImageStreamTag`.
pub(crate) const KIND_IMAGE_STREAM_TAG: &str = "ImageStreamTag";
/// `ImageStreamImage`.
pub(crate) const KIND_IMAGE_STREAM_IMAGE: &str = "ImageStreamImage";

struct Check<'a> {
    kind: &'static str,
    name: &'a str,
}

impl Check<'_> {
    fn invalid(&self, field: &str, message: impl Into<String>, help: &str) -> Error {
        Error::InvalidObject {
            kind: self.kind,
            name: self.name.to_owned(),
            message: format!("{field}: {}", message.into()),
            help: help.to_owned(),
        }
    }
}

/// Check a name: a DNS-1123 subdomain (lower-case letters, digits, `-` and
/// `.`, starting and ending with a letter or digit, at most 253 characters).
pub(crate) fn validate_object_name(kind: &str, name: &str) -> Result<()> {
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = name.as_bytes();
    let ok = !bytes.is_empty()
        && bytes.len() <= 253
        && edge(bytes[0])
        && edge(bytes[bytes.len() - 1])
        && bytes.iter().all(|&c| edge(c) || c == b'-' || c == b'.');
    if ok {
        Ok(())
    } else {
        Err(Error::InvalidName {
            what: format!("{kind} name"),
            value: name.into(),
            reason:
                "a name is 1-253 lower-case letters, digits, '-' or '.', starting and ending with a letter or digit"
                    .into(),
            help: "use a name like `app` or `app-artifact`".into(),
        })
    }
}

fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '-' || c == '.')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// A label key: `[prefix/]name`, the name 1-63 of `[A-Za-z0-9_.-]` starting and ending alphanumeric,
/// the prefix a DNS subdomain.
pub(crate) fn is_label_key(key: &str) -> bool {
    let (prefix, name) = match key.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name.ends_with(|c: char| c.is_ascii_alphanumeric())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    name_ok && prefix.is_none_or(|p| validate_object_name("label prefix", p).is_ok())
}

fn is_label_value(value: &str) -> bool {
    value.is_empty()
        || (value.len() <= 63
            && value.starts_with(|c: char| c.is_ascii_alphanumeric())
            && value.ends_with(|c: char| c.is_ascii_alphanumeric())
            && value.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')))
}

/// Clean a path lexically, like Go's `path.Clean` (the workspace's one implementation).
pub(crate) use s2i_core::scripts::clean_unix as clean_path;

/// Check an image reference of `field` (`from` of a strategy, image source or trigger).
fn check_reference(check: &Check<'_>, field: &str, from: &ObjectReference, kinds: &[&str]) -> Result<()> {
    if from.name.is_empty() {
        return Err(check.invalid(&format!("{field}.name"), "Required value", "name the image"));
    }
    if !kinds.contains(&from.kind.as_str()) {
        return Err(check.invalid(
            &format!("{field}.kind"),
            format!("{:?}: must be {}", from.kind, kinds.join(" or ")),
            "set kind to one of those",
        ));
    }
    match from.kind.as_str() {
        KIND_IMAGE_STREAM_TAG => {
            let bad = || {
                check.invalid(
                    &format!("{field}.name"),
                    format!("{:?}: ImageStreamTag object references must be in the form <name>:<tag>", from.name),
                    "write STREAM:TAG, e.g. ruby:3.3",
                )
            };
            let (stream, tag) = split_istag_name(&from.name).map_err(|_| bad())?;
            let namespace = if from.namespace.is_empty() { "default" } else { &from.namespace };
            validate_stream_name(namespace, stream).map_err(|_| bad())?;
            validate_tag(tag).map_err(|_| bad())?;
        }
        KIND_IMAGE_STREAM_IMAGE => {
            if !from.name.contains('@') {
                return Err(check.invalid(
                    &format!("{field}.name"),
                    format!("{:?}: ImageStreamImage object references must be in the form <name>@<id>", from.name),
                    "write STREAM@sha256:HEX",
                ));
            }
        }
        _ => {
            ImageReference::parse(&from.name).map_err(|e| {
                check.invalid(&format!("{field}.name"), e.to_string(), "write a pull spec, e.g. quay.io/org/app:1.0")
            })?;
            if !from.namespace.is_empty() {
                return Err(check.invalid(
                    &format!("{field}.namespace"),
                    "namespace is not valid when used with a 'DockerImage'",
                    "drop namespace: a pull spec names its registry and repository itself",
                ));
            }
        }
    }
    if !from.namespace.is_empty() {
        validate_namespace(&from.namespace)?;
    }
    Ok(())
}

/// Apply the API server's defaults to a BuildConfig as a client wrote it:
/// `runPolicy: Serial`, history limits (5 on create; kept from `old` on
/// update when unset), `from.kind: ImageStreamTag`, the computed `type`
/// fields, deprecated trigger spellings.
pub(crate) fn set_defaults(config: &mut BuildConfig, old: Option<&BuildConfig>) {
    config.api_version = API_VERSION.into();
    config.kind = BuildConfig::KIND.into();
    let spec = &mut config.spec;
    let kept = |field: fn(&BuildConfigSpec) -> Option<i32>| match old {
        Some(old) => field(&old.spec),
        None => Some(DEFAULT_HISTORY_LIMIT),
    };
    if spec.successful_builds_history_limit.is_none() {
        spec.successful_builds_history_limit = kept(|s| s.successful_builds_history_limit);
    }
    if spec.failed_builds_history_limit.is_none() {
        spec.failed_builds_history_limit = kept(|s| s.failed_builds_history_limit);
    }
    for trigger in &mut spec.triggers {
        match trigger.kind.as_str() {
            "imageChange" => trigger.kind = TRIGGER_IMAGE_CHANGE.into(),
            "github" => trigger.kind = "GitHub".into(),
            "generic" => trigger.kind = "Generic".into(),
            _ => {}
        }
        if trigger.kind == TRIGGER_IMAGE_CHANGE && trigger.image_change.is_none() {
            trigger.image_change = Some(ImageChangeTrigger::default());
        }
    }
    set_common_defaults(&mut spec.source, &mut spec.strategy);
    convert_output(&mut spec.output);
    // A trigger without `from` watches the strategy's image, which only an
    // ImageStreamTag can move: OpenShift drops it when the strategy builds
    // from anything else, since it could never fire.
    let watches_tag = strategy_from(&spec.strategy).is_some_and(|from| from.kind == KIND_IMAGE_STREAM_TAG);
    spec.triggers.retain(|trigger| {
        trigger.kind != TRIGGER_IMAGE_CHANGE
            || watches_tag
            || trigger.image_change.as_ref().is_some_and(|change| change.from.is_some())
    });
}

/// The image the strategy builds from, whichever strategy it is.
fn strategy_from(strategy: &BuildStrategy) -> Option<&ObjectReference> {
    strategy.from_image()
}

/// OpenShift reads a reference of kind `ImageStream` as its `latest` tag
/// (and an empty kind as `ImageStreamTag`).
fn convert_reference(from: &mut ObjectReference) {
    if from.kind.is_empty() {
        from.kind = KIND_IMAGE_STREAM_TAG.into();
    } else if from.kind == "ImageStream" {
        from.kind = KIND_IMAGE_STREAM_TAG.into();
        if !from.name.contains(':') {
            from.name = format!("{}:latest", from.name);
        }
    }
}

/// An output of kind `ImageStream` is its `latest` tag.
fn convert_output(output: &mut BuildOutput) {
    if let Some(to) = &mut output.to
        && to.kind == "ImageStream"
    {
        convert_reference(to);
    }
}

/// The computed `type` fields and `from.kind` defaults, for build configs and builds alike.
pub(crate) fn set_common_defaults(source: &mut BuildSource, strategy: &mut BuildStrategy) {
    // The API server's defaults read the `type` a client wrote first.
    if source.kind == "Binary" && source.binary.is_none() {
        source.binary = Some(BinaryBuildSource::default());
    }
    if strategy.kind == "Docker" && strategy.docker_strategy.is_none() {
        strategy.docker_strategy = Some(DockerBuildStrategy::default());
    }
    source.kind = if source.git.is_some() {
        "Git"
    } else if source.binary.is_some() {
        "Binary"
    } else if source.dockerfile.is_some() {
        "Dockerfile"
    } else if !source.images.is_empty() {
        "Image"
    } else {
        "None"
    }
    .into();
    if !source.context_dir.is_empty() {
        source.context_dir = clean_path(&source.context_dir);
    }
    if let Some(strategy) = &mut strategy.source_strategy {
        convert_reference(&mut strategy.from);
    }
    if let Some(from) = strategy.docker_strategy.as_mut().and_then(|docker| docker.from.as_mut()) {
        convert_reference(from);
    }
    if let Some(custom) = &mut strategy.custom_strategy {
        convert_reference(&mut custom.from);
    }
    strategy.kind = if strategy.source_strategy.is_some() {
        "Source"
    } else if strategy.docker_strategy.is_some() {
        "Docker"
    } else if strategy.custom_strategy.is_some() {
        "Custom"
    } else if strategy.jenkins_pipeline_strategy.is_some() {
        "JenkinsPipeline"
    } else {
        ""
    }
    .into();
}

/// Check a BuildConfig (defaults applied) with OpenShift's rules. Returns
/// what it keeps that a local build does not act on.
pub(crate) fn validate_build_config(config: &BuildConfig) -> Result<Vec<Kept>> {
    let name = config.metadata.name.as_str();
    let check = Check { kind: BuildConfig::KIND, name };
    validate_namespace(&config.metadata.namespace)?;
    validate_object_name("BuildConfig", name)?;
    let mut warnings = Vec::new();
    let spec = &config.spec;
    match &spec.run_policy {
        RunPolicy::Serial | RunPolicy::Parallel | RunPolicy::SerialLatestOnly => {}
        RunPolicy::Other(other) => {
            return Err(check.invalid(
                "spec.runPolicy",
                format!("{other:?}: run policy must Parallel, Serial, or SerialLatestOnly"),
                "set runPolicy to Serial (the default), Parallel or SerialLatestOnly",
            ));
        }
    }
    for (field, limit) in [
        ("spec.successfulBuildsHistoryLimit", spec.successful_builds_history_limit),
        ("spec.failedBuildsHistoryLimit", spec.failed_builds_history_limit),
    ] {
        if limit.is_some_and(|l| l < 0) {
            return Err(check.invalid(field, "must be greater than or equal to 0", "give a count of builds to keep"));
        }
    }
    validate_triggers(&check, spec, &mut warnings)?;
    validate_common(
        &check,
        &CommonView {
            service_account: &spec.service_account,
            source: &spec.source,
            strategy: &spec.strategy,
            output: &spec.output,
            resources: &spec.resources,
            post_commit: &spec.post_commit,
            completion_deadline_seconds: spec.completion_deadline_seconds,
            node_selector: spec.node_selector.as_ref(),
            mount_trusted_ca: spec.mount_trusted_ca,
        },
        &mut warnings,
    )?;
    Ok(warnings)
}

/// Check a Build a client wrote (defaults applied) with the rules of the
/// spec it shares with BuildConfigs. Returns what it keeps that a local
/// build does not act on.
pub(crate) fn validate_build(build: &Build) -> Result<Vec<Kept>> {
    let name = build.metadata.name.as_str();
    let check = Check { kind: Build::KIND, name };
    validate_namespace(&build.metadata.namespace)?;
    validate_object_name("Build", name)?;
    let mut warnings = Vec::new();
    let spec = &build.spec;
    validate_common(
        &check,
        &CommonView {
            service_account: &spec.service_account,
            source: &spec.source,
            strategy: &spec.strategy,
            output: &spec.output,
            resources: &spec.resources,
            post_commit: &spec.post_commit,
            completion_deadline_seconds: spec.completion_deadline_seconds,
            node_selector: spec.node_selector.as_ref(),
            mount_trusted_ca: spec.mount_trusted_ca,
        },
        &mut warnings,
    )?;
    Ok(warnings)
}

fn validate_triggers(check: &Check<'_>, spec: &BuildConfigSpec, warnings: &mut Vec<Kept>) -> Result<()> {
    let mut webhooks = Vec::new();
    let mut without_from = 0;
    let mut watched: Vec<(String, String)> = Vec::new();
    for (index, trigger) in spec.triggers.iter().enumerate() {
        let field = format!("spec.triggers[{index}]");
        match trigger.kind.as_str() {
            TRIGGER_IMAGE_CHANGE => {
                let Some(image_change) = &trigger.image_change else {
                    return Err(check.invalid(
                        &format!("{field}.imageChange"),
                        "Required value",
                        "write `imageChange: {}` to watch the strategy's from, or give `imageChange: {from: …}`",
                    ));
                };
                let from = match &image_change.from {
                    Some(from) => {
                        check_reference(check, &format!("{field}.imageChange.from"), from, &[KIND_IMAGE_STREAM_TAG])?;
                        from.clone()
                    }
                    None => {
                        without_from += 1;
                        if without_from > 1 {
                            return Err(check.invalid(
                                &format!("{field}.imageChange.from"),
                                "only one ImageChange trigger is allowed without a from",
                                "give the other triggers a from",
                            ));
                        }
                        match strategy_from(&spec.strategy) {
                            Some(from) if from.kind == KIND_IMAGE_STREAM_TAG => from.clone(),
                            _ => {
                                return Err(check.invalid(
                                    &format!("{field}.imageChange.from"),
                                    "a trigger without from watches the strategy's from, which must be an \
                                     ImageStreamTag",
                                    "give the trigger a from (an ImageStreamTag), or build from an ImageStreamTag",
                                ));
                            }
                        }
                    }
                };
                let key = (from.namespace.clone(), from.name.clone());
                if watched.contains(&key) {
                    return Err(check.invalid(
                        &format!("{field}.imageChange.from"),
                        format!("{:?}: only one ImageChange trigger may watch an image stream tag", from.name),
                        "remove the duplicate trigger",
                    ));
                }
                watched.push(key);
            }
            TRIGGER_CONFIG_CHANGE => {}
            kind if trigger.is_webhook() => {
                let member = kind.to_ascii_lowercase();
                let Some(hook) = trigger.webhook() else {
                    return Err(check.invalid(
                        &format!("{field}.{member}"),
                        "Required value",
                        &format!("give the webhook's secret: {member}: {{secretReference: {{name: SECRET}}}}"),
                    ));
                };
                if hook.secret.is_empty() && hook.secret_reference.is_none() {
                    return Err(check.invalid(
                        &format!("{field}.{member}.secretReference"),
                        "Required value: must provide a value for at least one of secret or secretReference",
                        "name a Secret whose key WebHookSecretKey is the webhook's secret",
                    ));
                }
                if hook.secret_reference.as_ref().is_some_and(|r| r.name.is_empty()) {
                    return Err(check.invalid(
                        &format!("{field}.{member}.secretReference.name"),
                        "Required value: name of the secret reference is required",
                        "name the Secret",
                    ));
                }
                if hook.allow_env && kind != "Generic" {
                    return Err(check.invalid(
                        &format!("{field}.{member}.allowEnv"),
                        "git webhooks cannot allow env vars",
                        "drop allowEnv (only Generic webhooks may set the build's environment)",
                    ));
                }
                webhooks.push(kind.to_owned());
            }
            "" => {
                return Err(check.invalid(
                    &format!("{field}.type"),
                    "Required value",
                    "set type to ImageChange, ConfigChange, GitHub, Generic, GitLab or Bitbucket",
                ));
            }
            other => {
                return Err(check.invalid(
                    &format!("{field}.type"),
                    format!("{other:?} is not a trigger type"),
                    "use ImageChange, ConfigChange, GitHub, Generic, GitLab or Bitbucket",
                ));
            }
        }
    }
    if !webhooks.is_empty() {
        warnings.push(Kept::WebhookTriggers(webhooks));
    }
    Ok(())
}

/// The fields builds and build configs share, for validation.
struct CommonView<'a> {
    service_account: &'a str,
    source: &'a BuildSource,
    strategy: &'a BuildStrategy,
    output: &'a BuildOutput,
    resources: &'a ResourceRequirements,
    post_commit: &'a BuildPostCommitSpec,
    completion_deadline_seconds: Option<i64>,
    node_selector: Option<&'a std::collections::BTreeMap<String, String>>,
    mount_trusted_ca: Option<bool>,
}

fn validate_common(check: &Check<'_>, spec: &CommonView<'_>, warnings: &mut Vec<Kept>) -> Result<()> {
    validate_strategy(check, spec.strategy, warnings)?;
    // Under the Docker strategy, its own fields are covered by the strategy's warning.
    let docker = spec.strategy.docker_strategy.is_some();
    validate_source(check, spec.source, docker, warnings)?;
    validate_output(check, spec.output)?;
    validate_resources(check, spec.resources, warnings)?;
    let hook = spec.post_commit;
    if !hook.script.is_empty() && !hook.command.is_empty() {
        return Err(check.invalid(
            "spec.postCommit",
            "cannot use script and command together",
            "use script (run with /bin/sh -ic), or command with args",
        ));
    }
    if spec.completion_deadline_seconds.is_some_and(|s| s <= 0) {
        return Err(check.invalid(
            "spec.completionDeadlineSeconds",
            "completionDeadlineSeconds must be a positive integer greater than 0",
            "give the deadline in seconds, e.g. 1800",
        ));
    }
    if let Some(selector) = spec.node_selector {
        for (key, value) in selector {
            if !is_label_key(key) || !is_label_value(value) {
                return Err(check.invalid(
                    "spec.nodeSelector",
                    format!("{key}={value} is not a valid label"),
                    "write label keys and values as Kubernetes does",
                ));
            }
        }
        if !selector.is_empty() {
            warnings
                .push(Kept::setting("spec.nodeSelector", "selects cluster nodes; a local build runs on this machine"));
        }
    }
    if !spec.service_account.is_empty() {
        warnings.push(Kept::setting(
            "spec.serviceAccount",
            format!(
                "{:?} is an OpenShift identity; a local build runs as you, with your engine's credentials and the \
                 Secrets the config names",
                spec.service_account
            ),
        ));
    }
    if spec.mount_trusted_ca.is_some_and(|m| m) {
        warnings
            .push(Kept::setting("spec.mountTrustedCA", "mounts the cluster's CAs; a local build uses this machine's"));
    }
    Ok(())
}

fn validate_strategy(check: &Check<'_>, strategy: &BuildStrategy, warnings: &mut Vec<Kept>) -> Result<()> {
    let count = [
        strategy.source_strategy.is_some(),
        strategy.docker_strategy.is_some(),
        strategy.custom_strategy.is_some(),
        strategy.jenkins_pipeline_strategy.is_some(),
    ]
    .iter()
    .filter(|set| **set)
    .count();
    if count != 1 {
        return Err(check.invalid(
            "spec.strategy",
            "must provide a value for exactly one of sourceStrategy, customStrategy, dockerStrategy, or \
             jenkinsPipelineStrategy",
            "give a sourceStrategy",
        ));
    }
    if let Some(docker) = &strategy.docker_strategy {
        if let Some(from) = &docker.from {
            let kinds = [KIND_IMAGE_STREAM_TAG, KIND_IMAGE_STREAM_IMAGE, KIND_DOCKER_IMAGE];
            check_reference(check, "spec.strategy.dockerStrategy.from", from, &kinds)?;
        }
        let path = clean_path(&docker.dockerfile_path);
        if docker.dockerfile_path.starts_with('/') || path == ".." || path.starts_with("../") {
            return Err(check.invalid(
                "spec.strategy.dockerStrategy.dockerfilePath",
                "must be a relative path within your source location",
                "give the Dockerfile's path relative to the context directory",
            ));
        }
        validate_env(check, "spec.strategy.dockerStrategy.env", &docker.env)?;
        warnings.push(Kept::Strategy { field: "spec.strategy.dockerStrategy".into(), strategy: "Docker".into() });
        return Ok(());
    }
    if let Some(custom) = &strategy.custom_strategy {
        let kinds = [KIND_IMAGE_STREAM_TAG, KIND_IMAGE_STREAM_IMAGE, KIND_DOCKER_IMAGE];
        check_reference(check, "spec.strategy.customStrategy.from", &custom.from, &kinds)?;
        validate_env(check, "spec.strategy.customStrategy.env", &custom.env)?;
        warnings.push(Kept::Strategy { field: "spec.strategy.customStrategy".into(), strategy: "Custom".into() });
        return Ok(());
    }
    if let Some(jenkins) = &strategy.jenkins_pipeline_strategy {
        if !jenkins.jenkinsfile.is_empty() && !jenkins.jenkinsfile_path.is_empty() {
            return Err(check.invalid(
                "spec.strategy.jenkinsPipelineStrategy",
                "must provide a value for exactly one of jenkinsfilePath or jenkinsfile",
                "give the Jenkinsfile inline or by its path, not both",
            ));
        }
        validate_env(check, "spec.strategy.jenkinsPipelineStrategy.env", &jenkins.env)?;
        warnings.push(Kept::Strategy {
            field: "spec.strategy.jenkinsPipelineStrategy".into(),
            strategy: "JenkinsPipeline".into(),
        });
        return Ok(());
    }
    let source = strategy.source_strategy.as_ref().expect("exactly one strategy, and not another");
    check_reference(
        check,
        "spec.strategy.sourceStrategy.from",
        &source.from,
        &[KIND_IMAGE_STREAM_TAG, KIND_IMAGE_STREAM_IMAGE, KIND_DOCKER_IMAGE],
    )?;
    validate_env(check, "spec.strategy.sourceStrategy.env", &source.env)?;
    for (index, var) in source.env.iter().enumerate() {
        if var.value_from.is_some() {
            warnings.push(Kept::setting(
                format!("spec.strategy.sourceStrategy.env[{index}].valueFrom"),
                format!("the value of {} comes from the cluster; a local build leaves it unset", var.name),
            ));
        }
    }
    if !source.volumes.is_empty() {
        validate_volumes(check, "spec.strategy.sourceStrategy.volumes", &source.volumes)?;
        warnings.push(Kept::setting(
            "spec.strategy.sourceStrategy.volumes",
            "build volumes are mounted in a cluster's build pod; a local build does not mount them (source.secrets \
             and source.configMaps bring files into a local build)",
        ));
    }
    Ok(())
}

fn validate_env(check: &Check<'_>, field: &str, env: &[EnvVar]) -> Result<()> {
    for (index, var) in env.iter().enumerate() {
        let field = format!("{field}[{index}]");
        if !is_env_name(&var.name) {
            return Err(check.invalid(
                &format!("{field}.name"),
                format!(
                    "{:?}: a valid environment variable name must consist of alphabetic characters, digits, \
                         '_', '-', or '.', and must not start with a digit",
                    var.name
                ),
                "rename the variable",
            ));
        }
        if let Some(from) = &var.value_from {
            if from.resource_field_ref.is_some() {
                return Err(check.invalid(
                    &format!("{field}.valueFrom.resourceFieldRef"),
                    "resourceFieldRef is not supported in this context",
                    "give the value, or take it from a Secret, a ConfigMap or a field",
                ));
            }
            let set = [from.field_ref.is_some(), from.config_map_key_ref.is_some(), from.secret_key_ref.is_some()];
            if set.iter().filter(|s| **s).count() != 1 {
                return Err(check.invalid(
                    &format!("{field}.valueFrom"),
                    "may not have more than one field specified at a time",
                    "take the value from one of fieldRef, configMapKeyRef or secretKeyRef",
                ));
            }
        }
    }
    Ok(())
}

fn validate_volumes(check: &Check<'_>, field: &str, volumes: &[BuildVolume]) -> Result<()> {
    let mut names = std::collections::BTreeSet::new();
    for (index, volume) in volumes.iter().enumerate() {
        let at = format!("{field}[{index}]");
        if validate_object_name("volume", &volume.name).is_err() || volume.name.contains('.') {
            return Err(check.invalid(
                &format!("{at}.name"),
                format!("{:?}: must be a DNS-1123 label", volume.name),
                "name the volume with lower-case letters, digits and '-'",
            ));
        }
        if !names.insert(volume.name.as_str()) {
            return Err(check.invalid(
                &format!("{at}.name"),
                format!("Duplicate value: {:?}", volume.name),
                "rename it",
            ));
        }
        let source = &volume.source;
        let given = match source.kind.as_str() {
            "Secret" => source.secret.is_some(),
            "ConfigMap" => source.config_map.is_some(),
            "CSI" => source.csi.is_some(),
            other => {
                return Err(check.invalid(
                    &format!("{at}.source.type"),
                    format!("Unsupported value: {other:?}: supported values: \"Secret\", \"ConfigMap\", \"CSI\""),
                    "set type to the kind of the volume's source",
                ));
            }
        };
        let count = [source.secret.is_some(), source.config_map.is_some(), source.csi.is_some()];
        if !given || count.iter().filter(|s| **s).count() != 1 {
            return Err(check.invalid(
                &format!("{at}.source"),
                "must provide exactly one of secret, configMap or csi, matching type",
                "give the source its type names",
            ));
        }
        if volume.mounts.is_empty() {
            return Err(check.invalid(&format!("{at}.mounts"), "Required value", "say where to mount it"));
        }
        for (m, mount) in volume.mounts.iter().enumerate() {
            let path = &mount.destination_path;
            if !path.starts_with('/') || path.contains(':') || path.split('/').any(|part| part == "..") {
                return Err(check.invalid(
                    &format!("{at}.mounts[{m}].destinationPath"),
                    format!("{path:?}: must be an absolute path without ':' or '..'"),
                    "give an absolute path, e.g. /var/run/secrets/app",
                ));
            }
        }
    }
    Ok(())
}

fn validate_source(check: &Check<'_>, source: &BuildSource, docker: bool, warnings: &mut Vec<Kept>) -> Result<()> {
    if let Some(git) = &source.git {
        if git.uri.trim().is_empty() {
            return Err(check.invalid("spec.source.git.uri", "Required value", "give the repository's URL or path"));
        }
        for (set, field) in [
            (git.http_proxy.is_some(), "httpProxy"),
            (git.https_proxy.is_some(), "httpsProxy"),
            (git.no_proxy.is_some(), "noProxy"),
        ] {
            if set {
                warnings.push(Kept::setting(
                    format!("spec.source.git.{field}"),
                    "is a cluster's proxy for the clone; a local clone uses the proxy of the environment s2i runs in \
                     and git's own configuration",
                ));
            }
        }
        if source.binary.is_some() {
            return Err(check.invalid(
                "spec.source.git",
                "may not be set with binary",
                "a BuildConfig builds either a git repository or binary input",
            ));
        }
    }
    if let Some(binary) = &source.binary
        && !binary.as_file.is_empty()
    {
        let name = &binary.as_file;
        if name.contains(['/', '\\']) || name == "." || name == ".." {
            return Err(check.invalid(
                "spec.source.binary.asFile",
                format!("{name:?}: file name may not contain slashes or be '.' or '..'"),
                "give a plain file name",
            ));
        }
    }
    if let Some(dockerfile) = &source.dockerfile {
        if dockerfile.len() > 60_000 {
            return Err(check.invalid(
                "spec.source.dockerfile",
                "Too long: must have at most 60000 bytes",
                "keep the Dockerfile in the repository instead",
            ));
        }
        if !docker {
            warnings.push(Kept::setting("spec.source.dockerfile", "is read by the Docker strategy only"));
        }
    }
    let context = &source.context_dir;
    if !context.is_empty() && (context == ".." || context.starts_with("../") || context.starts_with('/')) {
        return Err(check.invalid(
            "spec.source.contextDir",
            "context dir must not be a relative path that escapes the source or an absolute path",
            "give a sub-directory of the source",
        ));
    }
    for (index, image) in source.images.iter().enumerate() {
        let field = format!("spec.source.images[{index}]");
        check_reference(
            check,
            &format!("{field}.from"),
            &image.from,
            &[KIND_IMAGE_STREAM_TAG, KIND_IMAGE_STREAM_IMAGE, KIND_DOCKER_IMAGE],
        )?;
        if !image.as_names.is_empty() {
            if image.as_names.iter().any(String::is_empty) {
                return Err(check.invalid(
                    &format!("{field}.as"),
                    "Invalid value: \"\": must not be empty",
                    "name the stage",
                ));
            }
            warnings
                .push(Kept::setting(format!("{field}.as"), "replaces Dockerfile stages, for the Docker strategy only"));
        }
        if image.paths.is_empty() && image.as_names.is_empty() {
            return Err(check.invalid(
                &format!("{field}.paths"),
                "Required value: an image source copies paths",
                "list the paths to copy: paths: [{sourcePath: /abs/path, destinationDir: dir}]",
            ));
        }
        for (p, path) in image.paths.iter().enumerate() {
            let at = format!("{field}.paths[{p}]");
            if !path.source_path.starts_with('/') {
                return Err(check.invalid(
                    &format!("{at}.sourcePath"),
                    format!("{:?}: must be an absolute path", path.source_path),
                    "give the path in the image, e.g. /opt/app/bin",
                ));
            }
            if clean_path(&path.source_path) == "/" {
                return Err(check.invalid(
                    &format!("{at}.sourcePath"),
                    "copies the whole image",
                    "name a file or directory of the image",
                ));
            }
            check_destination(check, &format!("{at}.destinationDir"), &path.destination_dir)?;
        }
        if image.pull_secret.is_some() {
            warnings.push(Kept::setting(
                format!("{field}.pullSecret"),
                "is kept; locally the image is pulled with the build's pull secret or the engine's credentials",
            ));
        }
    }
    for (index, secret) in source.secrets.iter().enumerate() {
        let field = format!("spec.source.secrets[{index}]");
        if secret.secret.name.is_empty() {
            return Err(check.invalid(&format!("{field}.secret.name"), "Required value", "name the Secret"));
        }
        if !secret.destination_dir.starts_with('/') {
            check_destination(check, &format!("{field}.destinationDir"), &secret.destination_dir)?;
        }
    }
    for (index, map) in source.config_maps.iter().enumerate() {
        let field = format!("spec.source.configMaps[{index}]");
        if map.config_map.name.is_empty() {
            return Err(check.invalid(&format!("{field}.configMap.name"), "Required value", "name the ConfigMap"));
        }
        if map.destination_dir.starts_with('/') {
            return Err(check.invalid(
                &format!("{field}.destinationDir"),
                format!("{:?}: must be a relative path", map.destination_dir),
                "give a directory relative to the source root (`.` for the root)",
            ));
        }
        check_destination(check, &format!("{field}.destinationDir"), &map.destination_dir)?;
    }
    Ok(())
}

/// A directory relative to the source that stays in it.
fn check_destination(check: &Check<'_>, field: &str, dir: &str) -> Result<()> {
    let destination = clean_path(dir);
    if dir.starts_with('/') || destination == ".." || destination.starts_with("../") {
        return Err(check.invalid(
            field,
            format!("{dir:?}: must be a relative path that stays in the source"),
            "give a directory relative to the source root (`.` for the root)",
        ));
    }
    Ok(())
}

fn validate_output(check: &Check<'_>, output: &BuildOutput) -> Result<()> {
    if let Some(to) = &output.to {
        check_reference(check, "spec.output.to", to, &[KIND_IMAGE_STREAM_TAG, KIND_DOCKER_IMAGE])?;
        if to.kind == KIND_DOCKER_IMAGE && ImageReference::parse(&to.name).is_ok_and(|r| r.digest.is_some()) {
            return Err(check.invalid(
                "spec.output.to.name",
                format!("{:?}: an output is named by repository and tag, not digest", to.name),
                "drop the @digest",
            ));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    for (index, label) in output.image_labels.iter().enumerate() {
        let field = format!("spec.output.imageLabels[{index}].name");
        if label.name.is_empty() {
            return Err(check.invalid(&field, "Required value", "give the label's name"));
        }
        if !is_label_key(&label.name) {
            return Err(check.invalid(&field, format!("{:?} is not a valid label name", label.name), "rename it"));
        }
        if !seen.insert(label.name.as_str()) {
            return Err(check.invalid(&field, format!("{:?}: duplicate label name", label.name), "keep one"));
        }
    }
    Ok(())
}

fn validate_resources(check: &Check<'_>, resources: &ResourceRequirements, warnings: &mut Vec<Kept>) -> Result<()> {
    let parse = |field: String, value: &Quantity| -> Result<ParsedQuantity> {
        let parsed = ParsedQuantity::parse(&value.0)
            .map_err(|e| check.invalid(&field, e.to_string(), "write a quantity such as 512Mi, 2Gi, 500m or 1"))?;
        if parsed.is_negative() {
            return Err(check.invalid(&field, "must be greater than or equal to 0", "give a positive quantity"));
        }
        Ok(parsed)
    };
    for (which, map) in [("limits", &resources.limits), ("requests", &resources.requests)] {
        for (resource, value) in map {
            let field = format!("spec.resources.{which}.{resource}");
            let parsed = parse(field.clone(), value)?;
            match resource.as_str() {
                "cpu" | "memory" => {
                    let scale = if resource == "cpu" { 9 } else { 0 };
                    if parsed.scaled(scale).is_none() {
                        return Err(check.invalid(&field, format!("{:?} is too large", value.0), "give less"));
                    }
                }
                other if which == "limits" => warnings.push(Kept::setting(
                    field.clone(),
                    format!("is a cluster's resource; the local engine limits cpu and memory only, not {other}"),
                )),
                _ => {}
            }
        }
    }
    for (resource, request) in &resources.requests {
        if let Some(limit) = resources.limits.get(resource) {
            let scale = if resource == "cpu" { 9 } else { 0 };
            let request_value = parse(format!("spec.resources.requests.{resource}"), request)?.scaled(scale);
            let limit_value = parse(format!("spec.resources.limits.{resource}"), limit)?.scaled(scale);
            if request_value > limit_value {
                return Err(check.invalid(
                    &format!("spec.resources.requests.{resource}"),
                    format!("{:?}: must be less than or equal to {resource} limit", request.0),
                    "lower the request or raise the limit",
                ));
            }
        }
    }
    if memory_limit(resources).is_some_and(|bytes| bytes < 6 << 20) {
        return Err(check.invalid(
            "spec.resources.limits.memory",
            "the engine needs at least 6Mi for a container",
            "give the build more memory",
        ));
    }
    if !resources.requests.is_empty() {
        warnings.push(Kept::setting(
            "spec.resources.requests",
            "are scheduling hints of a cluster; a local build applies the limits only",
        ));
    }
    if !resources.claims.is_empty() {
        warnings.push(Kept::setting("spec.resources.claims", "are a cluster's dynamically allocated resources"));
    }
    Ok(())
}

/// `resources.limits.memory` in bytes, when set and valid.
pub(crate) fn memory_limit(resources: &ResourceRequirements) -> Option<i64> {
    resources.limits.get("memory").and_then(|q| quantity::memory_bytes(&q.0).ok())
}

/// `resources.limits.cpu` in nano-CPUs, when set and valid.
pub(crate) fn cpu_limit(resources: &ResourceRequirements) -> Option<i64> {
    resources.limits.get("cpu").and_then(|q| quantity::nano_cpus(&q.0).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml_like: serde_json::Value) -> BuildConfig {
        let mut config: BuildConfig = serde_json::from_value(yaml_like).unwrap();
        if config.metadata.namespace.is_empty() {
            config.metadata.namespace = "default".into();
        }
        set_defaults(&mut config, None);
        config
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "apiVersion": "build.openshift.io/v1",
            "kind": "BuildConfig",
            "metadata": {"name": "app"},
            "spec": {
                "source": {"git": {"uri": "https://example.com/app.git"}},
                "strategy": {"sourceStrategy": {"from": {"name": "builder:latest"}}},
                "output": {"to": {"kind": "ImageStreamTag", "name": "app:latest"}},
            }
        })
    }

    fn with(path: &[&str], value: serde_json::Value) -> serde_json::Value {
        let mut doc = base();
        let mut at = &mut doc;
        for key in &path[..path.len() - 1] {
            at = at.as_object_mut().unwrap().entry(key.to_string()).or_insert(serde_json::json!({}));
        }
        at[path[path.len() - 1]] = value;
        doc
    }

    fn error(doc: serde_json::Value) -> String {
        validate_build_config(&config(doc)).unwrap_err().to_string()
    }

    #[test]
    fn defaults_are_the_servers() {
        let config = config(base());
        assert_eq!(config.spec.run_policy, "Serial");
        assert_eq!(config.spec.successful_builds_history_limit, Some(5));
        assert_eq!(config.spec.failed_builds_history_limit, Some(5));
        assert_eq!(config.spec.source.kind, "Git");
        assert_eq!(config.spec.strategy.kind, "Source");
        assert_eq!(config.spec.strategy.source_strategy.as_ref().unwrap().from.kind, "ImageStreamTag");
        assert_eq!(validate_build_config(&config).unwrap(), Vec::<Kept>::new());

        // On update, unset limits keep what the stored object has.
        let mut old = config.clone();
        old.spec.successful_builds_history_limit = Some(2);
        let mut new: BuildConfig = serde_json::from_value(base()).unwrap();
        set_defaults(&mut new, Some(&old));
        assert_eq!(new.spec.successful_builds_history_limit, Some(2));
    }

    #[test]
    fn the_references_rules_and_messages() {
        assert!(error(with(&["spec", "runPolicy"], "Sometimes".into())).contains("run policy must Parallel"));
        assert!(
            error(with(&["spec", "completionDeadlineSeconds"], 0.into()))
                .contains("completionDeadlineSeconds must be a positive integer greater than 0")
        );
        assert!(
            error(with(&["spec", "postCommit"], serde_json::json!({"script": "x", "command": ["y"]})))
                .contains("script and command")
        );
        assert!(
            error(with(&["spec", "strategy", "sourceStrategy", "from"], serde_json::json!({"name": "builder"})))
                .contains("<name>:<tag>")
        );
        assert!(
            error(with(
                &["spec", "strategy", "sourceStrategy", "from"],
                serde_json::json!({"kind": "DockerImage", "name": "x", "namespace": "y"})
            ))
            .contains("namespace is not valid")
        );
        assert!(
            error(with(&["spec", "output", "to"], serde_json::json!({"kind": "ImageStreamImage", "name": "a@b"})))
                .contains("must be ImageStreamTag or DockerImage")
        );
        assert!(error(with(&["spec", "source", "contextDir"], "../up".into())).contains("escapes"));
        assert!(
            error(with(&["spec", "triggers"], serde_json::json!([{"type": "ImageChange", "imageChange": {}}, {"type": "ImageChange", "imageChange": {}}])))
                .contains("only one ImageChange trigger is allowed without a from")
        );
        assert!(
            error(with(&["spec", "triggers"], serde_json::json!([{"type": "Cron"}]))).contains("not a trigger type")
        );
        assert!(
            error(with(&["spec", "resources"], serde_json::json!({"limits": {"memory": "lots"}})))
                .contains("not a quantity")
        );
        assert!(
            error(with(&["spec", "resources"], serde_json::json!({"limits": {"cpu": "1"}, "requests": {"cpu": "2"}})))
                .contains("must be less than or equal to cpu limit")
        );
        assert!(
            error(with(&["spec", "source", "images"], serde_json::json!([{"from": {"kind": "ImageStreamTag", "name": "a:b"}, "paths": [{"sourcePath": "rel", "destinationDir": "."}]}])))
                .contains("must be an absolute path")
        );
    }

    #[test]
    fn what_s2i_does_not_run_is_kept_and_reported() {
        // These were refused before; OpenShift takes them, so they are kept as written.
        for (doc, expected) in [
            (
                with(&["spec", "strategy"], serde_json::json!({"dockerStrategy": {}})),
                Kept::Strategy { field: "spec.strategy.dockerStrategy".into(), strategy: "Docker".into() },
            ),
            (
                with(&["spec", "strategy"], serde_json::json!({"customStrategy": {"from": {"name": "x:y"}}})),
                Kept::Strategy { field: "spec.strategy.customStrategy".into(), strategy: "Custom".into() },
            ),
            (
                with(&["spec", "strategy"], serde_json::json!({"jenkinsPipelineStrategy": {}})),
                Kept::Strategy {
                    field: "spec.strategy.jenkinsPipelineStrategy".into(),
                    strategy: "JenkinsPipeline".into(),
                },
            ),
            (
                with(
                    &["spec", "triggers"],
                    serde_json::json!([{"type": "GitHub", "github": {"secret": "s"}}, {"type": "generic", "generic": {"secretReference": {"name": "hook"}, "allowEnv": true}}]),
                ),
                Kept::WebhookTriggers(vec!["GitHub".into(), "Generic".into()]),
            ),
        ] {
            let config = config(doc);
            let kept = validate_build_config(&config).unwrap();
            assert!(kept.contains(&expected), "{expected:?} in {kept:?}");
        }
        for (doc, field) in [
            (with(&["spec", "source", "dockerfile"], "FROM x".into()), "spec.source.dockerfile"),
            (
                with(&["spec", "resources"], serde_json::json!({"limits": {"nvidia.com/gpu": "1"}})),
                "spec.resources.limits.nvidia.com/gpu",
            ),
            (with(&["spec", "source", "git", "httpProxy"], "http://proxy:3128".into()), "spec.source.git.httpProxy"),
            (
                with(
                    &["spec", "strategy", "sourceStrategy", "volumes"],
                    serde_json::json!([{"name": "certs", "source": {"type": "Secret", "secret": {"secretName": "certs"}}, "mounts": [{"destinationPath": "/etc/certs"}]}]),
                ),
                "spec.strategy.sourceStrategy.volumes",
            ),
        ] {
            let kept = validate_build_config(&config(doc)).unwrap();
            assert!(
                kept.iter().any(|k| matches!(k, Kept::Setting { field: f, .. } if f == field)),
                "{field}: {kept:?}"
            );
        }
        // The webhooks' own rules hold.
        assert!(
            error(with(
                &["spec", "triggers"],
                serde_json::json!([{"type": "GitHub", "github": {"allowEnv": true, "secret": "s"}}])
            ))
            .contains("git webhooks cannot allow env vars")
        );
        assert!(
            error(with(&["spec", "triggers"], serde_json::json!([{"type": "GitLab", "gitlab": {}}])))
                .contains("must provide a value for at least one of secret or secretReference")
        );
        assert!(
            error(with(&["spec", "triggers"], serde_json::json!([{"type": "Bitbucket"}])))
                .contains("bitbucket: Required value")
        );
    }

    #[test]
    fn openshift_defaults_and_conversions() {
        // An ImageChange trigger without imageChange watches the strategy's tag.
        let mut doc =
            with(&["spec", "triggers"], serde_json::json!([{"type": "ImageChange"}, {"type": "ConfigChange"}]));
        doc["spec"]["strategy"]["sourceStrategy"]["from"] = serde_json::json!({"kind": "ImageStream", "name": "ruby"});
        let defaulted = config(doc.clone());
        assert_eq!(defaulted.spec.triggers[0].image_change, Some(ImageChangeTrigger::default()));
        let from = &defaulted.spec.strategy.source_strategy.as_ref().unwrap().from;
        assert_eq!((from.kind.as_str(), from.name.as_str()), ("ImageStreamTag", "ruby:latest"));
        assert_eq!(defaulted.watched_tags().len(), 1);
        validate_build_config(&defaulted).unwrap();
        // ... and is dropped when the strategy builds from a DockerImage: it could never fire.
        doc["spec"]["strategy"]["sourceStrategy"]["from"] = serde_json::json!({"kind": "DockerImage", "name": "x/y:1"});
        let dropped = config(doc);
        assert_eq!(dropped.spec.triggers.len(), 1);
        assert_eq!(dropped.spec.triggers[0].kind, "ConfigChange");
        // A Binary source without binary gets one.
        let mut doc = base();
        doc["spec"]["source"] = serde_json::json!({"type": "Binary"});
        let binary = config(doc);
        assert_eq!(binary.spec.source.binary, Some(BinaryBuildSource::default()));
        assert_eq!(binary.spec.source.kind, "Binary");
        // An output to an ImageStream is its latest tag.
        let output = config(with(&["spec", "output", "to"], serde_json::json!({"kind": "ImageStream", "name": "app"})));
        assert_eq!(output.spec.output.to.unwrap().name, "app:latest");
    }

    #[test]
    fn cluster_only_settings_are_warnings() {
        let doc = with(&["spec", "nodeSelector"], serde_json::json!({"kubernetes.io/arch": "amd64"}));
        let warnings = validate_build_config(&config(doc)).unwrap();
        assert!(warnings[0].to_string().contains("nodeSelector"), "{warnings:?}");
    }

    #[test]
    fn unknown_fields_are_errors() {
        // Field validation is the codec's, as for every kind: strict by default.
        let doc = with(&["spec", "strategy", "sourceStrategy", "incremantal"], true.into());
        let text = serde_json::to_string(&doc).unwrap();
        let document = s2i_store::codec::read_documents("bc.json", &text).unwrap().pop().unwrap();
        let err = document.decode::<BuildConfig>().unwrap_err().to_string();
        assert!(err.contains("unknown field \"spec.strategy.sourceStrategy.incremantal\""), "{err}");
    }

    #[test]
    fn paths_clean_like_go() {
        for (path, clean) in
            [("a/../b", "b"), ("./a/", "a"), ("", "."), ("../x", "../x"), ("/a/./b/..", "/a"), ("a//b", "a/b")]
        {
            assert_eq!(clean_path(path), clean, "{path}");
        }
    }
}
