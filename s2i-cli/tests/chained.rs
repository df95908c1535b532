//! Chained builds: a toolchain builder, then a slim runtime image that gets
//! only the built artifacts — in one invocation (`--runtime-image`) or two
//! (`--source-image`).

mod support;

use support::*;

fn app_source() -> tempfile::TempDir {
    source(&[
        ("01-lib.sh", "greet() { echo \"hello from $1\"; }\n"),
        ("02-main.sh", "greet \"the compiled app\"\ncat /opt/runtime/build-info.txt\n"),
    ])
}

fn size(image: &str) -> u64 {
    inspect(image)["Size"].as_u64().unwrap()
}

#[test]
fn the_runtime_image_gets_only_the_artifacts() {
    let toolchain = fixture("toolchain-builder");
    let runtime = fixture("runtime-image");
    let src = app_source();
    let out = Image::fresh("chained");
    let run = run_s2i(["build", src.path().to_str().unwrap(), &toolchain, &out.0, "--runtime-image", &runtime]).ok();
    assert!(run.stderr.contains("---> Runtime received: ./bin/app ./build-info.txt"), "{}", run.stderr);

    let output = docker_run_ok(&[&out.0]);
    assert!(output.starts_with("hello from the compiled app\ncompiler=shc 1.0\n"), "{output}");
    assert!(!succeeds_in(&out.0, &["test", "-e", "/opt/toolchain"]), "no toolchain files");
    assert!(!succeeds_in(&out.0, &["test", "-e", "/opt/app"]), "nothing else of the builder");
    assert!(size(&out.0) < size(&toolchain), "{} < {}", size(&out.0), size(&toolchain));
    // The compiler made the app owner-only executable (0700); the owner's bit decides.
    assert_eq!(run_in(&out.0, &["stat", "-c", "%a", "/opt/runtime/bin/app"]).trim(), "755");
    let config = &inspect(&out.0)["Config"];
    assert_eq!(config["Cmd"], serde_json::json!(["/usr/libexec/s2i/run"]), "the runtime image's run");
    assert_eq!(config["User"], "1001");
    let labels = labels(&out.0);
    assert_eq!(labels["io.s2i.test/compiled-by"], "shc 1.0", "labels from the builder's image_metadata.json");
    assert_eq!(labels["io.openshift.s2i.build.image"], "docker.io/s2i-fixtures/toolchain-builder:latest");
    assert_eq!(labels["io.k8s.description"], "s2i test runtime image: runs a compiled application from /opt/runtime");
}

#[test]
fn runtime_artifact_flags_override_the_label() {
    let toolchain = fixture("toolchain-builder");
    let runtime = fixture("runtime-image");
    let src = app_source();
    let out = Image::fresh("chained-a");
    // Without bin/app, the runtime image's assemble-runtime refuses: copy both, elsewhere.
    run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &toolchain,
        &out.0,
        "--runtime-image",
        &runtime,
        "-a",
        "/opt/app/bin:.",
        "-a",
        "/opt/app/build-info.txt:meta/info",
    ])
    .ok();
    let files = run_in(&out.0, &["find", "/opt/runtime", "-type", "f"]);
    let mut files: Vec<&str> = files.lines().collect();
    files.sort();
    assert_eq!(
        files,
        ["/opt/runtime/bin/app", "/opt/runtime/meta/info/build-info.txt", "/opt/runtime/runtime-info.txt"]
    );

    for (value, needle) in [
        ("relative/path", "source must be an absolute path"),
        ("/opt/app/bin:/abs", "destination must be a relative path"),
        ("/opt/app/bin:../up", "destination cannot start with '..'"),
    ] {
        let run =
            run_s2i(["build", src.path().to_str().unwrap(), &toolchain, "--runtime-image", &runtime, "-a", value])
                .failed();
        assert!(run.stderr.contains(needle), "{value}: {}", run.stderr);
    }
    let run = run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &toolchain,
        "--runtime-image",
        &runtime,
        "-a",
        "/opt/app/missing",
    ])
    .failed();
    assert!(run.stderr.contains("it does not exist in the builder container after assemble"), "{}", run.stderr);
}

#[test]
fn runtime_images_are_checked_before_any_container() {
    let toolchain = Builder::alias("toolchain-builder");
    let src = app_source();
    let root_runtime = fixture("root-builder");
    let run = run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &toolchain.image,
        "--runtime-image",
        &root_runtime,
        "-a",
        "/opt/app/bin",
        "--allowed-uids",
        "1-",
    ])
    .failed();
    assert_eq!(run.code, 15, "{}", run.stderr);
    assert!(run.stderr.contains("must specify a user that is numeric"), "{}", run.stderr);

    let missing = format!("s2i-test/{}:missing", unique("runtime"));
    let run = run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &toolchain.image,
        "--runtime-image",
        &missing,
        "--runtime-pull-policy",
        "never",
    ])
    .failed();
    assert!(run.stderr.contains("unable to get metadata for"), "the runtime image error comes at once: {}", run.stderr);
    assert!(!run.stderr.contains("Compiling"), "before assemble: {}", run.stderr);

    let no_label = fixture("busybox-builder");
    let run = run_s2i(["build", src.path().to_str().unwrap(), &toolchain.image, "--runtime-image", &no_label]).failed();
    assert!(run.stderr.contains("no runtime artifacts to copy were specified"), "{}", run.stderr);
    toolchain.assert_no_containers();
}

#[test]
fn incremental_chained_builds_reuse_the_builder_stage() {
    let toolchain = fixture("toolchain-builder");
    let runtime = fixture("runtime-image");
    let src = app_source();
    let out = Image::fresh("chained-incremental");
    let stage = Image(format!("{}-builder", out.0));
    let path = src.path().to_str().unwrap();
    run_s2i(["build", path, &toolchain, &out.0, "--runtime-image", &runtime, "--incremental"]).ok();
    assert!(docker(&["image", "inspect", &stage.0]).status.success(), "the builder stage is kept as {}", stage.0);
    stage.remember();
    let first_stage = inspect(&stage.0)["Id"].as_str().unwrap().to_owned();
    let run = run_s2i(["build", path, &toolchain, &out.0, "--runtime-image", &runtime, "--incremental", "--rm"]).ok();
    assert!(run.stderr.contains("Reusing the compile cache of the previous build"), "{}", run.stderr);
    assert!(docker_run_ok(&[&out.0]).contains("incremental=yes"));
    assert!(!docker(&["image", "inspect", &first_stage]).status.success(), "--rm removed the previous stage");
}

#[test]
fn two_invocations_with_source_image() {
    let toolchain = fixture("toolchain-builder");
    let runtime = fixture("runtime-image");
    let src = app_source();
    let artifact = Image::fresh("artifact");
    run_s2i(["build", src.path().to_str().unwrap(), &toolchain, &artifact.0]).ok();
    let app = Image::fresh("pipeline-app");
    let bin = format!("{}:/opt/app/bin", artifact.0);
    let info = format!("{}:/opt/app/build-info.txt", artifact.0);
    let run = run_s2i(["build", "", &runtime, &app.0, "--source-image", &bin, "--source-image", &info]).ok();
    assert!(run.stderr.contains("---> Installed ./bin/app ./build-info.txt"), "{}", run.stderr);
    assert!(docker_run_ok(&[&app.0]).starts_with("hello from the compiled app\n"));
    assert!(!succeeds_in(&app.0, &["test", "-e", "/opt/toolchain"]));
    assert!(size(&app.0) < size(&toolchain));

    // A destination directory, and a source tree around it.
    let around = source(&[("README", "docs")]);
    let app2 = Image::fresh("pipeline-app2");
    let bin = format!("{}:/opt/app/bin:.", artifact.0);
    let info = format!("{}:/opt/app/build-info.txt:meta", artifact.0);
    run_s2i([
        "build",
        around.path().to_str().unwrap(),
        &runtime,
        &app2.0,
        "--source-image",
        &bin,
        "--source-image",
        &info,
    ])
    .ok();
    assert_eq!(run_in(&app2.0, &["cat", "/opt/runtime/README"]), "docs");
    assert!(run_in(&app2.0, &["cat", "/opt/runtime/meta/build-info.txt"]).contains("compiler=shc"));

    let run = run_s2i(["build", "", &runtime, "--source-image", &format!("{}:/opt/nothing", artifact.0)]).failed();
    assert!(run.stderr.contains("there is no such path in the image"), "{}", run.stderr);
    let run = run_s2i(["build", "", &runtime, "--source-image", "no-path-here"]).failed();
    assert!(run.stderr.contains("has no :/PATH"), "{}", run.stderr);
}
