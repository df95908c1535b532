//! `--as-dockerfile` and `s2i generate`: instead of building, write a
//! Dockerfile and its build context that build the same image with any
//! Dockerfile builder, without a container engine here.
//!
//! The output is deterministic: labels and environment are sorted, so the
//! same inputs give the same bytes. The builder image is not inspected (no
//! engine is used), so script locations come from `--scripts-url`, the
//! source's `.s2i/bin`, or `--image-scripts-url`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;

use serde::{Deserialize, Serialize};

use crate::archive::{InputArchive, SourceTree};
use crate::build::{BuildOptions, DEFAULT_DESTINATION};
use crate::env;
use crate::error::{Error, Result};
use crate::ignore::{ExcludePattern, IgnoreRules, SourceFilter};
use crate::inject::{self, Injection};
use crate::labels::{self, LabelInputs};
use crate::onbuild::dockerfile_escape;
use crate::reference::ImageReference;
use crate::scripts::{self, Script, ScriptLocation, ScriptSources, join_unix};
use crate::source::{self, SourceLocation, SourceOptions};

/// User assemble runs as when none is given (the reference's default).
pub const DEFAULT_ASSEMBLE_USER: &str = "1001";
/// Where relative injection destinations point, as the image is not inspected.
pub const DEFAULT_IMAGE_WORKDIR: &str = "/opt/app-root/src";
/// Where the builder's scripts are assumed to be by default.
pub const DEFAULT_IMAGE_SCRIPTS_URL: &str = "image:///usr/libexec/s2i";
/// Marks a context directory s2i wrote, so a later run may replace it.
const MARKER: &str = ".s2i-generated";

/// What to generate, beyond the build options; made with [`DockerfileOptions::new`].
#[derive(Debug, Clone, Serialize, Deserialize)]
#[non_exhaustive]
pub struct DockerfileOptions {
    /// Where to write the Dockerfile; a path ending in `/` gets `Dockerfile` appended.
    pub path: PathBuf,
    /// `--image-scripts-url`: where the builder's own scripts are.
    pub image_scripts_url: String,
}

impl DockerfileOptions {
    /// A Dockerfile at `path`, for a builder whose scripts are at [`DEFAULT_IMAGE_SCRIPTS_URL`].
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), image_scripts_url: DEFAULT_IMAGE_SCRIPTS_URL.into() }
    }
}

/// What was written.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GeneratedDockerfile {
    /// The Dockerfile.
    pub dockerfile: PathBuf,
    /// The build context directory (holds `upload/`).
    pub context: PathBuf,
    /// The Dockerfile's text.
    pub text: String,
    /// Notes for the user.
    pub warnings: Vec<String>,
}

/// Write the Dockerfile and its context for `options`. Runs git and script
/// downloads, so call it from a blocking context.
pub fn generate(
    options: &BuildOptions,
    dockerfile: &DockerfileOptions,
    cancelled: &AtomicBool,
) -> Result<GeneratedDockerfile> {
    let mut warnings = Vec::new();
    let builder = ImageReference::parse(&options.builder_image)
        .map_err(|source| Error::InvalidImageReference { what: "builder image".into(), source })?;
    let user = options.assemble_user.clone().unwrap_or_else(|| DEFAULT_ASSEMBLE_USER.to_owned());
    if !options.allowed_uids.allows(&user) {
        return Err(Error::UserNotAllowed {
            message: format!(
                "image {user:?} must specify a user that is numeric and within the range of allowed users"
            ),
            allowed: options.allowed_uids.to_string(),
        });
    }
    let destination = options.destination.clone().unwrap_or_else(|| DEFAULT_DESTINATION.to_owned());
    if !destination.starts_with('/') {
        return Err(Error::option(
            "--destination",
            format!("{destination:?} is not an absolute path"),
            "give an absolute directory, e.g. /tmp",
        ));
    }
    if !dockerfile.image_scripts_url.starts_with("image://") {
        return Err(Error::option(
            "--image-scripts-url",
            format!("{:?} is not an image:// URL", dockerfile.image_scripts_url),
            "give where the builder's scripts are inside it, e.g. image:///usr/libexec/s2i",
        ));
    }
    if options.runtime_image.is_some() {
        return Err(Error::ChainedAsDockerfile);
    }
    if !options.outputs.is_empty() || options.sbom || options.provenance {
        return Err(Error::option(
            "--as-dockerfile",
            "--output, --sbom and --provenance describe an image s2i writes, and --as-dockerfile builds none",
            "drop them, or build the image with s2i build",
        ));
    }
    let (path, context) = output_paths(&dockerfile.path)?;
    let base_dir = options.working_dir.clone().unwrap_or_else(|| std::env::current_dir().unwrap_or_default());
    let upload = context.join("upload");
    prepare_upload_dir(&upload)?;

    // The source (cloned into the context's working area when it is git).
    let prepared = match &options.source {
        Some(source) => {
            let location = match SourceLocation::parse(source)? {
                SourceLocation::Local { path, fragment } if path.is_relative() => {
                    SourceLocation::Local { path: base_dir.join(path), fragment }
                }
                other => other,
            };
            let clone_dir = tempfile::Builder::new().prefix("s2i-").tempdir().map_err(|e| {
                Error::io("create a working directory in", std::env::temp_dir(), "make the temp directory writable", e)
            })?;
            let source_options = SourceOptions {
                git_ref: options.git_ref.clone(),
                context_dir: options.context_dir.clone(),
                copy: options.copy,
                ignore_submodules: options.ignore_submodules,
                keep_symlinks: options.keep_symlinks,
                credentials: options.source_credentials.clone(),
                ..Default::default()
            };
            let prepared = source::prepare_source(&location, &source_options, clone_dir.path(), cancelled, &|_| {})?;
            Some((prepared, clone_dir))
        }
        None => None,
    };
    let root = prepared.as_ref().map(|(p, _)| p.root.clone());
    // Files read by name must not lead out of the source through a symlink.
    let mut inside_source = |path: &Path| match root.as_deref().map(|r| source::source_file(r, path)) {
        Some(source::SourceFile::Inside) => true,
        Some(source::SourceFile::Outside(real)) => {
            warnings.push(format!(
                "Not reading {}: it is a symlink that points outside the source ({})",
                path.display(),
                real.display()
            ));
            false
        }
        _ => false,
    };
    let ignore = match root.as_ref().map(|r| r.join(".s2iignore")).filter(|p| inside_source(p)) {
        Some(path) => {
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io("read", &path, "make it readable", e))?;
            IgnoreRules::parse(&path.display().to_string(), &text)?
        }
        None => IgnoreRules::default(),
    };
    let mut build_env = Vec::new();
    if !ignore.is_ignored(".s2i")
        && !ignore.is_ignored(".s2i/environment")
        && let Some(env_path) = root.as_ref().map(|r| r.join(".s2i/environment")).filter(|p| inside_source(p))
    {
        let text =
            std::fs::read_to_string(&env_path).map_err(|e| Error::io("read", &env_path, "make it readable", e))?;
        build_env.extend(env::parse_source_environment(&text).0);
    }
    build_env.extend(options.env.iter().cloned());
    if let Some(file) = &options.environment_file {
        let file = base_dir.join(file);
        let text = std::fs::read_to_string(&file)
            .map_err(|e| Error::io("read the environment file", &file, "pass an existing file", e))?;
        build_env.extend(env::parse_env_file(&file.display().to_string(), &text)?);
    }
    let mut build_env = env::dedupe(&build_env);
    build_env.sort_by(|a, b| a.name.cmp(&b.name));

    // Scripts: --scripts-url, then .s2i/bin, then the builder's own (--image-scripts-url).
    let sources = ScriptSources {
        scripts_url: options.scripts_url.clone().filter(|u| !u.is_empty()),
        source_root: root.clone().filter(|_| !ignore.is_ignored(".s2i") && !ignore.is_ignored(".s2i/bin")),
        image_default: Some(("--image-scripts-url".into(), dockerfile.image_scripts_url.clone())),
        base_dir: base_dir.clone(),
    };
    let resolved = scripts::resolve_scripts(&[Script::Assemble, Script::Run], &[Script::SaveArtifacts], &sources)?;
    let script_path = |script: Script| resolved.get(script).map(|s| s.container_path(&destination));
    let shipped =
        |script: Script| matches!(resolved.get(script).map(|s| &s.location), Some(ScriptLocation::Shipped { .. }));

    // Write upload/scripts and upload/src through the one archive writer, unpacked on the fly.
    let filter = SourceFilter {
        ignore,
        exclude: ExcludePattern::new(&options.exclude)?,
        moved: resolved.moved_from_source.iter().cloned().collect(),
    };
    let archive = InputArchive {
        files: resolved
            .scripts
            .values()
            .filter_map(|s| match &s.location {
                ScriptLocation::Shipped { contents, .. } => Some(crate::archive::ArchiveFile {
                    path: format!("scripts/{}", s.script),
                    contents: contents.clone(),
                    mode: 0o755,
                }),
                ScriptLocation::Image { .. } => None,
            })
            .collect(),
        source: prepared.as_ref().map(|(p, _)| SourceTree {
            root: p.root.clone(),
            filter,
            follow_symlinks: p.follow_symlinks,
        }),
        ..Default::default()
    };
    unpack_into(archive, &upload)?;

    // Injections: copied into upload/injections/<n>.
    let injections = inject::resolve(&options.injections, &base_dir, DEFAULT_IMAGE_WORKDIR)?;
    let mut injected_files = Vec::new();
    for (index, injection) in injections.iter().enumerate() {
        let target = upload.join("injections").join(index.to_string());
        let copied = copy_injection(injection, &target)?;
        if !injection.keep {
            injected_files.extend(copied);
        }
    }
    if !injections.is_empty() {
        warnings.push(
            "a Dockerfile cannot keep injected files out of the image's layers: they are removed by a later RUN, \
             but remain in the layer of the COPY that added them"
                .to_owned(),
        );
    }

    // Labels: generated ones, plus the scripts URL and destination when given.
    let source_info = prepared.as_ref().map(|(p, _)| p.info.clone()).unwrap_or_default();
    let display_name = options.display_name.clone().or_else(|| options.tag.clone());
    let mut labels: BTreeMap<String, String> = labels::generated_labels(&LabelInputs {
        description: options.description.as_deref(),
        display_name: display_name.as_deref(),
        builder_image: &builder.normalized().to_string(),
        source: &source_info,
    });
    labels.extend(options.labels.clone());
    if let Some(url) = options.scripts_url.as_deref().filter(|u| !u.is_empty()) {
        labels.insert(scripts::SCRIPTS_URL_LABEL.to_owned(), url.to_owned());
    }
    if let Some(dest) = &options.destination {
        labels.insert(crate::build::DESTINATION_LABEL.to_owned(), dest.clone());
    }

    let chown = format!("--chown={user}:0");
    let run_as = (!user.is_empty() && user != "root").then(|| format!("USER {user}\n"));
    let mut text = String::new();
    if options.incremental {
        let previous = options.incremental_from.clone().or_else(|| options.tag.clone()).ok_or_else(|| {
            Error::option(
                "--incremental",
                "Image tag is missing for incremental build",
                "give the tag of the previous image",
            )
        })?;
        let save = script_path(Script::SaveArtifacts)
            .unwrap_or_else(|| join_unix(image_scripts_dir(&dockerfile.image_scripts_url), "save-artifacts"));
        text.push_str(&format!("FROM {previous} as cached\n"));
        if shipped(Script::SaveArtifacts) {
            text.push_str("# Copying in override save-artifacts script\n");
            text.push_str(&format!("COPY {chown} upload/scripts/save-artifacts {save}\n"));
        } else {
            text.push_str(
                "# Save-artifacts script sourced from builder image based on user input or image metadata.\n",
            );
        }
        if let Some(run_as) = &run_as {
            text.push_str(run_as);
        }
        text.push_str(&format!(
            "RUN if [ -s {save} ]; then {save} > /tmp/artifacts.tar; else touch /tmp/artifacts.tar; fi\n\n"
        ));
    }
    text.push_str(&format!("FROM {}\n", options.builder_image));
    if !labels.is_empty() {
        let pairs: Vec<String> =
            labels.iter().map(|(k, v)| format!("\"{}\"=\"{}\"", dockerfile_escape(k), dockerfile_escape(v))).collect();
        text.push_str(&format!("LABEL {}\n", pairs.join(" \\\n      ")));
    }
    if !build_env.is_empty() {
        text.push_str(&crate::onbuild::env_instruction(&build_env));
    }
    if options.incremental {
        text.push_str(&format!("COPY {chown} --from=cached /tmp/artifacts.tar /tmp/artifacts.tar\n"));
    }
    if [Script::Assemble, Script::Run, Script::SaveArtifacts].into_iter().any(shipped) {
        text.push_str("# Copying in override assemble/run scripts\n");
        text.push_str(&format!("COPY {chown} upload/scripts {}\n", join_unix(&destination, "scripts")));
    }
    text.push_str("# Copying in source code\n");
    text.push_str(&format!("COPY {chown} upload/src {}\n", join_unix(&destination, "src")));
    for source_image in &options.source_images {
        let name = source_image.path.rsplit('/').next().unwrap_or_default();
        let target = join_unix(&join_unix(&join_unix(&destination, "src"), &source_image.destination), name);
        text.push_str(&format!("# Copying in {} from {}\n", source_image.path, source_image.image));
        text.push_str(&format!("COPY {chown} --from={} {} {target}\n", source_image.image, source_image.path));
    }
    for (index, injection) in injections.iter().enumerate() {
        text.push_str("# Copying in injected content\n");
        text.push_str(&format!("COPY {chown} upload/injections/{index} {}\n", injection.destination));
    }
    if let Some(run_as) = &run_as {
        text.push_str(run_as);
    }
    if options.incremental {
        let artifacts = join_unix(&destination, "artifacts");
        text.push_str("# Extract artifact content\n");
        text.push_str(&format!(
            "RUN if [ -s /tmp/artifacts.tar ]; then mkdir -p {artifacts}; tar -xf /tmp/artifacts.tar -C {artifacts}; fi && \\\n    rm /tmp/artifacts.tar\n"
        ));
    }
    let assemble = script_path(Script::Assemble).expect("assemble is required");
    if !shipped(Script::Assemble) {
        text.push_str("# Assemble script sourced from builder image based on user input or image metadata.\n");
        text.push_str("# If this file does not exist in the image, the build will fail.\n");
    }
    text.push_str(&format!("RUN {assemble}\n"));
    if !injected_files.is_empty() {
        let removals: Vec<String> = injected_files.iter().map(|f| format!("rm {}", crate::exec::sh_quote(f))).collect();
        text.push_str("# Cleaning up injected secret content\n");
        text.push_str(&format!("RUN {}\n", removals.join(" && \\\n    ")));
    }
    let run = script_path(Script::Run).expect("run is required");
    if !shipped(Script::Run) {
        text.push_str("# Run script sourced from builder image based on user input or image metadata.\n");
        text.push_str("# If this file does not exist in the image, the build will fail.\n");
    }
    text.push_str(&format!("CMD {run}\n"));

    std::fs::write(&path, &text).map_err(|e| Error::io("write", &path, "check the output directory", e))?;
    std::fs::write(upload.join(MARKER), b"")
        .map_err(|e| Error::io("write", &upload, "check the output directory", e))?;
    Ok(GeneratedDockerfile { dockerfile: path, context, text, warnings })
}

/// The directory of an `image://` URL.
fn image_scripts_dir(url: &str) -> &str {
    url.strip_prefix("image://").unwrap_or(url)
}

/// The Dockerfile path and its directory (the build context).
fn output_paths(path: &Path) -> Result<(PathBuf, PathBuf)> {
    let text = path.to_string_lossy();
    let file = if text.ends_with('/') || path.is_dir() { path.join("Dockerfile") } else { path.to_owned() };
    let context = match file.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&context)
        .map_err(|e| Error::io("create the output directory", &context, "give a writable directory", e))?;
    Ok((file, context))
}

/// `upload/` must be new, or one s2i wrote before (then it is replaced).
fn prepare_upload_dir(upload: &Path) -> Result<()> {
    if upload.exists() {
        if !upload.join(MARKER).exists() {
            return Err(Error::option(
                "--as-dockerfile",
                format!("{} exists and was not written by s2i", upload.display()),
                "write the Dockerfile into another directory, or remove that one",
            ));
        }
        std::fs::remove_dir_all(upload).map_err(|e| Error::io("replace", upload, "check its permissions", e))?;
    }
    std::fs::create_dir_all(upload).map_err(|e| Error::io("create", upload, "check the output directory", e))
}

/// Write an archive straight into a directory, through a pipe (no copy in memory).
fn unpack_into(archive: InputArchive, dir: &Path) -> Result<()> {
    let (reader, writer) =
        std::io::pipe().map_err(|e| Error::io("create a pipe for", dir, "check system limits", e))?;
    let producer = std::thread::spawn(move || crate::archive::write_archive(archive, writer, &mut |_| {}));
    let mut unpacker = tar::Archive::new(reader);
    unpacker.set_preserve_permissions(true);
    let unpacked = unpacker
        .unpack(dir)
        .map_err(|e| Error::io("write the build context into", dir, "check the output directory", e));
    drop(unpacker);
    let produced =
        producer.join().map_err(|_| Error::io("write", dir, "this is a bug in s2i", std::io::Error::other("panic")))?;
    produced?;
    unpacked
}

/// Copy an injection source to `target`; returns the container paths of its files.
fn copy_injection(injection: &Injection, target: &Path) -> Result<Vec<String>> {
    let meta = std::fs::metadata(&injection.source).map_err(|e| {
        Error::io("read the injection source", &injection.source, "give an existing file or directory", e)
    })?;
    let fail = |e| Error::io("copy the injection", &injection.source, "check the file", e);
    if meta.is_file() {
        std::fs::create_dir_all(target.parent().expect("has a parent")).map_err(fail)?;
        std::fs::copy(&injection.source, target).map_err(fail)?;
        return Ok(vec![injection.destination.clone()]);
    }
    let mut files = Vec::new();
    let mut stack = vec![(injection.source.clone(), target.to_owned(), injection.destination.clone())];
    while let Some((from, to, inside)) = stack.pop() {
        std::fs::create_dir_all(&to).map_err(fail)?;
        let mut names: Vec<_> =
            std::fs::read_dir(&from).map_err(fail)?.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        names.sort();
        for name in names {
            let (src, dst) = (from.join(&name), to.join(&name));
            let inside = join_unix(&inside, &name.to_string_lossy());
            if std::fs::metadata(&src).map_err(fail)?.is_dir() {
                stack.push((src, dst, inside));
            } else {
                std::fs::copy(&src, &dst).map_err(fail)?;
                files.push(inside);
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::EnvVar;

    fn options(src: &Path) -> BuildOptions {
        let mut o = BuildOptions::new(Some(src.display().to_string()), "example/builder:1");
        o.tag = Some("example/app".into());
        o
    }

    fn generate_in(dir: &Path, options: &BuildOptions) -> GeneratedDockerfile {
        let out = DockerfileOptions { path: dir.join("out/"), image_scripts_url: DEFAULT_IMAGE_SCRIPTS_URL.into() };
        generate(options, &out, &AtomicBool::new(false)).unwrap()
    }

    #[test]
    fn the_same_inputs_give_the_same_bytes() {
        let src = tempfile::tempdir().unwrap();
        std::fs::write(src.path().join("app.txt"), "x").unwrap();
        let out = tempfile::tempdir().unwrap();
        let mut o = options(src.path());
        o.env = vec![EnvVar { name: "Z".into(), value: "1".into() }, EnvVar { name: "A".into(), value: "$x".into() }];
        o.description = Some("d".into());
        let first = generate_in(out.path(), &o).text;
        let second = generate_in(out.path(), &o).text;
        assert_eq!(first, second);
        assert!(first.contains("ENV A=\"\\$x\" \\\n    Z=\"1\"\n"), "{first}");
        assert!(first.contains("COPY --chown=1001:0 upload/src /tmp/src\n"), "{first}");
        assert!(first.contains("RUN /usr/libexec/s2i/assemble\n"), "{first}");
        assert!(first.ends_with("CMD /usr/libexec/s2i/run\n"), "{first}");
        assert!(!first.contains("upload/scripts"), "no override scripts: {first}");
        assert!(out.path().join("out/upload/src/app.txt").is_file());
    }

    #[test]
    fn overrides_incremental_and_injections() {
        let src = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(src.path().join(".s2i/bin")).unwrap();
        std::fs::write(src.path().join(".s2i/bin/assemble"), "#!/bin/sh\n").unwrap();
        let secret = tempfile::tempdir().unwrap();
        std::fs::write(secret.path().join("token"), "s3cret").unwrap();
        let out = tempfile::tempdir().unwrap();
        let mut o = options(src.path());
        o.incremental = true;
        o.injections =
            vec![Injection { source: secret.path().to_owned(), destination: "/etc/app".into(), keep: false }];
        o.assemble_user = Some("2000".into());
        let g = generate_in(out.path(), &o);
        let t = &g.text;
        assert!(t.starts_with("FROM example/app as cached\n"), "{t}");
        assert!(t.contains("RUN if [ -s /usr/libexec/s2i/save-artifacts ]"), "{t}");
        assert!(t.contains("COPY --chown=2000:0 --from=cached /tmp/artifacts.tar /tmp/artifacts.tar"), "{t}");
        assert!(t.contains("COPY --chown=2000:0 upload/scripts /tmp/scripts\n"), "{t}");
        assert!(t.contains("RUN /tmp/scripts/assemble\n"), "{t}");
        assert!(t.contains("COPY --chown=2000:0 upload/injections/0 /etc/app\n"), "{t}");
        assert!(t.contains("RUN rm /etc/app/token\n"), "{t}");
        assert!(!g.warnings.is_empty());
        assert!(out.path().join("out/upload/injections/0/token").is_file());

        o.tag = None;
        let err = generate(
            &o,
            &DockerfileOptions { path: out.path().join("x/"), image_scripts_url: DEFAULT_IMAGE_SCRIPTS_URL.into() },
            &AtomicBool::new(false),
        )
        .unwrap_err();
        assert!(err.to_string().contains("Image tag is missing"), "{err}");
    }

    #[test]
    fn outputs_sbom_and_provenance_are_refused() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        let mut o = options(src.path());
        o.sbom = true;
        let err = generate(
            &o,
            &DockerfileOptions {
                path: out.path().join("Dockerfile"),
                image_scripts_url: DEFAULT_IMAGE_SCRIPTS_URL.into(),
            },
            &AtomicBool::new(false),
        )
        .unwrap_err();
        assert!(err.to_string().contains("--as-dockerfile builds none"), "{err}");
        assert!(!out.path().join("Dockerfile").exists());
    }

    #[test]
    fn foreign_upload_directories_are_not_replaced() {
        let src = tempfile::tempdir().unwrap();
        let out = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(out.path().join("out/upload")).unwrap();
        let o = options(src.path());
        let res = generate(
            &o,
            &DockerfileOptions { path: out.path().join("out/"), image_scripts_url: DEFAULT_IMAGE_SCRIPTS_URL.into() },
            &AtomicBool::new(false),
        );
        assert!(res.is_err());
    }
}
