//! What the API server does with a BuildConfig before it is stored: defaults
//! (run policy, history limits, `from` kinds, the computed `type` fields,
//! deprecated trigger spellings) and validation with the reference's rules and
//! messages, plus what s2i cannot do locally: those settings are refused by
//! name ([`Error::Unsupported`]) or, for cluster-only settings that a local
//! build can go without, kept and reported as warnings.

use s2i_core::reference::ImageReference;

use crate::error::{Error, Instead, Result};
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
    name: &'a str,
}

impl Check<'_> {
    fn invalid(&self, field: &str, message: impl Into<String>, help: &str) -> Error {
        Error::InvalidObject {
            kind: BuildConfig::KIND,
            name: self.name.to_owned(),
            message: format!("{field}: {}", message.into()),
            help: help.to_owned(),
        }
    }

    fn unsupported(&self, field: &str, message: impl Into<String>, help: &str) -> Error {
        self.refused(field, message.into(), help, None)
    }

    /// [`Self::unsupported`], with the other way to get what the setting was for.
    fn unsupported_instead(&self, field: &str, message: impl Into<String>, help: &str, instead: Instead) -> Error {
        self.refused(field, message.into(), help, Some(instead))
    }

    fn refused(&self, field: &str, message: String, help: &str, instead: Option<Instead>) -> Error {
        Error::Unsupported {
            kind: BuildConfig::KIND,
            name: self.name.to_owned(),
            field: field.to_owned(),
            message,
            help: help.to_owned(),
            instead,
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
    }
    set_common_defaults(&mut spec.source, &mut spec.strategy);
}

/// The computed `type` fields and `from.kind` defaults, for build configs and builds alike.
pub(crate) fn set_common_defaults(source: &mut BuildSource, strategy: &mut BuildStrategy) {
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
    if let Some(strategy) = &mut strategy.source_strategy
        && strategy.from.kind.is_empty()
    {
        strategy.from.kind = KIND_IMAGE_STREAM_TAG.into();
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

const NOT_LOCAL: &str = "s2i builds with Source-to-Image only";

/// Check a BuildConfig (defaults applied). Returns warnings for settings kept
/// for OpenShift that a local build does not use; refuses what s2i cannot do.
pub(crate) fn validate_build_config(config: &BuildConfig) -> Result<Vec<String>> {
    let name = config.metadata.name.as_str();
    let check = Check { name };
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
    validate_triggers(&check, spec)?;
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

fn validate_triggers(check: &Check<'_>, spec: &BuildConfigSpec) -> Result<()> {
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
                        match spec.strategy.source_strategy.as_ref().map(|s| &s.from) {
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
            "GitHub" | "Generic" | "GitLab" | "Bitbucket" => {
                return Err(check.unsupported_instead(
                    &field,
                    format!("{} webhook triggers are not supported: s2i runs no webhook server", trigger.kind),
                    "start builds by hand, or with an ImageChange trigger; keep the webhook in the copy of the file \
                     you apply to OpenShift",
                    Instead::StartBuild,
                ));
            }
            "" => {
                return Err(check.invalid(
                    &format!("{field}.type"),
                    "Required value",
                    "set type to ImageChange or ConfigChange",
                ));
            }
            other => {
                return Err(check.invalid(
                    &format!("{field}.type"),
                    format!("{other:?} is not a trigger type"),
                    "use ImageChange or ConfigChange",
                ));
            }
        }
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

fn validate_common(check: &Check<'_>, spec: &CommonView<'_>, warnings: &mut Vec<String>) -> Result<()> {
    validate_strategy(check, spec.strategy, warnings)?;
    validate_source(check, spec.source, warnings)?;
    validate_output(check, spec.output, warnings)?;
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
            warnings.push("spec.nodeSelector selects cluster nodes; a local build runs on this machine".into());
        }
    }
    if !spec.service_account.is_empty() {
        warnings.push(format!(
            "spec.serviceAccount {:?} is an OpenShift identity; a local build runs as you, with your engine's \
             credentials",
            spec.service_account
        ));
    }
    if spec.mount_trusted_ca.is_some_and(|m| m) {
        warnings.push("spec.mountTrustedCA mounts the cluster's CAs; a local build uses this machine's".into());
    }
    Ok(())
}

fn validate_strategy(check: &Check<'_>, strategy: &BuildStrategy, warnings: &mut Vec<String>) -> Result<()> {
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
    for (set, field, what) in [
        (strategy.docker_strategy.is_some(), "spec.strategy.dockerStrategy", "the Docker strategy"),
        (strategy.custom_strategy.is_some(), "spec.strategy.customStrategy", "the Custom strategy"),
        (
            strategy.jenkins_pipeline_strategy.is_some(),
            "spec.strategy.jenkinsPipelineStrategy",
            "the JenkinsPipeline strategy",
        ),
    ] {
        if set {
            return Err(check.unsupported(
                field,
                format!("{what} is not supported: {NOT_LOCAL}"),
                "use a sourceStrategy with an S2I builder image (docs/builds.md)",
            ));
        }
    }
    let source = strategy.source_strategy.as_ref().expect("exactly one strategy, and not another");
    check_reference(
        check,
        "spec.strategy.sourceStrategy.from",
        &source.from,
        &[KIND_IMAGE_STREAM_TAG, KIND_IMAGE_STREAM_IMAGE, KIND_DOCKER_IMAGE],
    )?;
    for (index, var) in source.env.iter().enumerate() {
        let field = format!("spec.strategy.sourceStrategy.env[{index}]");
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
        if var.value_from.is_some() {
            return Err(check.unsupported_instead(
                &format!("{field}.valueFrom"),
                "values from Secrets, ConfigMaps or fields are not supported: s2i keeps no Secrets or ConfigMaps",
                "give the value directly, or in the environment of the build request",
                Instead::RequestEnvironment,
            ));
        }
    }
    if !source.volumes.is_empty() {
        return Err(check.unsupported_instead(
            "spec.strategy.sourceStrategy.volumes",
            "build volumes mount Secrets and ConfigMaps, which s2i does not keep",
            "drop the volumes; for files the build needs, inject them into a direct build",
            Instead::InjectFiles,
        ));
    }
    if source.pull_secret.is_some() {
        warnings.push(
            "spec.strategy.sourceStrategy.pullSecret names a cluster Secret; locally the builder image is pulled \
             with the credentials of Docker's config.json"
                .into(),
        );
    }
    Ok(())
}

fn validate_source(check: &Check<'_>, source: &BuildSource, warnings: &mut Vec<String>) -> Result<()> {
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
                return Err(check.unsupported(
                    &format!("spec.source.git.{field}"),
                    "per-build git proxies are not supported",
                    "set the proxy in the environment s2i runs in (or in git's configuration) and drop the field",
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
    if source.dockerfile.is_some() {
        return Err(check.unsupported(
            "spec.source.dockerfile",
            format!("an inline Dockerfile is for the Docker strategy, which is not supported: {NOT_LOCAL}"),
            "drop the Dockerfile and build with a sourceStrategy",
        ));
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
            return Err(check.unsupported(
                &format!("{field}.as"),
                format!("replacing Dockerfile stages is for the Docker strategy, which is not supported: {NOT_LOCAL}"),
                "copy paths out of the image with paths instead",
            ));
        }
        if image.paths.is_empty() {
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
            let destination = clean_path(&path.destination_dir);
            if path.destination_dir.starts_with('/') || destination == ".." || destination.starts_with("../") {
                return Err(check.invalid(
                    &format!("{at}.destinationDir"),
                    format!("{:?}: must be a relative path that stays in the source", path.destination_dir),
                    "give a directory relative to the source root (`.` for the root)",
                ));
            }
        }
        if image.pull_secret.is_some() {
            warnings.push(format!(
                "{field}.pullSecret names a cluster Secret; locally the image is pulled with the credentials of \
                 Docker's config.json"
            ));
        }
    }
    if !source.secrets.is_empty() || !source.config_maps.is_empty() {
        let field = if source.secrets.is_empty() { "spec.source.configMaps" } else { "spec.source.secrets" };
        return Err(check.unsupported_instead(
            field,
            "s2i keeps no Secrets or ConfigMaps to copy into a build",
            "for files the build needs but the image must not keep, inject them into a direct build",
            Instead::InjectFiles,
        ));
    }
    if source.source_secret.is_some() {
        warnings.push(
            "spec.source.sourceSecret names a cluster Secret; locally git uses your own credentials (SSH agent, \
             git credential helpers)"
                .into(),
        );
    }
    Ok(())
}

fn validate_output(check: &Check<'_>, output: &BuildOutput, warnings: &mut Vec<String>) -> Result<()> {
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
    if output.push_secret.is_some() {
        warnings.push(
            "spec.output.pushSecret names a cluster Secret; locally images are pushed with the credentials of \
             Docker's config.json"
                .into(),
        );
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

fn validate_resources(check: &Check<'_>, resources: &ResourceRequirements, warnings: &mut Vec<String>) -> Result<()> {
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
            match resource.as_str() {
                "cpu" | "memory" => {
                    let parsed = parse(field.clone(), value)?;
                    let scale = if resource == "cpu" { 9 } else { 0 };
                    if parsed.scaled(scale).is_none() {
                        return Err(check.invalid(&field, format!("{:?} is too large", value.0), "give less"));
                    }
                }
                other => {
                    return Err(check.unsupported(
                        &field,
                        format!("the local engine limits cpu and memory only, not {other}"),
                        "drop the resource from the file you apply locally",
                    ));
                }
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
        warnings.push(
            "spec.resources.requests are scheduling hints of a cluster; a local build applies the limits only".into(),
        );
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
        assert_eq!(validate_build_config(&config).unwrap(), Vec::<String>::new());

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
    fn what_s2i_cannot_do_is_refused_by_name() {
        for (doc, field) in [
            (with(&["spec", "strategy"], serde_json::json!({"dockerStrategy": {}})), "spec.strategy.dockerStrategy"),
            (
                with(&["spec", "strategy"], serde_json::json!({"customStrategy": {"from": {"name": "x:y"}}})),
                "spec.strategy.customStrategy",
            ),
            (
                with(&["spec", "strategy"], serde_json::json!({"jenkinsPipelineStrategy": {}})),
                "spec.strategy.jenkinsPipelineStrategy",
            ),
            (
                with(&["spec", "triggers"], serde_json::json!([{"type": "GitHub", "github": {"secret": "s"}}])),
                "spec.triggers[0]",
            ),
            (
                with(&["spec", "triggers"], serde_json::json!([{"type": "generic", "generic": {"secret": "s"}}])),
                "spec.triggers[0]",
            ),
            (with(&["spec", "source", "dockerfile"], "FROM x".into()), "spec.source.dockerfile"),
            (
                with(&["spec", "resources"], serde_json::json!({"limits": {"nvidia.com/gpu": "1"}})),
                "spec.resources.limits.nvidia.com/gpu",
            ),
        ] {
            let err = validate_build_config(&config(doc)).unwrap_err();
            match err {
                Error::Unsupported { field: f, .. } => assert_eq!(f, field),
                other => panic!("{field}: {other}"),
            }
        }
    }

    #[test]
    fn cluster_only_settings_are_warnings() {
        let doc = with(&["spec", "nodeSelector"], serde_json::json!({"kubernetes.io/arch": "amd64"}));
        let warnings = validate_build_config(&config(doc)).unwrap();
        assert!(warnings[0].contains("nodeSelector"), "{warnings:?}");
    }

    #[test]
    fn unknown_fields_are_errors() {
        let doc = with(&["spec", "strategy", "sourceStrategy", "incremantal"], true.into());
        let err = serde_json::from_value::<BuildConfig>(doc).unwrap_err().to_string();
        assert!(err.contains("unknown field `incremantal`"), "{err}");
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
