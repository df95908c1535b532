//! `s2i build` and `s2i usage`.

use std::sync::Arc;

use s2i_core::events::EventSink;
use s2i_core::{BuildOptions, ContainerRuntime, Engine, UsageOptions};
use s2i_imagestream::streams::StreamTag;

use super::imagestream::record_build;
use super::session::{Context, Session};
use super::{Failure, cancellation, cancelled_code, connect};
use crate::cli::{BuildArgs, CommonArgs, GlobalArgs, UsageArgs};
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

pub(super) async fn build(global: &GlobalArgs, args: BuildArgs) -> Result<i32, Failure> {
    let verbosity = Verbosity { loglevel: global.loglevel, quiet: args.common.quiet, script_stdout_to_stdout: false };
    let printer = Arc::new(Printer::new(verbosity));
    let env = parse_env(&args.env, &printer)?;
    let scripts_url = match (&args.scripts_url, &args.scripts) {
        (Some(url), _) => Some(url.clone()),
        (None, Some(url)) => {
            printer.line("WARNING: --scripts is deprecated; use --scripts-url");
            Some(url.clone())
        }
        (None, None) => None,
    };
    let mut options = BuildOptions::new(Some(args.source.clone()), args.image.clone());
    options.tag = args.tag.clone();
    options.git_ref = args.git_ref.clone();
    options.context_dir = args.context_dir.clone();
    options.copy = args.copy;
    options.ignore_submodules = args.ignore_submodules;
    options.keep_symlinks = args.keep_symlinks;
    options.scripts_url = scripts_url;
    options.destination = destination(&args.common, &printer);
    options.env = env;
    options.environment_file = args.environment_file.clone();
    options.exclude = args.exclude.clone();
    options.pull_policy = args.common.pull_policy;
    options.assemble_user = args.assemble_user.clone();
    options.description = args.description.clone();
    options.display_name = args.application_name.clone();
    options.host.binds = args.volume.clone();
    options.host.cap_drop = args.cap_drop.clone();
    options.host.network_mode = args.network.clone();
    options.host.extra_hosts = args.add_host.clone();
    options.save_temp_dir = args.save_temp_dir;

    // `--to`: check the tag and open the store before building, so a typo fails fast.
    let record_to = match &args.to {
        Some(to) => {
            let destination = StreamTag::parse(to, &global.namespace)?;
            Some((destination, Context::open(global)?))
        }
        None => None,
    };
    let runtime: Arc<dyn ContainerRuntime> = Arc::new(connect(global, &args.common).await?);
    let engine = Engine::new(runtime.clone(), printer.clone() as Arc<dyn EventSink>);
    let (token, received) = cancellation();
    let result = engine.build(&options, &token).await;
    printer.finish();
    match result {
        Ok(result) => {
            match (&result.tag, &record_to) {
                (Some(tag), _) => printer.line(&format!("Build completed successfully: {tag}")),
                (None, Some(_)) => printer.line(&format!("Build completed successfully: {}", result.image_id)),
                (None, None) => {
                    printer.line("Build completed successfully (untagged image)");
                    println!("{}", result.image_id);
                }
            }
            if let Some((destination, context)) = record_to {
                let session = Session::with_engine(context, Ok(runtime), args.common.dockercfg_path.as_ref());
                let message = record_build(&session, &destination, &result.image_id, &result.labels).await?;
                printer.line(&message);
            }
            Ok(0)
        }
        Err(s2i_core::Error::Cancelled) => {
            printer.line("Build cancelled; its containers were removed.");
            Ok(cancelled_code(&received))
        }
        Err(e) => {
            printer.line("Build failed");
            Err(e.into())
        }
    }
}

pub(super) async fn usage(global: &GlobalArgs, args: UsageArgs) -> Result<i32, Failure> {
    let verbosity = Verbosity { loglevel: global.loglevel, quiet: args.common.quiet, script_stdout_to_stdout: true };
    let printer = Arc::new(Printer::new(verbosity));
    let options = UsageOptions {
        builder_image: args.image.clone(),
        scripts_url: args.scripts_url.clone(),
        destination: destination(&args.common, &printer),
        pull_policy: args.common.pull_policy,
        assemble_user: args.assemble_user.clone(),
        env: parse_env(&args.env, &printer)?,
        working_dir: None,
    };
    let runtime = connect(global, &args.common).await?;
    let engine = Engine::new(Arc::new(runtime), printer.clone() as Arc<dyn EventSink>);
    let (token, received) = cancellation();
    let result = engine.usage(&options, &token).await;
    printer.finish();
    match result {
        Ok(()) => Ok(0),
        Err(s2i_core::Error::Cancelled) => Ok(cancelled_code(&received)),
        Err(e) => Err(e.into()),
    }
}
