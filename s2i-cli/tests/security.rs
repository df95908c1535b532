//! Users, capabilities, networks, mounts, injections and secrets.

mod support;

use support::*;

#[test]
fn allowed_uids_are_checked_before_any_container() {
    let src = source(&[("a.txt", "a")]);
    let path = src.path().to_str().unwrap();

    let root = Builder::alias("root-builder");
    let run = run_s2i(["build", path, &root.image, "--allowed-uids", "1-"]).failed();
    assert_eq!(run.code, 15, "{}", run.stderr);
    assert!(
        run.stderr.contains("must specify a user that is numeric and within the range of allowed users"),
        "{}",
        run.stderr
    );
    root.assert_no_containers();

    let named = Builder::alias("named-user-builder");
    let run = run_s2i(["build", path, &named.image, "-u", "1000-2000"]).failed();
    assert_eq!(run.code, 15, "a named USER is not allowed: {}", run.stderr);
    named.assert_no_containers();

    let run = run_s2i(["build", path, &root.image, "-u", "1-", "--assemble-user", "0"]).failed();
    assert_eq!(run.code, 15);
    assert!(
        run.stderr.contains("assemble user must be numeric and within the range of allowed users"),
        "{}",
        run.stderr
    );

    let out = Image::fresh("allowed");
    run_s2i(["build", path, &root.image, &out.0, "-u", "1-", "--assemble-user", "1234"]).ok();
    assert!(run_in(&out.0, &["cat", "/opt/app-root/src/.s2i-build-info"]).contains("uid=1234"));

    let run = run_s2i(["build", path, &root.image, "-u", "5-3"]).failed();
    assert!(run.stderr.contains("upper bound must be greater than or equal to the lower bound"), "{}", run.stderr);
    root.assert_no_containers();
}

#[test]
fn network_add_host_volume_and_cap_drop_reach_the_build_container() {
    let builder = Builder::alias("root-builder");
    let mount = tempfile::tempdir().unwrap();
    std::fs::write(mount.path().join("cached.txt"), "from the host").unwrap();
    let assemble = "#!/bin/sh\nset -e\ncp -R /tmp/src/. /opt/app-root/src/\n\
        grep registry.local /etc/hosts > /opt/app-root/src/hosts\n\
        cat /opt/cache/cached.txt > /opt/app-root/src/mounted\n\
        grep CapEff /proc/self/status > /opt/app-root/src/caps\n";
    let src = source(&[(".s2i/bin/assemble", assemble)]);
    let out = Image::fresh("host-options");
    let volume = format!("{}:/opt/cache:ro", mount.path().display());
    run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &builder.image,
        &out.0,
        "--add-host",
        "registry.local:10.1.2.3",
        "-v",
        &volume,
        "--cap-drop",
        "ALL",
        "--network",
        "bridge",
    ])
    .ok();
    assert!(run_in(&out.0, &["cat", "/opt/app-root/src/hosts"]).contains("10.1.2.3"));
    assert_eq!(run_in(&out.0, &["cat", "/opt/app-root/src/mounted"]), "from the host");
    let caps = run_in(&out.0, &["cat", "/opt/app-root/src/caps"]);
    assert!(caps.trim().ends_with("0000000000000000"), "all capabilities dropped: {caps}");
    assert!(
        !run_in(&out.0, &["cat", "/etc/hosts"]).contains("registry.local"),
        "build-only settings stay out of the image"
    );

    for (flag, value, needle) in [
        ("--network", "no-such-network", "network no-such-network not found"),
        ("--network", "container:no-such-container", "does not exist"),
        ("--add-host", "no-ip-here", "is not HOST:IP"),
        ("-v", "relative", "is not SOURCE:/CONTAINER/PATH"),
        ("--cap-drop", "NET RAW", "is not a capability name"),
    ] {
        let run = run_s2i(["build", src.path().to_str().unwrap(), &builder.image, flag, value]).failed();
        assert!(run.stderr.contains(needle), "{flag} {value}: {}", run.stderr);
    }
    builder.assert_no_containers();
}

/// The paths in the last layer of an image, from `docker save`.
fn last_layer_paths(image: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("image.tar");
    docker_ok(&["save", "-o", archive.to_str().unwrap(), image]);
    let mut outer = tar::Archive::new(std::fs::File::open(&archive).unwrap());
    outer.unpack(dir.path()).unwrap();
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("manifest.json")).unwrap()).unwrap();
    let last = manifest[0]["Layers"].as_array().unwrap().last().unwrap().as_str().unwrap().to_owned();
    let mut layer = tar::Archive::new(std::fs::File::open(dir.path().join(last)).unwrap());
    layer.entries().unwrap().map(|e| e.unwrap().path().unwrap().display().to_string()).collect()
}

#[test]
fn injected_files_are_there_for_assemble_and_leave_no_trace() {
    let builder = fixture("busybox-builder");
    let secrets = source(&[("token", "TOPSECRET"), ("nested/key.pem", "KEY")]);
    let single = source(&[("cred.txt", "CREDENTIAL")]);
    let assemble = "#!/bin/sh\nset -e\ncp -R /tmp/src/. /opt/app-root/src/\n\
        test \"$(cat /tmp/injected/token)\" = TOPSECRET\n\
        test \"$(cat /tmp/injected/nested/key.pem)\" = KEY\n\
        test \"$(cat /opt/app-root/config/new/cred.txt)\" = CREDENTIAL\n\
        echo injected-files-seen\n";
    let src = source(&[(".s2i/bin/assemble", assemble)]);
    let out = Image::fresh("inject");
    let run = run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &builder,
        &out.0,
        "-i",
        &format!("{}:/tmp/injected", secrets.path().display()),
        "--inject",
        &format!("{}:/opt/app-root/config/new/cred.txt", single.path().join("cred.txt").display()),
    ])
    .ok();
    assert!(run.stderr.contains("injected-files-seen"), "{}", run.stderr);
    let paths = last_layer_paths(&out.0);
    for path in &paths {
        assert!(
            !path.contains("injected")
                && !path.contains("cred")
                && !path.contains("config/")
                && !path.contains(".s2i-injections"),
            "trace of an injection in the layer: {path}\n{paths:?}"
        );
    }
    assert!(paths.iter().any(|p| p.starts_with("opt/app-root/src")), "the layer was read: {paths:?}");

    // A destination whose parent the assemble user cannot write: refused before assemble, nothing committed.
    let run = run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &builder,
        "-i",
        &format!("{}:/etc/secret.txt", single.path().join("cred.txt").display()),
    ])
    .failed();
    assert!(run.stderr.contains("/etc is not writable by user 1001"), "{}", run.stderr);
    assert!(!run.stderr.contains("injected-files-seen"), "assemble did not run");

    // A file the image has is never replaced (removing it afterwards would lose it).
    let root = fixture("root-builder");
    let run = run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &root,
        "-i",
        &format!("{}:/etc/passwd", single.path().join("cred.txt").display()),
    ])
    .failed();
    assert!(run.stderr.contains("/etc/passwd is already a file in the builder image"), "{}", run.stderr);

    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, "-i", "/does/not/exist:/tmp/x"]).failed();
    assert!(run.stderr.contains("/does/not/exist"), "{}", run.stderr);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, "-i", "/a*b:/tmp/x"]).failed();
    assert!(run.stderr.contains("invalid characters in filename"), "{}", run.stderr);
}

#[test]
fn proxy_credentials_never_reach_the_log() {
    let builder = fixture("busybox-builder");
    let src = source(&[(
        ".s2i/bin/assemble",
        "#!/bin/sh\necho \"proxy is $HTTP_PROXY\"\ncp -R /tmp/src/. /opt/app-root/src/\n",
    )]);
    let run = run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &builder,
        "-e",
        "HTTP_PROXY=http://alice:hunter2@proxy.example:3128",
        "--loglevel",
        "5",
    ])
    .ok();
    let _cleanup = Image(run.stdout.trim().to_owned());
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    assert!(run.stderr.contains("proxy is http://redacted@proxy.example:3128"), "{}", run.stderr);
}
