//! `s2i build`, `s2i rebuild`, `s2i usage` and `s2i generate`.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use s2i_core::dockerfile::{self, DockerfileOptions};
use s2i_core::events::EventSink;
use s2i_core::users::AllowedUids;
use s2i_core::{BuildOptions, BuildResult, ContainerRuntime, Engine, UsageOptions};
use s2i_imagestream::streams::StreamTag;

use super::daemonless;
use super::engine::{self, cancellation, cancelled_code, connect};
use super::imagestream::record_build;
use super::session::{Context, Session};
use crate::cli::{BuildArgs, CommonArgs, EngineKind, GenerateArgs, GlobalArgs, OutcomeArgs, RebuildArgs, UsageArgs};
use crate::failure::Failure;
use crate::printer::{Printer, Verbosity};

fn destination(common: &CommonArgs, printer: &Printer) -> Option<String> {
    if let Some(location) = &common.location {
        printer.line("WARNING: --location is deprecated; use --destination");
        if common.destination.is_none() {
            return Some(location.clone());
        }
    }
    common.destination.clone()
}

fn parse_env(values: &[String], printer: &Printer) -> Result<Vec<s2i_core::EnvVar>, Failure> {
    values
        .iter()
        .map(|value| {
            if value.contains(',') && value.matches('=').count() > 1 {
                printer.line(&format!(
                    "WARNING: {value:?} is one variable; separate variables with repeated -e flags, not commas"
                ));
            }
            s2i_core::env::parse_env_arg(value).map_err(Failure::from)
        })
        .collect()
}

fn allowed_uids(text: &str) -> Result<AllowedUids, Failure> {
    Ok(text.parse::<AllowedUids>()?)
}

/// Apply the options of commands that produce an image.
fn apply_outcome(options: &mut BuildOptions, outcome: &OutcomeArgs) -> Result<(), Failure> {
    options.incremental = outcome.incremental;
    options.incremental_pull_policy = outcome.incremental_pull_policy;
    options.remove_previous_image = outcome.rm;
    options.callback_url = outcome.callback_url.clone();
    options.allowed_uids = allowed_uids(&outcome.allowed_uids)?;
    options.save_temp_dir = outcome.save_temp_dir;
    options.push = outcome.push;
    options.push_builder_stage = outcome.push_builder_stage;
    options.outputs = outcome.outputs.clone();
    options.source_date_epoch = parse_epoch(outcome.source_date_epoch.as_deref())?;
    options.sbom = outcome.sbom.is_some();
    options.provenance = outcome.provenance.is_some();
    Ok(())
}

/// `--source-date-epoch` (or `SOURCE_DATE_EPOCH`); an empty value is unset,
/// as tools that read it treat it.
pub(crate) fn parse_epoch(value: Option<&str>) -> Result<Option<u64>, Failure> {
    match value.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => Ok(Some(text.parse().map_err(|_| {
            Failure::from(s2i_core::Error::InvalidOption {
                option: "--source-date-epoch (or SOURCE_DATE_EPOCH)".into(),
                message: format!("{text:?} is not a number of seconds"),
                help: "give whole seconds since 1970-01-01 UTC, e.g. $(git log -1 --format=%ct)".into(),
            })
        })?)),
    }
}

/// Turn `s2i build` flags into build options.
fn build_options(args: &BuildArgs, printer: &Printer) -> Result<BuildOptions, Failure> {
    let image = args.image.clone().ok_or_else(|| {
        Failure::from(s2i_core::Error::InvalidOption {
            option: "builder image".into(),
            message: "Required value not specified for \"builderImage\"".into(),
            help: "run `s2i build <source> <builder-image> [<tag>]`".into(),
        })
    })?;
    let scripts_url = match (&args.scripts_url, &args.scripts) {
        (Some(url), _) => Some(url.clone()),
        (None, Some(url)) => {
            printer.line("WARNING: --scripts is deprecated; use --scripts-url");
            Some(url.clone())
        }
        (None, None) => None,
    };
    // An empty source means none: assemble (or --source-image) provides it, as in the reference.
    let mut options = BuildOptions::new(args.source.clone().filter(|s| !s.is_empty()), image);
    options.tag = args.tag.clone();
    options.git_ref = args.git_ref.clone();
    options.context_dir = args.context_dir.clone();
    options.copy = args.copy;
    options.ignore_submodules = args.ignore_submodules;
    options.keep_symlinks = args.keep_symlinks;
    options.scripts_url = scripts_url;
    options.destination = destination(&args.common, printer);
    options.env = parse_env(&args.env, printer)?;
    options.environment_file = args.environment_file.clone();
    options.exclude = args.exclude.clone();
    options.pull_policy = args.common.pull_policy;
    options.assemble_user = args.assemble_user.clone();
    options.description = args.description.clone();
    options.display_name = args.application_name.clone();
    for value in &args.inject {
        options.injections.extend(s2i_core::inject::parse_injections(value)?);
    }
    options.runtime_image = args.runtime_image.clone();
    for value in &args.runtime_artifact {
        options.runtime_artifacts.extend(s2i_core::chained::parse_runtime_artifacts(value)?);
    }
    options.assemble_runtime_user = args.assemble_runtime_user.clone();
    options.runtime_pull_policy = args.runtime_pull_policy;
    for value in &args.source_image {
        options.source_images.push(s2i_core::chained::SourceImage::parse(value)?);
    }
    options.host.binds = args.volume.clone();
    options.host.cap_drop = args.cap_drop.clone();
    options.host.network_mode = args.network.clone();
    options.host.extra_hosts = args.add_host.clone();
    options.registry_auth_file = args.common.dockercfg_path.clone();
    apply_outcome(&mut options, &args.outcome)?;
    if args.run && options.tag.is_none() && !options.outputs.is_empty() {
        let daemon = options.outputs.iter().any(|o| matches!(o, s2i_oci::transport::ImageLocation::DockerDaemon(_)));
        if !daemon {
            return Err(Failure::from(s2i_core::Error::InvalidOption {
                option: "--run".into(),
                message: "the image goes only to the --output locations, not to the engine".into(),
                help: "give a tag (or a docker-daemon:NAME:TAG output) so that the engine has the image to run".into(),
            }));
        }
    }
    Ok(options)
}

pub(crate) async fn build(global: &GlobalArgs, args: BuildArgs) -> Result<i32, Failure> {
    let verbosity = Verbosity { loglevel: global.loglevel, quiet: args.common.quiet, script_stdout_to_stdout: false };
    let printer = Arc::new(Printer::new(verbosity));
    let mut options = build_options(&args, &printer)?;
    if let Some(path) = &args.as_dockerfile {
        let mut out = DockerfileOptions::new(path.clone());
        out.image_scripts_url = args.image_scripts_url.clone();
        return generate_dockerfile(&printer, options, out).await;
    }
    // `--to`: check the tag and open the store before building, so a typo fails fast.
    let record_to = match &args.to {
        Some(to) => {
            let destination = StreamTag::parse(to, &global.namespace)?;
            Some((destination, Context::open(global)?))
        }
        None => None,
    };
    let (runtime, daemon) = connect_for_build(global, &args.common, &mut options, &printer).await?;
    let engine = Engine::new(runtime.clone(), printer.clone() as Arc<dyn EventSink>);
    let (token, received) = cancellation();
    let result = engine.build(&options, &token).await;
    printer.finish();
    let built = match finish_build(&printer, result, record_to.is_some())? {
        Some(built) => built,
        None => return Ok(cancelled_code(&received)),
    };
    write_outputs(&args.outcome, &built)?;
    if let Some((oci, outputs)) = &daemon {
        let image = built.tag.as_deref().unwrap_or(&built.image_id);
        daemonless::write_taken_outputs(global, oci, image, outputs, &printer).await?;
    }
    if let Some((destination, context)) = record_to {
        let session = Session::with_engine(context, Ok(runtime), args.common.dockercfg_path.as_ref());
        let message = record_build(&session, &destination, &built.image_id).await?;
        printer.line(&message);
    }
    if !args.run {
        return Ok(0);
    }
    let image = built
        .tag
        .clone()
        .or_else(|| {
            built.outputs.iter().find_map(|o| match &o.location {
                s2i_oci::transport::ImageLocation::DockerDaemon(s2i_oci::transport::DaemonImage::Named(name)) => {
                    Some(name.to_string())
                }
                _ => None,
            })
        })
        .unwrap_or_else(|| built.image_id.clone());
    printer.line(&format!("Running the image {image} as a result of the --run=true option"));
    let code = engine.run_image(&image, &options.host, &token).await?;
    printer.finish();
    Ok(match code {
        Some(code) => i32::try_from(code).unwrap_or(1),
        None => cancelled_code(&received),
    })
}

/// The daemonless backend of an `--engine oci` build, with the outputs it
/// writes itself afterwards (`daemonless::take_outputs`).
type DaemonLoads = (s2i_runc::OciRuntime, Vec<s2i_oci::transport::ImageLocation>);

/// The engine of a build; with `--engine oci` also the daemonless backend
/// itself, its builder and runtime images given by location copied into
/// its store first, and the outputs it writes itself taken out of `options`.
async fn connect_for_build(
    global: &GlobalArgs,
    common: &CommonArgs,
    options: &mut BuildOptions,
    printer: &Printer,
) -> Result<(Arc<dyn ContainerRuntime>, Option<DaemonLoads>), Failure> {
    if global.engine != Some(EngineKind::Oci) {
        return Ok((connect(global, common.dockercfg_path.as_deref()).await?, None));
    }
    let oci = engine::connect_oci(global, common.dockercfg_path.as_deref()).await?;
    engine::remove_leftovers(&oci).await;
    daemonless::import_images(global, &oci, options, printer).await?;
    let daemon = daemonless::take_outputs(&oci, options)?;
    Ok((Arc::new(oci.clone()), Some((oci, daemon))))
}

/// Report a build's outcome; `Ok(None)` when it was cancelled.
fn finish_build(
    printer: &Printer,
    result: s2i_core::Result<BuildResult>,
    recorded: bool,
) -> Result<Option<BuildResult>, Failure> {
    match result {
        Ok(result) => {
            let written: Vec<String> = result.outputs.iter().map(|o| o.location.to_string()).collect();
            match (&result.tag, recorded) {
                (Some(tag), _) => printer.line(&format!("Build completed successfully: {tag}")),
                (None, true) => printer.line(&format!("Build completed successfully: {}", result.image_id)),
                (None, false) if !written.is_empty() => {
                    printer.line(&format!("Build completed successfully: {}", written.join(", ")));
                    println!("{}", result.image_id);
                }
                (None, false) => {
                    printer.line("Build completed successfully (untagged image)");
                    println!("{}", result.image_id);
                }
            }
            Ok(Some(result))
        }
        Err(s2i_core::Error::Cancelled) => {
            printer.line("Build cancelled; its containers were removed.");
            Ok(None)
        }
        Err(e) => {
            printer.line("Build failed");
            Err(e.into())
        }
    }
}

async fn generate_dockerfile(printer: &Printer, options: BuildOptions, out: DockerfileOptions) -> Result<i32, Failure> {
    let generated = tokio::task::spawn_blocking(move || dockerfile::generate(&options, &out, &AtomicBool::new(false)))
        .await
        .map_err(|e| Failure::internal(&e.to_string()))??;
    for warning in &generated.warnings {
        printer.line(&format!("WARNING: {warning}"));
    }
    printer.line(&format!("Application dockerfile generated in {}", generated.dockerfile.display()));
    Ok(0)
}

pub(crate) async fn rebuild(global: &GlobalArgs, args: RebuildArgs) -> Result<i32, Failure> {
    let verbosity = Verbosity { loglevel: global.loglevel, quiet: args.common.quiet, script_stdout_to_stdout: false };
    let printer = Arc::new(Printer::new(verbosity));
    let (runtime, oci) = match global.engine {
        Some(EngineKind::Oci) => {
            let oci = engine::connect_oci(global, args.common.dockercfg_path.as_deref()).await?;
            engine::remove_leftovers(&oci).await;
            (Arc::new(oci.clone()) as Arc<dyn ContainerRuntime>, Some(oci))
        }
        _ => (connect(global, args.common.dockercfg_path.as_deref()).await?, None),
    };
    let engine = Engine::new(runtime, printer.clone() as Arc<dyn EventSink>);
    let allowed = allowed_uids(&args.outcome.allowed_uids)?;
    let mut options = engine.rebuild_options(&args.image, args.common.pull_policy, &allowed).await?;
    if let Some(tag) = &args.new_tag {
        options.tag = Some(tag.clone());
    }
    if let Some(dest) = destination(&args.common, &printer) {
        options.destination = Some(dest);
    }
    options.registry_auth_file = args.common.dockercfg_path.clone();
    apply_outcome(&mut options, &args.outcome)?;
    let daemon = match oci {
        Some(oci) => {
            let taken = daemonless::take_outputs(&oci, &mut options)?;
            Some((oci, taken))
        }
        None => None,
    };
    printer.line(&format!(
        "Rebuilding {} from {} on {}",
        options.tag.as_deref().unwrap_or_default(),
        options.source.as_deref().unwrap_or_default(),
        options.builder_image
    ));
    let (token, received) = cancellation();
    let result = engine.build(&options, &token).await;
    printer.finish();
    Ok(match finish_build(&printer, result, false)? {
        Some(built) => {
            write_outputs(&args.outcome, &built)?;
            if let Some((oci, outputs)) = &daemon {
                let image = built.tag.as_deref().unwrap_or(&built.image_id);
                daemonless::write_taken_outputs(global, oci, image, outputs, &printer).await?;
            }
            0
        }
        None => cancelled_code(&received),
    })
}

/// `--iidfile`, `--metadata-file`, `--sbom` and `--provenance`: what the build made, for scripts and CI.
fn write_outputs(outcome: &OutcomeArgs, built: &BuildResult) -> Result<(), Failure> {
    if let (Some(path), Some(document)) = (&outcome.sbom, &built.sbom) {
        write_file(path, document.as_bytes(), "--sbom")?;
    }
    if let (Some(path), Some(document)) = (&outcome.provenance, &built.provenance) {
        write_file(path, document.as_bytes(), "--provenance")?;
    }
    if let Some(path) = &outcome.iidfile {
        write_file(path, built.image_id.as_bytes(), "--iidfile")?;
    }
    if let Some(path) = &outcome.metadata_file {
        let mut text = serde_json::to_vec_pretty(&BuildMetadata::of(built)).expect("metadata serialises");
        text.push(b'\n');
        write_file(path, &text, "--metadata-file")?;
    }
    Ok(())
}

fn write_file(path: &std::path::Path, contents: &[u8], flag: &str) -> Result<(), Failure> {
    std::fs::write(path, contents).map_err(|e| {
        Failure::message(
            format!("cannot write {flag} {}: {e} (the image was built)", path.display()),
            "give a path in a directory that exists and that you may write to".into(),
        )
    })
}

/// The `--metadata-file` document. Field names are stable (documented in docs/build.md).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct BuildMetadata<'a> {
    image_id: &'a str,
    tag: Option<&'a str>,
    pushed: Option<&'a str>,
    pushed_digest: Option<&'a str>,
    builder_image: &'a str,
    builder_image_id: &'a str,
    builder_image_digest: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    builder_stage: Option<BuilderStageMetadata<'a>>,
    source: Option<SourceMetadata<'a>>,
    epoch: Option<u64>,
    manifest_digest: Option<&'a str>,
    outputs: Vec<OutputMetadata<'a>>,
    duration_seconds: f64,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct OutputMetadata<'a> {
    location: String,
    digest: Option<&'a str>,
    image_id: &'a str,
    referrers: &'a [String],
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct BuilderStageMetadata<'a> {
    tag: &'a str,
    pushed: Option<&'a str>,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct SourceMetadata<'a> {
    location: &'a str,
    commit: Option<&'a str>,
    #[serde(rename = "ref")]
    git_ref: Option<&'a str>,
}

impl<'a> BuildMetadata<'a> {
    fn of(built: &'a BuildResult) -> Self {
        Self {
            image_id: &built.image_id,
            tag: built.tag.as_deref(),
            pushed: built.pushed.as_ref().map(|p| p.reference.as_str()),
            pushed_digest: built.pushed.as_ref().map(|p| p.digest.as_str()),
            builder_image: &built.builder.name,
            builder_image_id: &built.builder.id,
            builder_image_digest: built.builder.digest.as_deref(),
            builder_stage: built.builder_stage.as_deref().map(|tag| BuilderStageMetadata {
                tag,
                pushed: built.builder_stage_pushed.as_ref().map(|p| p.reference.as_str()),
            }),
            source: built.source.as_ref().map(|s| SourceMetadata {
                location: &s.location,
                commit: s.commit.as_deref(),
                git_ref: s.git_ref.as_deref(),
            }),
            epoch: built.epoch.map(|e| e.seconds),
            manifest_digest: built.manifest_digest.as_deref(),
            outputs: built
                .outputs
                .iter()
                .map(|o| OutputMetadata {
                    location: o.location.to_string(),
                    digest: o.digest.as_deref(),
                    image_id: &o.image_id,
                    referrers: &o.referrers,
                })
                .collect(),
            duration_seconds: (built.elapsed.as_secs_f64() * 1000.0).round() / 1000.0,
        }
    }
}

pub(crate) async fn usage(global: &GlobalArgs, args: UsageArgs) -> Result<i32, Failure> {
    let verbosity = Verbosity { loglevel: global.loglevel, quiet: args.common.quiet, script_stdout_to_stdout: true };
    let printer = Arc::new(Printer::new(verbosity));
    let mut options = UsageOptions::new(args.image.clone());
    options.scripts_url = args.scripts_url.clone();
    options.destination = destination(&args.common, &printer);
    options.pull_policy = args.common.pull_policy;
    options.assemble_user = args.assemble_user.clone();
    options.allowed_uids = allowed_uids(&args.allowed_uids)?;
    options.env = parse_env(&args.env, &printer)?;
    let runtime = connect(global, args.common.dockercfg_path.as_deref()).await?;
    let engine = Engine::new(runtime, printer.clone() as Arc<dyn EventSink>);
    let (token, received) = cancellation();
    let result = engine.usage(&options, &token).await;
    printer.finish();
    match result {
        Ok(()) => Ok(0),
        Err(s2i_core::Error::Cancelled) => Ok(cancelled_code(&received)),
        Err(e) => Err(e.into()),
    }
}

pub(crate) async fn generate(global: &GlobalArgs, args: GenerateArgs) -> Result<i32, Failure> {
    let verbosity = Verbosity { loglevel: global.loglevel, quiet: args.quiet, script_stdout_to_stdout: false };
    let printer = Printer::new(verbosity);
    let mut options = BuildOptions::new(None, args.image.clone());
    options.env = parse_env(&args.env, &printer)?;
    options.assemble_user = args.assemble_user.clone();
    generate_dockerfile(&printer, options, DockerfileOptions::new(args.output.clone())).await
}
