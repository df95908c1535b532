//! Incremental builds against the real engine: artifacts flow from the
//! previous image into the new build, hostile artifacts are dropped, and every
//! failure falls back to a clean build.

mod support;

use support::*;

#[test]
fn artifacts_of_the_previous_image_are_restored_and_rm_removes_it() {
    let builder = fixture("busybox-builder");
    let out = Image::fresh("incremental");
    let src = source(&[("index.html", "v1"), ("artifacts/deps/lib.txt", "downloaded once")]);
    let path = src.path().to_str().unwrap();
    run_s2i(["build", path, &builder, &out.0]).ok();
    let first = inspect(&out.0)["Id"].as_str().unwrap().to_owned();

    // The second build's source has no artifacts directory: they come from the previous image.
    std::fs::remove_dir_all(src.path().join("artifacts")).unwrap();
    let run = run_s2i(["build", path, &builder, &out.0, "--incremental", "--rm"]).ok();
    assert!(run.stderr.contains("Restoring build artifacts"), "{}", run.stderr);
    assert_eq!(run_in(&out.0, &["cat", "/opt/app-root/artifacts-restored/deps/lib.txt"]), "downloaded once");
    assert!(!docker(&["image", "inspect", &first]).status.success(), "--rm removed the previous image");
}

#[test]
fn a_missing_previous_image_or_save_artifacts_means_a_clean_build() {
    let builder = fixture("busybox-builder");
    let out = Image::fresh("incremental-new");
    let src = source(&[("a.txt", "a")]);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0, "--incremental"]).ok();
    assert!(run.stderr.contains("Clean build will be performed"), "{}", run.stderr);

    // A save-artifacts that fails: warned, then a clean build.
    let src = source(&[("a.txt", "a"), (".s2i/bin/save-artifacts", "#!/bin/sh\necho broken >&2\nexit 3\n")]);
    let out = Image::fresh("incremental-broken");
    run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0]).ok();
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0, "--incremental"]).ok();
    assert!(run.stderr.contains("Clean build will be performed"), "{}", run.stderr);
    assert!(run.stderr.contains("save-artifacts exited with code 3"), "{}", run.stderr);
    assert!(!run.stderr.contains("Restoring build artifacts"), "{}", run.stderr);
}

/// A tar with entries that try to land outside `artifacts/`.
fn hostile_tar() -> Vec<u8> {
    let mut out = tar::Builder::new(Vec::new());
    let mut add = |path: &str, kind: tar::EntryType, link: Option<&str>, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        let name = &mut h.as_ustar_mut().unwrap().name;
        name[..path.len()].copy_from_slice(path.as_bytes());
        if let Some(link) = link {
            h.set_link_name_literal(link).unwrap();
        }
        h.set_cksum();
        out.append(&h, data).unwrap();
    };
    add("safe.txt", tar::EntryType::Regular, None, b"safe");
    add("../../escaped.txt", tar::EntryType::Regular, None, b"escaped");
    add("/tmp/absolute.txt", tar::EntryType::Regular, None, b"absolute");
    add("sub/../../up.txt", tar::EntryType::Regular, None, b"up");
    add("null-device", tar::EntryType::Char, None, b"");
    add("pipe", tar::EntryType::Fifo, None, b"");
    add("passwd-link", tar::EntryType::Symlink, Some("/etc/passwd"), b"");
    add("climb-link", tar::EntryType::Symlink, Some("../../../etc"), b"");
    add("safe-link", tar::EntryType::Symlink, Some("safe.txt"), b"");
    add("safe.txt", tar::EntryType::Regular, None, b"overwritten");
    let mut data = out.into_inner().unwrap();
    data.extend_from_slice(&[0u8; 8192]);
    data
}

#[test]
fn hostile_save_artifacts_cannot_write_outside_artifacts() {
    use base64::Engine as _;
    let builder = fixture("busybox-builder");
    let encoded = base64::engine::general_purpose::STANDARD.encode(hostile_tar());
    let save = format!("#!/bin/sh\nbase64 -d <<'EOF'\n{encoded}\nEOF\n");
    let assemble = "#!/bin/sh\nset -e\ncp -R /tmp/src/. /opt/app-root/src/\nif [ -d /tmp/artifacts ]; then cp -R /tmp/artifacts /opt/app-root/artifacts-copy; fi\n";
    let src = source(&[("a.txt", "a"), (".s2i/bin/save-artifacts", &save), (".s2i/bin/assemble", assemble)]);
    let out = Image::fresh("hostile");
    let path = src.path().to_str().unwrap();
    run_s2i(["build", path, &builder, &out.0]).ok();
    let run = run_s2i(["build", path, &builder, &out.0, "--incremental"]).ok();
    for dropped in [
        "../../escaped.txt",
        "/tmp/absolute.txt",
        "sub/../../up.txt",
        "null-device",
        "pipe",
        "passwd-link",
        "climb-link",
    ] {
        assert!(
            run.stderr.contains(&format!("Dropped artifact {dropped:?}")),
            "{dropped} is reported:\n{}",
            run.stderr
        );
    }
    let listing = run_in(&out.0, &["find", "/opt/app-root/artifacts-copy"]);
    let mut files: Vec<&str> = listing.lines().collect();
    files.sort();
    assert_eq!(
        files,
        [
            "/opt/app-root/artifacts-copy",
            "/opt/app-root/artifacts-copy/safe-link",
            "/opt/app-root/artifacts-copy/safe.txt"
        ]
    );
    assert_eq!(run_in(&out.0, &["cat", "/opt/app-root/artifacts-copy/safe.txt"]), "safe", "no overwrite");
    let escaped = docker_ok(&[
        "run",
        "--rm",
        "-u",
        "0",
        &out.0,
        "find",
        "/",
        "-xdev",
        "-name",
        "escaped.txt",
        "-o",
        "-name",
        "absolute.txt",
        "-o",
        "-name",
        "up.txt",
    ]);
    assert_eq!(escaped.trim(), "", "nothing landed outside artifacts/");
}

#[test]
fn a_stalled_save_artifacts_does_not_hang_the_build() {
    use std::sync::Arc;
    require_engine();
    let builder = fixture("busybox-builder");
    let src = source(&[("a.txt", "a"), (".s2i/bin/save-artifacts", "#!/bin/sh\nprintf x\nsleep 600\n")]);
    let out = Image::fresh("stalled");
    run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0]).ok();

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let warnings = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = warnings.clone();
    let started = std::time::Instant::now();
    let result = runtime.block_on(async {
        let docker = s2i_docker::DockerRuntime::connect(&s2i_docker::ConnectOptions::from_env()).await.unwrap();
        let events = Arc::new(move |e: s2i_core::BuildEvent| {
            if let s2i_core::BuildEvent::Message { text, .. } = e {
                seen.lock().unwrap().push(text);
            }
        });
        let engine = s2i_core::Engine::new(Arc::new(docker), events);
        let mut options = s2i_core::BuildOptions::new(Some(src.path().display().to_string()), builder.clone());
        options.tag = Some(out.0.clone());
        options.incremental = true;
        options.artifacts_timeout = std::time::Duration::from_secs(2);
        engine.build(&options, &s2i_core::CancellationToken::new()).await
    });
    result.expect("the build goes on clean");
    assert!(started.elapsed() < std::time::Duration::from_secs(60), "took {:?}", started.elapsed());
    let warnings = warnings.lock().unwrap().join("\n");
    assert!(warnings.contains("save-artifacts sent nothing for 2 s"), "{warnings}");
}
