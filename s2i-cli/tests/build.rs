//! `s2i build` end to end: build with the real engine, then run the image and
//! look inside it.

mod support;

use support::*;

fn build_info(image: &str) -> String {
    run_in(image, &["cat", "/opt/app-root/src/.s2i-build-info"])
}

#[test]
fn image_scripts_build_a_runnable_image() {
    let builder = fixture("busybox-builder");
    let out = Image::fresh("image-scripts");
    let src = source(&[("index.html", "<h1>hi</h1>"), ("sub/dir/file.txt", "deep")]);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0]).ok();
    assert!(run.stderr.contains("---> Installing application source"), "assemble output streams: {}", run.stderr);
    assert_eq!(run.stdout, "", "a tagged build prints nothing on stdout");

    assert_eq!(run_in(&out.0, &["cat", "/opt/app-root/src/sub/dir/file.txt"]), "deep");
    let listing = run_in(&out.0, &[]);
    assert!(listing.contains("index.html"), "the run script is the CMD: {listing}");
    let config = &inspect(&out.0)["Config"];
    assert_eq!(config["Cmd"], serde_json::json!(["/usr/libexec/s2i/run"]));
    assert_eq!(config["User"], "1001");
    assert!(config["Entrypoint"].is_null() || config["Entrypoint"] == serde_json::json!([]), "{config}");
    // Only one layer on top of the builder.
    let layers = |i: &str| inspect(i)["RootFS"]["Layers"].as_array().unwrap().len();
    assert_eq!(layers(&out.0), layers(&builder) + 1);
    // The archive's entries are readable by anyone and directories are explicit.
    let mode = run_in(&out.0, &["stat", "-c", "%a", "/tmp/src/sub/dir"]);
    assert_eq!(mode.trim(), "755");
}

#[test]
fn labels_include_generated_ones_and_image_metadata() {
    let builder = fixture("busybox-builder");
    let out = Image::fresh("labels");
    let src = source(&[("a.txt", "a")]);
    run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &builder,
        &out.0,
        "-e",
        "S2I_METADATA_LABELS=written-by-assemble",
        "--description",
        "An app",
        "-n",
        "Shown name",
    ])
    .ok();
    let labels = labels(&out.0);
    assert_eq!(labels["from-assemble"], "written-by-assemble");
    assert_eq!(labels["io.k8s.description"], "An app");
    assert_eq!(labels["io.k8s.display-name"], "Shown name");
    assert_eq!(labels["io.openshift.s2i.build.image"], "docker.io/s2i-fixtures/busybox-builder:latest");
    assert_eq!(labels["io.openshift.s2i.build.source-location"], src.path().to_str().unwrap());
    assert_eq!(labels["io.openshift.s2i.scripts-url"], "image:///usr/libexec/s2i", "builder labels are inherited");
}

#[test]
fn untagged_builds_print_the_image_id() {
    let builder = fixture("busybox-builder");
    let src = source(&[("a.txt", "a")]);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder]).ok();
    let id = run.stdout.trim().to_owned();
    assert!(id.starts_with("sha256:"), "stdout is the image ID: {id:?}");
    let _cleanup = Image(id.clone());
    let labels = labels(&id);
    assert_eq!(
        labels["io.k8s.display-name"], "busybox-builder",
        "no tag: the builder's display name is inherited, none generated"
    );
    assert_eq!(run_in(&id, &["cat", "/opt/app-root/src/a.txt"]), "a");
}

#[test]
fn http_scripts_from_the_image_label() {
    let builder = fixture("http-scripts-builder");
    let server = FileServer::start(&workspace().join("fixtures/scripts/http"), 38080);
    let out = Image::fresh("http-label");
    let src = source(&[("a.txt", "a")]);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0]).ok();
    let requests = server.requests.lock().unwrap().clone();
    assert!(requests.contains(&"/scripts/assemble".to_owned()), "{requests:?}");
    assert!(run.stderr.contains("assemble from http"), "{}", run.stderr);
    let config = &inspect(&out.0)["Config"];
    assert_eq!(config["Cmd"], serde_json::json!(["/tmp/scripts/run"]), "downloaded scripts run from DEST/scripts");
    assert!(run_in(&out.0, &[]).contains("run from http"));
}

#[test]
fn http_and_file_scripts_urls_override_the_image() {
    let builder = fixture("busybox-builder");
    let scripts = workspace().join("fixtures/scripts/http");
    let server = FileServer::start(&scripts, 0);
    let src = source(&[("a.txt", "a")]);

    let out = Image::fresh("http-flag");
    let url = format!("http://127.0.0.1:{}/scripts", server.port);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0, "--scripts-url", &url]).ok();
    assert!(run.stderr.contains("assemble from http"), "{}", run.stderr);

    let out = Image::fresh("file-flag");
    let url = format!("file://{}", scripts.display());
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0, "-s", &url]).ok();
    assert!(run.stderr.contains("assemble from http"), "{}", run.stderr);
    assert_eq!(inspect(&out.0)["Config"]["Cmd"], serde_json::json!(["/tmp/scripts/run"]));

    // With --destination, the archive lands elsewhere and the shipped scripts with it.
    let scripts = source(&[("assemble", "#!/bin/sh\necho \"assemble at $0\"\ncat /opt/app-root/src/src/a.txt\n")]);
    std::fs::set_permissions(scripts.path().join("assemble"), std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .unwrap();
    let out = Image::fresh("destination");
    let url = format!("file://{}", scripts.path().display());
    let run =
        run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0, "-s", &url, "-d", "/opt/app-root/src"]).ok();
    assert!(run.stderr.contains("assemble at /opt/app-root/src/scripts/assemble"), "{}", run.stderr);
    assert_eq!(
        inspect(&out.0)["Config"]["Cmd"],
        serde_json::json!(["/usr/libexec/s2i/run"]),
        "run is still the image's"
    );
}

#[test]
fn source_scripts_override_image_scripts() {
    let builder = fixture("busybox-builder");
    let out = Image::fresh("s2i-bin");
    let src = source(&[
        (".s2i/bin/assemble", "#!/bin/sh\necho custom assemble\ncp -R /tmp/src/. /opt/app-root/src/\n"),
        ("app.txt", "x"),
    ]);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0]).ok();
    assert!(run.stderr.contains("custom assemble"), "{}", run.stderr);
    // The script was moved out of src/ into scripts/.
    let files = run_in(&out.0, &["find", "/tmp/src", "/tmp/scripts"]);
    assert!(files.contains("/tmp/scripts/assemble"), "{files}");
    assert!(!files.contains("/tmp/src/.s2i/bin/assemble"), "{files}");
    // run still comes from the image.
    assert_eq!(inspect(&out.0)["Config"]["Cmd"], serde_json::json!(["/usr/libexec/s2i/run"]));
}

#[test]
fn numeric_and_named_users() {
    let src = source(&[("a.txt", "a")]);

    let out = Image::fresh("named-user");
    run_s2i(["build", src.path().to_str().unwrap(), &fixture("named-user-builder"), &out.0]).ok();
    assert!(build_info(&out.0).contains("uid=1002"), "assemble ran as the image's named USER");
    assert_eq!(inspect(&out.0)["Config"]["User"], "builder");

    let out = Image::fresh("assemble-user");
    run_s2i(["build", src.path().to_str().unwrap(), &fixture("busybox-builder"), &out.0, "--assemble-user", "1005"])
        .ok();
    assert!(build_info(&out.0).contains("uid=1005"), "--assemble-user wins");
    assert_eq!(inspect(&out.0)["Config"]["User"], "1001", "the image keeps the builder's USER");

    let out = Image::fresh("root-user");
    run_s2i(["build", src.path().to_str().unwrap(), &fixture("root-builder"), &out.0]).ok();
    assert!(build_info(&out.0).contains("uid=0"));
}

#[test]
fn environment_precedence() {
    let builder = fixture("busybox-builder");
    let out = Image::fresh("env");
    let src = source(&[(".s2i/environment", "FROM_SOURCE=source\nSHARED=source\nSHARED2=source\n")]);
    let env_file = src.path().join("../env-file-".to_owned() + &unique("e"));
    std::fs::write(&env_file, "# comment\nSHARED2=file\nFROM_FILE=file\n").unwrap();
    run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &builder,
        &out.0,
        "-e",
        "SHARED=flag",
        "-e",
        "SHARED2=flag",
        "-E",
        env_file.to_str().unwrap(),
    ])
    .ok();
    std::fs::remove_file(&env_file).unwrap();
    let info = build_info(&out.0);
    for expected in ["FROM_SOURCE=source", "SHARED=flag", "SHARED2=file", "FROM_FILE=file"] {
        assert!(info.lines().any(|l| l == expected), "assemble saw {expected}: {info}");
    }
    let env = inspect(&out.0)["Config"]["Env"].clone();
    let env: Vec<String> = serde_json::from_value(env).unwrap();
    for expected in ["FROM_SOURCE=source", "SHARED=flag", "SHARED2=file", "FROM_FILE=file"] {
        assert!(env.contains(&expected.to_owned()), "the image has {expected}: {env:?}");
    }
    assert!(env.iter().any(|e| e.starts_with("PATH=")), "the image's own variables stay");
    assert_eq!(env.iter().filter(|e| e.starts_with("SHARED=")).count(), 1, "one value per name: {env:?}");
}

#[test]
fn s2iignore_and_exclude() {
    let builder = fixture("busybox-builder");
    let out = Image::fresh("ignore");
    let src = source(&[
        (".s2iignore", "# logs\n*.log\n!keep.log\nbuild\n"),
        ("a.log", "x"),
        ("keep.log", "x"),
        ("build/out.bin", "x"),
        ("sub/b.log", "nested files are not matched by *.log"),
        ("notes.tmp", "x"),
        ("app.txt", "x"),
        (".git/HEAD", "not a repo, but excluded by default"),
    ]);
    run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0, "--copy"]).ok();
    let files = run_in(&out.0, &["find", "/tmp/src", "-mindepth", "1"]);
    let files: Vec<&str> = files.lines().collect();
    for present in
        ["/tmp/src/keep.log", "/tmp/src/sub/b.log", "/tmp/src/app.txt", "/tmp/src/notes.tmp", "/tmp/src/.s2iignore"]
    {
        assert!(files.contains(&present), "{present} missing: {files:?}");
    }
    for absent in ["/tmp/src/a.log", "/tmp/src/build", "/tmp/src/.git"] {
        assert!(!files.contains(&absent), "{absent} present: {files:?}");
    }

    let out = Image::fresh("exclude");
    run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0, "--exclude", r"\.tmp$"]).ok();
    let files = run_in(&out.0, &["find", "/tmp/src", "-mindepth", "1"]);
    assert!(!files.contains("notes.tmp"), "{files}");
    assert!(files.contains("/tmp/src/.git"), "a user --exclude replaces the default: {files}");
}

fn git_repo() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let commit = |path: &str, content: &str, message: &str| {
        let full = dir.path().join(path);
        std::fs::create_dir_all(full.parent().unwrap()).unwrap();
        std::fs::write(&full, content).unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(std::path::Path::new(path)).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let sig = git2::Signature::now("Test Author", "author@example.com").unwrap();
        let parent = repo.head().ok().and_then(|h| h.peel_to_commit().ok());
        let parents: Vec<&git2::Commit<'_>> = parent.iter().collect();
        repo.commit(Some("HEAD"), &sig, &sig, message, &tree, &parents).unwrap().to_string()
    };
    let first = commit("web/index.html", "version one", "First version of the site");
    repo.tag_lightweight("v1", &repo.find_object(first.parse().unwrap(), None).unwrap(), false).unwrap();
    let second = commit("web/index.html", "version two", "Second version");
    std::fs::write(dir.path().join("web/uncommitted.txt"), "dirty").unwrap();
    (dir, first, second)
}

#[test]
fn git_sources_with_ref_and_context_dir() {
    let builder = fixture("busybox-builder");
    let (repo, first, second) = git_repo();
    let path = repo.path().to_str().unwrap();

    let out = Image::fresh("git-ref");
    run_s2i(["build", path, &builder, &out.0, "--ref", "v1", "--context-dir", "web"]).ok();
    assert_eq!(run_in(&out.0, &["cat", "/opt/app-root/src/index.html"]), "version one");
    let files = run_in(&out.0, &["ls", "-A", "/tmp/src"]);
    assert!(!files.contains("uncommitted.txt"), "a git source builds the commit, not the working copy: {files}");
    let labels = support::labels(&out.0);
    assert_eq!(labels["io.openshift.s2i.build.commit.id"], first.as_str());
    assert_eq!(labels["io.openshift.s2i.build.commit.ref"], "HEAD");
    assert_eq!(labels["io.openshift.s2i.build.commit.message"], "First version of the site");
    assert_eq!(labels["io.openshift.s2i.build.commit.author"], "Test Author <author@example.com>");
    assert_eq!(labels["io.openshift.s2i.build.source-context-dir"], "web");
    assert!(labels.contains_key("io.openshift.s2i.build.commit.date"));

    // A file:// URL with a #ref fragment, without --ref.
    let out = Image::fresh("git-url");
    let url = format!("file://{path}#v1");
    run_s2i(["build", &url, &builder, &out.0, "--context-dir", "web"]).ok();
    assert_eq!(run_in(&out.0, &["cat", "/opt/app-root/src/index.html"]), "version one", "the #ref is honoured");

    // HEAD of the default branch, and --copy for the working copy.
    let out = Image::fresh("git-head");
    run_s2i(["build", path, &builder, &out.0, "--context-dir", "web"]).ok();
    assert_eq!(labels_of(&out.0, "io.openshift.s2i.build.commit.id"), second);
    let out = Image::fresh("git-copy");
    run_s2i(["build", path, &builder, &out.0, "--context-dir", "web", "--copy"]).ok();
    assert_eq!(run_in(&out.0, &["cat", "/opt/app-root/src/uncommitted.txt"]), "dirty");
    assert!(!support::labels(&out.0).contains_key("io.openshift.s2i.build.commit.id"));
}

fn labels_of(image: &str, key: &str) -> String {
    labels(image)[key].as_str().unwrap().to_owned()
}

#[test]
fn builders_with_an_entrypoint_still_run_assemble() {
    let builder = fixture("entrypoint-builder");
    let out = Image::fresh("entrypoint");
    let src = source(&[("a.txt", "a")]);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0]).ok();
    assert!(run.stderr.contains("---> Installing application source"), "assemble ran: {}", run.stderr);
    let config = &inspect(&out.0)["Config"];
    assert_eq!(config["Entrypoint"], serde_json::json!(["/usr/libexec/s2i/entrypoint"]), "the entrypoint is kept");
    assert_eq!(config["Cmd"], serde_json::json!(["/usr/libexec/s2i/run"]));
    // Running the image goes through the entrypoint into the run script.
    let listing = docker_run_ok(&["-e", "RUN_FILE=a.txt", &out.0]);
    assert_eq!(listing, "a");
}

#[test]
fn usage_runs_the_usage_script_and_leaves_nothing() {
    // No other test makes untagged images from this fixture, so a dangling image
    // whose parent it is would come from this run.
    let builder = Builder::alias("named-user-builder");
    // Docker writes IDs as sha256:HEX, Podman's Parent as bare HEX.
    let bare = |id: &str| id.trim_start_matches("sha256:").to_owned();
    let parent = bare(inspect(&builder.image)["Id"].as_str().unwrap());
    let children = || -> Vec<String> {
        list_images(&["--filter", "dangling=true"])
            .into_iter()
            // An image removed meanwhile (by a test running in parallel) is not this run's.
            .filter(|id| {
                let out = docker(&["image", "inspect", "--format", "{{.Parent}}", id]);
                out.status.success() && bare(String::from_utf8_lossy(&out.stdout).trim()) == parent
            })
            .collect()
    };
    let before = children();
    let run = run_s2i(["usage", &builder.image]).ok();
    assert!(run.stdout.contains("a busybox S2I builder image for tests"), "{}", run.stdout);
    builder.assert_no_containers();
    assert_eq!(children(), before, "usage must not leave a dangling image");
}

#[test]
fn version_and_completion() {
    let run = run_s2i(["version"]).ok();
    assert!(run.stdout.starts_with("s2i v"), "{}", run.stdout);
    for shell in ["bash", "zsh", "fish"] {
        let run = run_s2i(["completion", shell]).ok();
        assert!(run.stdout.contains("s2i"), "{shell}");
    }
    run_s2i(["completion", "tcsh"]).failed();
}
