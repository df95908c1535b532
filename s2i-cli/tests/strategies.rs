//! Builders that need another strategy: no tar, no /bin/sh, ONBUILD; the
//! Dockerfile output; rebuild; and `s2i create`.

mod support;

use support::*;

#[test]
fn builders_without_tar_get_the_source_from_the_engine() {
    let builder = fixture("no-tar-builder");
    let out = Image::fresh("no-tar");
    let src = source(&[("index.html", "hello"), ("sub/x.txt", "x")]);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0]).ok();
    assert!(run.stderr.contains("has no tar"), "{}", run.stderr);
    assert_eq!(docker_run_ok(&[&out.0]), "assembled by 1001 without tar\n");
    // The engine unpacked the source owned by the assemble user.
    let owner = docker_run_ok(&["--entrypoint", "/bin/busybox", &out.0, "stat", "-c", "%u", "/tmp/src/sub/x.txt"]);
    assert_eq!(owner.trim(), "1001");
    assert_eq!(labels(&out.0)["io.openshift.s2i.build.image"], "docker.io/s2i-fixtures/no-tar-builder:latest");
}

#[test]
fn builders_without_a_shell_still_build() {
    let builder = fixture("no-shell-builder");
    let out = Image::fresh("no-shell");
    let src = source(&[("index.html", "hello")]);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0]).ok();
    assert!(run.stderr.contains("has no /bin/sh"), "{}", run.stderr);
    assert_eq!(docker_run_ok(&[&out.0]), "assembled by 1001 without a shell\n");

    let secret = source(&[("token", "t")]);
    let inject = format!("{}:/tmp/secret", secret.path().display());
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, "-i", &inject]).failed();
    assert!(run.stderr.contains("has no /bin/sh"), "{}", run.stderr);
}

#[test]
fn onbuild_builders_are_built_from() {
    let builder = fixture("onbuild-builder");
    let out = Image::fresh("onbuild");
    let src = source(&[("run.sh", "#!/bin/sh\necho \"app says: $(cat /opt/app-root/onbuild.txt) with $GREETING\"\n")]);
    run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0, "-e", "GREETING=hi"]).ok();
    assert_eq!(docker_run_ok(&[&out.0]), "app says: onbuild trigger ran with hi\n");
    let labels = labels(&out.0);
    assert_eq!(labels["io.openshift.s2i.build.image"], "docker.io/s2i-fixtures/onbuild-builder:latest");
    assert_eq!(labels["io.openshift.s2i.build.source-location"], src.path().to_str().unwrap());

    // Incremental: a warning, and a clean build, as the reference and OpenShift do.
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0, "--incremental"]).ok();
    assert!(
        run.stderr.contains("incremental builds are not supported for ONBUILD builder images; building clean"),
        "{}",
        run.stderr
    );
    assert_eq!(docker_run_ok(&[&out.0]), "app says: onbuild trigger ran with \n");

    // No entrypoint candidate: a clear error.
    let empty = source(&[("readme.txt", "no run script")]);
    let run = run_s2i(["build", empty.path().to_str().unwrap(), &builder]).failed();
    assert!(run.stderr.contains("no valid entrypoint specified"), "{}", run.stderr);
}

#[test]
fn rebuild_works_for_every_strategy() {
    for (fixture_name, files) in [
        ("busybox-builder", vec![("index.html", "v1")]),
        ("no-tar-builder", vec![("index.html", "v1")]),
        ("onbuild-builder", vec![("run.sh", "#!/bin/sh\necho rebuilt\n")]),
    ] {
        let builder = fixture(fixture_name);
        let out = Image::fresh("rebuild-src");
        let again = Image::fresh("rebuild-out");
        let src = source(&files);
        run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0]).ok();
        let run = run_s2i(["rebuild", &out.0, &again.0]).ok();
        assert!(run.stderr.contains("Build completed successfully"), "{fixture_name}: {}", run.stderr);
        let labels = labels(&again.0);
        assert_eq!(
            labels["io.openshift.s2i.build.image"],
            format!("docker.io/s2i-fixtures/{fixture_name}:latest"),
            "{fixture_name}"
        );
    }
    let run = run_s2i(["rebuild", &fixture("base")]).failed();
    assert!(run.stderr.contains("required label \"io.openshift.s2i.build.image\" not found"), "{}", run.stderr);
}

#[test]
fn as_dockerfile_builds_the_same_image_with_docker_build() {
    let builder = fixture("busybox-builder");
    let src = source(&[("index.html", "from a dockerfile"), (".s2i/environment", "FROM_FILE=yes\n")]);
    let out = tempfile::tempdir().unwrap();
    let dockerfile = out.path().join("ctx/Dockerfile");
    let args = |path: &std::path::Path| {
        vec![
            "build".to_owned(),
            src.path().display().to_string(),
            builder.clone(),
            "s2i-test/dockerfile".to_owned(),
            "--as-dockerfile".to_owned(),
            path.display().to_string(),
            "-e".to_owned(),
            "Z_VAR=z".to_owned(),
            "-e".to_owned(),
            "A_VAR=a".to_owned(),
            "--description".to_owned(),
            "made by a Dockerfile".to_owned(),
        ]
    };
    let run = run_s2i(args(&dockerfile)).ok();
    assert!(run.stderr.contains("Application dockerfile generated in"), "{}", run.stderr);
    let first = std::fs::read(&dockerfile).unwrap();
    run_s2i(args(&dockerfile)).ok();
    assert_eq!(std::fs::read(&dockerfile).unwrap(), first, "the same bytes on every run");
    let text = String::from_utf8(first).unwrap();
    assert!(text.contains("ENV A_VAR=\"a\" \\\n    FROM_FILE=\"yes\" \\\n    Z_VAR=\"z\""), "sorted env:\n{text}");

    let image = Image::fresh("dockerfile-built");
    let built = std::process::Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", &image.0])
        .arg(out.path().join("ctx"))
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    assert_eq!(run_in(&image.0, &["cat", "/opt/app-root/src/index.html"]), "from a dockerfile");
    assert!(docker_run_ok(&[&image.0]).contains("index.html"), "CMD is the run script");
    assert_eq!(labels(&image.0)["io.k8s.description"], "made by a Dockerfile");
}

#[test]
fn as_dockerfile_incremental_and_injections() {
    let builder = fixture("busybox-builder");
    let previous = Image::fresh("dockerfile-prev");
    let src = source(&[("index.html", "v2"), ("artifacts/cache.txt", "cached")]);
    run_s2i(["build", src.path().to_str().unwrap(), &builder, &previous.0]).ok();
    std::fs::remove_dir_all(src.path().join("artifacts")).unwrap();
    let secret = source(&[("token", "s3cret")]);
    let out = tempfile::tempdir().unwrap();
    let inject = format!("{}:/tmp/secret", secret.path().display());
    let dockerfile = out.path().join("Dockerfile");
    let run = run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &builder,
        &previous.0,
        "--incremental",
        "--as-dockerfile",
        dockerfile.to_str().unwrap(),
        "-i",
        &inject,
    ])
    .ok();
    assert!(run.stderr.contains("cannot keep injected files out of the image's layers"), "{}", run.stderr);
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    assert!(text.starts_with(&format!("FROM {} as cached\n", previous.0)), "{text}");
    assert!(text.contains("RUN rm /tmp/secret/token"), "{text}");
    let image = Image::fresh("dockerfile-incremental");
    let built = std::process::Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", &image.0])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    assert_eq!(run_in(&image.0, &["cat", "/opt/app-root/artifacts-restored/cache.txt"]), "cached");
    assert!(!succeeds_in(&image.0, &["test", "-e", "/tmp/secret/token"]));
}

#[test]
fn generate_writes_a_dockerfile_for_a_builder() {
    let out = tempfile::tempdir().unwrap();
    let dockerfile = out.path().join("Dockerfile");
    run_s2i(["generate", "example/builder", dockerfile.to_str().unwrap(), "-e", "A=1", "--assemble-user", "2000"]).ok();
    let text = std::fs::read_to_string(&dockerfile).unwrap();
    assert!(text.starts_with("FROM example/builder\n"), "{text}");
    assert!(text.contains("COPY --chown=2000:0 upload/src /tmp/src"), "{text}");
    assert!(text.contains("USER 2000"), "{text}");
    assert!(text.contains("RUN /usr/libexec/s2i/assemble"), "{text}");
}

#[test]
fn create_makes_a_builder_project_whose_test_passes() {
    let base = fixture("base");
    let dir = tempfile::tempdir().unwrap();
    let project = dir.path().join("site-builder");
    let image = Image(format!("s2i-test/{}:latest", unique("created-builder")));
    run_s2i(["create", &image.0, project.to_str().unwrap(), "--from", &base]).ok();
    for file in [
        "Dockerfile",
        "Makefile",
        "README.md",
        "s2i/bin/assemble",
        "s2i/bin/run",
        "s2i/bin/save-artifacts",
        "s2i/bin/usage",
        "test/run",
        "test/test-app/index.html",
    ] {
        assert!(project.join(file).is_file(), "{file}");
    }
    let built = std::process::Command::new("docker")
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "-q", "-t", &image.0])
        .arg(&project)
        .output()
        .unwrap();
    assert!(built.status.success(), "{}", String::from_utf8_lossy(&built.stderr));
    let bin_dir = std::path::Path::new(env!("CARGO_BIN_EXE_s2i")).parent().unwrap().to_owned();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let test = std::process::Command::new("sh")
        .arg(project.join("test/run"))
        .env("IMAGE_NAME", &image.0)
        .env("PATH", path)
        .env("S2I_NO_PROGRESS", "1")
        .output()
        .unwrap();
    let output = format!("{}{}", String::from_utf8_lossy(&test.stdout), String::from_utf8_lossy(&test.stderr));
    assert!(test.status.success(), "test/run failed:\n{output}");
    assert!(output.contains("test/run: PASSED"), "{output}");

    let run = run_s2i(["create", &image.0, project.to_str().unwrap()]).failed();
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
}
