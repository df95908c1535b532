//! Builds that fail: clear errors, non-zero exits, nothing left behind.

mod support;

use support::*;

#[test]
fn missing_assemble_script() {
    let builder = Builder::alias("http-scripts-builder");
    // No server on the label's port is needed: point at an empty directory instead.
    let empty = tempfile::tempdir().unwrap();
    let src = source(&[("a.txt", "a")]);
    let url = format!("file://{}", empty.path().display());
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder.image, "--scripts-url", &url]).failed();
    assert!(run.stderr.contains("could not download any scripts from URL"), "{}", run.stderr);

    let builder = Builder::alias("base");
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder.image]).failed();
    assert_eq!(run.code, 11, "{}", run.stderr);
    assert!(run.stderr.contains("failed to install [assemble run]"), "{}", run.stderr);
    assert!(
        run.stderr.contains("assemble: source .s2i/bin/assemble: not found"),
        "every place is named: {}",
        run.stderr
    );
    assert!(run.stderr.contains("io.openshift.s2i.scripts-url: not set"), "{}", run.stderr);
    builder.assert_no_containers();
}

#[test]
fn assemble_exit_code_is_reported() {
    let builder = Builder::alias("busybox-builder");
    let src = source(&[("a.txt", "a")]);
    let out = Image::fresh("never-made");
    let run =
        run_s2i(["build", src.path().to_str().unwrap(), &builder.image, &out.0, "-e", "ASSEMBLE_EXIT_CODE=3"]).failed();
    assert!(run.stderr.contains("non-zero (3) exit code"), "the real exit code is named: {}", run.stderr);
    assert!(run.stderr.contains("Exiting with ASSEMBLE_EXIT_CODE=3"), "the last lines are shown: {}", run.stderr);
    builder.assert_no_containers();
    assert!(!docker(&["image", "inspect", &out.0]).status.success(), "no image is committed");
}

#[test]
fn unknown_builder_with_pull_policy_never() {
    require_engine();
    let src = source(&[("a.txt", "a")]);
    let name = format!("s2i-test/{}:missing", unique("nope"));
    let run = run_s2i(["build", src.path().to_str().unwrap(), &name, "--pull-policy", "never"]).failed();
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("unable to get metadata for"), "{}", run.stderr);
    assert!(run.stderr.contains("pull policy is never"), "{}", run.stderr);
    let sanitized: String =
        name.trim_end_matches(":missing").chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect();
    let left = docker_ok(&["ps", "-a", "--filter", &format!("name=s2i_{sanitized}"), "--format", "{{.Names}}"]);
    assert!(left.trim().is_empty(), "{left}");
}

#[test]
fn unreachable_engine_says_how_to_start_one() {
    let src = source(&[("a.txt", "a")]);
    let started = std::time::Instant::now();
    let run =
        run_s2i(["-U", "unix:///nonexistent/docker.sock", "build", src.path().to_str().unwrap(), "x/builder"]).failed();
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "fails fast");
    assert!(run.stderr.contains("/nonexistent/docker.sock"), "{}", run.stderr);
    assert!(run.stderr.contains("dockerd"), "the help says how to start an engine: {}", run.stderr);

    let run = s2i()
        .env("DOCKER_HOST", "tcp://127.0.0.1:9")
        .args(["build", src.path().to_str().unwrap(), "x/builder"])
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("127.0.0.1:9"));
}

#[test]
fn bad_options_fail_before_any_container() {
    let builder = Builder::alias("busybox-builder");
    let src = source(&[("a.txt", "a")]);
    let path = src.path().to_str().unwrap();
    for (args, needle) in [
        (vec!["-e", "NOEQUALS"], "has no '='"),
        (vec!["--pull-policy", "sometimes"], "valid values are: always, never or if-not-present"),
        (vec!["--destination", "relative/dir"], "is not an absolute path"),
        (vec!["--exclude", "("], "is not a regular expression"),
        (vec!["--context-dir", "missing"], "is not a directory of the source"),
        (vec!["--ref", "main"], "is not a git repository"),
    ] {
        let mut all = vec!["build", path, builder.image.as_str()];
        all.extend(args.iter().copied());
        let run = run_s2i(&all).failed();
        assert!(run.stderr.contains(needle), "{args:?}: {}", run.stderr);
    }
    let run = run_s2i(["build", path, &builder.image, "Bad:Tag"]).failed();
    assert!(run.stderr.contains("invalid tag"), "{}", run.stderr);
    let run = run_s2i(["build", "/does/not/exist", &builder.image]).failed();
    assert!(run.stderr.contains("/does/not/exist"), "{}", run.stderr);
    let run = run_s2i(["build", "https://127.0.0.1:9/repo.git", &builder.image]).failed();
    assert!(run.stderr.contains("cannot clone https://127.0.0.1:9/repo.git"), "{}", run.stderr);
    builder.assert_no_containers();
}

#[test]
fn ctrl_c_and_sigterm_remove_the_build_container() {
    for (signal, code) in [("INT", 130), ("TERM", 143)] {
        let builder = Builder::alias("busybox-builder");
        let src = source(&[(".s2i/bin/assemble", "#!/bin/sh\necho assemble-started >&2\nsleep 60\n")]);
        let (exit, stderr) =
            interrupt_when(&["build", src.path().to_str().unwrap(), &builder.image], "assemble-started", signal);
        assert_eq!(exit, code, "{signal}: {stderr}");
        assert!(stderr.contains("cancelled"), "{stderr}");
        builder.assert_no_containers();
    }
}

#[test]
fn the_harness_sees_a_container_fail() {
    let base = fixture("base");
    assert!(succeeds_in(&base, &["true"]));
    assert!(!succeeds_in(&base, &["sh", "-c", "exit 3"]), "a failing command fails, on every engine");
    let out = docker_run(&[&base, "sh", "-c", "exit 3"]);
    assert_eq!(out.status.code(), Some(3));
}

#[test]
fn hints_name_the_engines_own_commands() {
    require_engine();
    let builder = Builder::alias("busybox-builder");
    let src = source(&[("a.txt", "a")]);
    let path = src.path().to_str().unwrap();
    // The library says what is wrong; the command line says what to type, for Docker or Podman.
    let run = run_s2i(["build", path, &builder.image, "--network", "s2i-no-such-network"]).failed();
    let stderr = flat(&run.stderr);
    assert!(stderr.contains("invalid --network: network s2i-no-such-network not found"), "{stderr}");
    assert!(stderr.contains(" network create s2i-no-such-network`"), "{stderr}");
    let missing = format!("s2i-test/{}:missing", unique("nope"));
    let run = run_s2i(["build", path, &missing, "--pull-policy", "never"]).failed();
    let stderr = flat(&run.stderr);
    assert!(stderr.contains(" images` lists what the engine has"), "{stderr}");
    builder.assert_no_containers();
}
