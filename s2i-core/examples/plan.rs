//! Plan a build and print the plan as JSON, without running it: which
//! builder image, where each script comes from, the destination, the user,
//! the environment and labels of the output image, and the rules that leave
//! source files out. No container is started.
//!
//! ```sh
//! cargo run -p s2i-core --example plan [-- SOURCE_DIR [BUILDER]]
//! ```
//!
//! The runtime is the engine of the environment, through `s2i-docker` (any
//! `ContainerRuntime` would do). Without arguments the source is a small
//! generated app and the builder is the fixture image
//! `s2i-fixtures/busybox-builder:latest` (`cargo xtask fixtures`). The
//! builder is pulled only when the engine does not have it.

// An example shows its result on the terminal.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use s2i_core::{BuildEvent, BuildOptions, Engine, PullPolicy};
use s2i_docker::{ConnectOptions, DockerRuntime};

const DEFAULT_BUILDER: &str = "s2i-fixtures/busybox-builder:latest";

// A current-thread runtime: the engine needs no more.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let example_source = tempfile::tempdir()?;
    let source = match args.next() {
        Some(dir) => dir,
        None => {
            // An app with an environment file and an ignore rule, so the
            // plan shows both at work.
            let root = example_source.path();
            std::fs::create_dir_all(root.join(".s2i"))?;
            std::fs::write(root.join(".s2i/environment"), "GREETING=hello\n")?;
            std::fs::write(root.join(".s2iignore"), "*.log\n")?;
            std::fs::write(root.join("index.html"), "<h1>hello</h1>\n")?;
            std::fs::write(root.join("debug.log"), "left out\n")?;
            root.display().to_string()
        }
    };
    let builder = args.next().unwrap_or_else(|| DEFAULT_BUILDER.to_owned());

    let runtime = Arc::new(DockerRuntime::connect(&ConnectOptions::from_env()).await?);
    // The engine reports what it decides as events; a tool draws them as it likes.
    let events = Arc::new(|event: BuildEvent| {
        if let BuildEvent::Message { text, .. } = event {
            eprintln!("{text}");
        }
    });
    let engine = Engine::new(runtime, events);

    let mut options = BuildOptions::new(Some(source), builder);
    options.tag = Some("example/planned:latest".into());
    options.pull_policy = PullPolicy::IfNotPresent;
    options.env.push(s2i_core::env::parse_env_arg("MODE=production")?);
    // Planning may clone a git source or download scripts: it does so in a
    // working directory of the caller's choosing.
    let work = tempfile::tempdir()?;
    let plan = engine.plan(&options, work.path(), &Arc::new(AtomicBool::new(false))).await?;

    println!("{}", serde_json::to_string_pretty(&plan)?);
    eprintln!("assemble: {} as user {}", plan.assemble_path, plan.assemble_user.as_deref().unwrap_or("of the image"));
    eprintln!("run: {}", plan.run_command.join(" "));
    Ok(())
}
