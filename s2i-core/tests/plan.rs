//! Planning logic against a fake runtime that only knows images: no container
//! is ever started here (end-to-end tests run against a real engine).

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use s2i_core::runtime::*;
use s2i_core::{BuildOptions, Engine, EnvVar, Error, NoEvents, PullPolicy};

#[derive(Default)]
struct FakeImages {
    images: BTreeMap<String, ImageInfo>,
    pulls: Mutex<Vec<String>>,
}

fn refuse<T>() -> Result<T, RuntimeError> {
    Err(RuntimeError::new(RuntimeErrorKind::Other, "the planning fake runs no containers"))
}

#[async_trait::async_trait]
impl ContainerRuntime for FakeImages {
    async fn info(&self) -> Result<RuntimeInfo, RuntimeError> {
        Ok(RuntimeInfo::default())
    }
    async fn inspect_image(&self, image: &str) -> Result<Option<ImageInfo>, RuntimeError> {
        Ok(self.images.get(image).cloned())
    }
    async fn pull_image(&self, image: &str, _: &(dyn Fn(PullProgress) + Send + Sync)) -> Result<(), RuntimeError> {
        self.pulls.lock().unwrap().push(image.to_owned());
        Err(RuntimeError::new(RuntimeErrorKind::NotFound, format!("manifest for {image} not found")))
    }
    async fn push_image(
        &self,
        _: &str,
        _: &(dyn Fn(PullProgress) + Send + Sync),
    ) -> Result<Option<String>, RuntimeError> {
        refuse()
    }
    async fn create_container(&self, _: &ContainerSpec) -> Result<String, RuntimeError> {
        refuse()
    }
    async fn attach_container(&self, _: &str, _: bool) -> Result<Attachment, RuntimeError> {
        refuse()
    }
    async fn start_container(&self, _: &str) -> Result<(), RuntimeError> {
        refuse()
    }
    async fn wait_container(&self, _: &str) -> Result<ExitStatus, RuntimeError> {
        refuse()
    }
    async fn upload_archive(&self, _: &str, _: &str, _: ByteStream) -> Result<(), RuntimeError> {
        refuse()
    }
    async fn download_archive(&self, _: &str, _: &str) -> Result<Option<ByteStream>, RuntimeError> {
        refuse()
    }
    async fn commit_container(&self, _: &str, _: &CommitSpec) -> Result<String, RuntimeError> {
        refuse()
    }
    async fn container_changes(&self, _: &str) -> Result<Vec<ContainerChange>, RuntimeError> {
        refuse()
    }
    async fn export_container(&self, _: &str) -> Result<ByteStream, RuntimeError> {
        refuse()
    }
    fn archives_keep_owners(&self) -> bool {
        true
    }
    async fn export_image(&self, _: &str) -> Result<ByteStream, RuntimeError> {
        refuse()
    }
    async fn load_image(&self, _: ByteStream) -> Result<(), RuntimeError> {
        refuse()
    }
    fn load_needs_every_layer(&self) -> bool {
        false
    }
    async fn remove_container(&self, _: &str) -> Result<(), RuntimeError> {
        refuse()
    }
    async fn remove_image(&self, _: &str) -> Result<(), RuntimeError> {
        refuse()
    }
    async fn tag_image(&self, _: &str, _: &str, _: &str) -> Result<(), RuntimeError> {
        refuse()
    }
    async fn network_exists(&self, network: &str) -> Result<bool, RuntimeError> {
        Ok(network == "existing-net")
    }
    async fn container_exists(&self, _: &str) -> Result<bool, RuntimeError> {
        Ok(false)
    }
    async fn stat_path(&self, _: &str, _: &str) -> Result<Option<PathStat>, RuntimeError> {
        refuse()
    }
    async fn build_image(
        &self,
        _: ByteStream,
        _: &ImageBuildSpec,
        _: &(dyn Fn(String) + Send + Sync),
    ) -> Result<String, RuntimeError> {
        refuse()
    }
    async fn containers_with_labels(&self, _: &BTreeMap<String, String>) -> Result<Vec<String>, RuntimeError> {
        refuse()
    }
    async fn labelled_containers(&self, _: &str) -> Result<Vec<ContainerSummary>, RuntimeError> {
        refuse()
    }
    async fn list_containers(&self, _: &BTreeMap<String, String>) -> Result<Vec<ContainerSummary>, RuntimeError> {
        refuse()
    }
}

fn builder(labels: &[(&str, &str)], user: &str) -> ImageInfo {
    ImageInfo {
        id: "sha256:1111".into(),
        user: user.into(),
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        env: vec!["PATH=/bin".into()],
        ..Default::default()
    }
}

fn engine(images: &[(&str, ImageInfo)]) -> (Engine, Arc<FakeImages>) {
    let fake = Arc::new(FakeImages {
        images: images.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
        ..Default::default()
    });
    (Engine::new(fake.clone(), Arc::new(NoEvents)), fake)
}

fn source_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(full, content).unwrap();
    }
    dir
}

async fn plan(engine: &Engine, options: &BuildOptions) -> Result<s2i_core::BuildPlan, Error> {
    let work = tempfile::tempdir().unwrap();
    engine.plan(options, work.path(), &Arc::new(AtomicBool::new(false))).await
}

#[tokio::test]
async fn image_scripts_destination_and_users() {
    let image = builder(
        &[
            ("io.openshift.s2i.scripts-url", "image:///usr/libexec/s2i/"),
            ("io.openshift.s2i.destination", "/opt/dest"),
            ("io.openshift.s2i.assemble-user", "1002"),
            ("io.k8s.description", "a builder"),
        ],
        "1001",
    );
    let (engine, _) = engine(&[("example/builder:latest", image)]);
    let src = source_dir(&[("app.txt", "x")]);
    let mut options = BuildOptions::new(Some(src.path().display().to_string()), "example/builder");
    options.tag = Some("out/app".into());
    let plan = plan(&engine, &options).await.unwrap();
    assert_eq!(plan.destination, "/opt/dest");
    assert_eq!(plan.assemble_path, "/usr/libexec/s2i/assemble");
    assert_eq!(plan.run_command, ["/usr/libexec/s2i/run"]);
    assert_eq!(plan.assemble_user.as_deref(), Some("1002"));
    assert_eq!(plan.output_user, "1001");
    assert_eq!(plan.labels["io.k8s.description"], "a builder");
    assert_eq!(plan.labels["io.k8s.display-name"], "out/app");
    assert_eq!(plan.labels["io.openshift.s2i.build.image"], "docker.io/example/builder:latest");
    assert_eq!(plan.labels["io.openshift.s2i.build.source-location"], src.path().display().to_string());
    assert_eq!(plan.builder.engine_name, "example/builder:latest");
}

#[tokio::test]
async fn flags_win_over_labels() {
    let image =
        builder(&[("io.openshift.s2i.scripts-url", "image:///s2i"), ("io.openshift.s2i.assemble-user", "1002")], "");
    let (engine, _) = engine(&[("b:1", image)]);
    let src = source_dir(&[(".s2i/bin/run", "echo mine")]);
    let mut options = BuildOptions::new(Some(src.path().display().to_string()), "b:1");
    options.destination = Some("/work".into());
    options.assemble_user = Some("2000".into());
    options.display_name = Some("Shown".into());
    options.description = Some("Described".into());
    let plan = plan(&engine, &options).await.unwrap();
    assert_eq!(plan.assemble_path, "/s2i/assemble");
    assert_eq!(plan.run_command, ["/work/scripts/run"], "a source script is shipped");
    assert_eq!(plan.assemble_user.as_deref(), Some("2000"));
    assert_eq!(plan.output_user, "0", "an image without USER stays root after a non-root assemble");
    assert_eq!(plan.labels["io.k8s.display-name"], "Shown");
    assert_eq!(plan.labels["io.k8s.description"], "Described");
    let source = plan.source.unwrap();
    assert!(source.filter.excludes(".s2i/bin/run"), "moved out of src/");
}

#[tokio::test]
async fn environment_order_is_source_file_then_flags_then_env_file() {
    let image = builder(&[("io.openshift.s2i.scripts-url", "image:///s2i")], "1001");
    let (engine, _) = engine(&[("b:latest", image)]);
    let src = source_dir(&[(".s2i/environment", "# comment\nA=source\nB=source\nbad line\n")]);
    let env_file = src.path().join("extra.env");
    std::fs::write(&env_file, "C=file\nB=file\n").unwrap();
    let mut options = BuildOptions::new(Some(src.path().display().to_string()), "b");
    options.env =
        vec![EnvVar { name: "A".into(), value: "flag".into() }, EnvVar { name: "C".into(), value: "flag".into() }];
    options.environment_file = Some(env_file);
    let plan = plan(&engine, &options).await.unwrap();
    let env: Vec<String> = plan.env.iter().map(EnvVar::to_entry).collect();
    assert_eq!(env, ["A=flag", "B=file", "C=file"]);
}

#[tokio::test]
async fn s2iignore_and_exclude_shape_the_filter() {
    let image = builder(&[("io.openshift.s2i.scripts-url", "image:///s2i")], "1001");
    let (engine, _) = engine(&[("b:latest", image)]);
    let src = source_dir(&[(".s2iignore", "*.log\n!keep.log\n"), ("a.log", ""), ("keep.log", ""), ("x.tmp", "")]);
    let mut options = BuildOptions::new(Some(src.path().display().to_string()), "b");
    options.exclude = r"\.tmp$".into();
    let plan = plan(&engine, &options).await.unwrap();
    let source = plan.source.unwrap();
    assert!(source.filter.excludes("a.log"));
    assert!(!source.filter.excludes("keep.log"));
    assert!(source.filter.excludes("x.tmp"));
    assert!(!source.filter.excludes(".git"), "the user's --exclude replaces the default");
    assert_eq!(source.ignore_patterns, ["*.log", "!keep.log"]);
}

#[tokio::test]
async fn pull_policies() {
    let (engine, fake) = engine(&[]);
    let src = source_dir(&[]);
    let mut options = BuildOptions::new(Some(src.path().display().to_string()), "missing/builder");
    options.pull_policy = PullPolicy::Never;
    let err = plan(&engine, &options).await.unwrap_err();
    assert_eq!(err.exit_code(), 1, "{err}");
    assert!(fake.pulls.lock().unwrap().is_empty(), "never means never");

    options.pull_policy = PullPolicy::IfNotPresent;
    let err = plan(&engine, &options).await.unwrap_err();
    assert_eq!(err.exit_code(), 2, "{err}");
    assert_eq!(*fake.pulls.lock().unwrap(), ["missing/builder:latest"]);
}

#[tokio::test]
async fn allowed_uids_and_networks_are_checked_before_any_container() {
    let (engine, _) = engine(&[("root:latest", builder(&[("io.openshift.s2i.scripts-url", "image:///s2i")], ""))]);
    let src = source_dir(&[]);
    let mut options = BuildOptions::new(Some(src.path().display().to_string()), "root");
    options.allowed_uids = "1-".parse().unwrap();
    let err = plan(&engine, &options).await.unwrap_err();
    assert_eq!(err.exit_code(), 15, "{err}");
    options.assemble_user = Some("1001".into());
    assert!(plan(&engine, &options).await.is_ok(), "an allowed --assemble-user wins");

    let mut options = BuildOptions::new(Some(src.path().display().to_string()), "root");
    options.host.network_mode = Some("no-such-net".into());
    let err = plan(&engine, &options).await.unwrap_err().to_string();
    assert!(err.contains("network no-such-net not found"), "{err}");
    options.host.network_mode = Some("existing-net".into());
    assert!(plan(&engine, &options).await.is_ok());
    options.host.network_mode = Some("container:ghost".into());
    assert!(plan(&engine, &options).await.is_err());
}

#[tokio::test]
async fn incremental_needs_a_previous_image_and_save_artifacts() {
    let image = builder(&[("io.openshift.s2i.scripts-url", "image:///s2i")], "1001");
    let previous = ImageInfo { id: "sha256:prev".into(), user: "1001".into(), ..Default::default() };
    let (engine, _) = engine(&[("b:latest", image), ("out/app:latest", previous)]);
    let src = source_dir(&[]);
    let mut options = BuildOptions::new(Some(src.path().display().to_string()), "b");
    options.incremental = true;
    options.tag = Some("out/app".into());
    let plan_with = plan(&engine, &options).await.unwrap();
    let previous = plan_with.incremental.expect("incremental");
    assert_eq!(previous.id, "sha256:prev");
    assert_eq!(previous.save_artifacts, "/s2i/save-artifacts");
    assert_eq!(previous.user.as_deref(), Some("1001"));

    options.tag = Some("out/new".into());
    options.incremental_pull_policy = PullPolicy::Never;
    assert!(plan(&engine, &options).await.unwrap().incremental.is_none(), "no previous image: a clean build");
    options.tag = None;
    assert!(plan(&engine, &options).await.unwrap().incremental.is_none(), "no tag: a clean build");
}

#[tokio::test]
async fn missing_scripts_and_bad_options() {
    let (engine, _) = engine(&[("plain:latest", builder(&[], "1001"))]);
    let src = source_dir(&[]);
    let options = BuildOptions::new(Some(src.path().display().to_string()), "plain");
    let err = plan(&engine, &options).await.unwrap_err();
    assert_eq!(err.exit_code(), 11, "{err}");

    let mut options = BuildOptions::new(Some(src.path().display().to_string()), "plain");
    options.tag = Some("Bad:Tag:".into());
    assert!(matches!(plan(&engine, &options).await.unwrap_err(), Error::InvalidImageReference { .. }));

    let mut options = BuildOptions::new(Some(src.path().display().to_string()), "plain");
    options.destination = Some("relative".into());
    assert!(matches!(plan(&engine, &options).await.unwrap_err(), Error::InvalidOption { .. }));

    let options = BuildOptions::new(Some("/does/not/exist".into()), "plain");
    assert!(matches!(plan(&engine, &options).await.unwrap_err(), Error::SourceUnreadable { .. }));
}
