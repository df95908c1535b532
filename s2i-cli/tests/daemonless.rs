//! Builds with `--engine oci`: assemble under runc (and crun), images in s2i's own
//! store, with no daemon reachable (`DOCKER_HOST` names no socket). Builder
//! images come from the fixtures, saved once as `docker-archive` files (and
//! copied into OCI layouts by skopeo); results are judged by skopeo and by
//! Docker, which loads and runs them. Every test has its own store, cache
//! and state directories and checks that no container, mount or scratch
//! directory is left in them.
//!
//! Needs root, runc, crun and skopeo (`cargo xtask packages`); without them the tests fail.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use support::*;

/// Panic unless runc runs (as the harness does for a missing engine).
fn require_runc() {
    let present = Command::new("runc").arg("--version").output().is_ok_and(|out| out.status.success());
    assert!(
        present,
        "runc is not installed: `apt-get install runc fuse-overlayfs uidmap` (the daemonless tests need it)"
    );
}

/// A fixture image saved as a `docker-archive` (once per image ID, kept in
/// the target directory).
fn builder_archive(name: &str) -> PathBuf {
    let image = fixture(name);
    let id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", &image]);
    let id = id.trim().trim_start_matches("sha256:");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("daemonless-builders");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(format!("{name}-{}.tar", &id[..12]));
    if !file.exists() {
        let partial = dir.join(format!(".{name}-{}.tar", unique("partial")));
        docker_ok(&["save", "-o", partial.to_str().unwrap(), &image]);
        // Readable by the users of the rootless tests (docker save writes 0600).
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&partial, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::rename(&partial, &file).unwrap();
    }
    file
}

/// `docker-archive:FILE` of a fixture.
fn archive_location(name: &str) -> String {
    format!("docker-archive:{}", builder_archive(name).display())
}

/// One daemonless setup: its store, cache and state directories.
struct Daemonless {
    dir: tempfile::TempDir,
}

impl Daemonless {
    /// A new setup; panics unless runc runs.
    fn new() -> Self {
        require_runc();
        Self { dir: tempfile::tempdir().unwrap() }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `s2i --engine oci` with this setup's directories and no daemon.
    fn s2i(&self) -> Command {
        let mut command = s2i();
        command
            .env("S2I_ENGINE", "oci")
            .env("S2I_OCI_STORE_DIR", self.path("store"))
            .env("S2I_OCI_CACHE_DIR", self.path("cache"))
            .env("S2I_OCI_STATE_DIR", self.path("state"))
            .env("DOCKER_HOST", format!("unix://{}", self.path("no-daemon.sock").display()));
        command
    }

    fn run<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        Run::from(self.s2i().args(args).output().expect("s2i runs"))
    }

    /// The names of the store's images (`index.json`).
    fn stored_names(&self) -> Vec<String> {
        let index = std::fs::read(self.path("store/index.json")).unwrap();
        let index: serde_json::Value = serde_json::from_slice(&index).unwrap();
        index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|m| m["annotations"]["org.opencontainers.image.ref.name"].as_str().map(str::to_owned))
            .collect()
    }

    /// No container, root file system, mount or runtime state is left.
    fn assert_clean(&self) {
        let entries = |dir: PathBuf| -> Vec<String> {
            match std::fs::read_dir(&dir) {
                Ok(read) => read.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect(),
                Err(_) => Vec::new(),
            }
        };
        assert_eq!(entries(self.path("state/containers")), Vec::<String>::new(), "container states left");
        let root_fs: Vec<String> =
            entries(self.path("cache/containers")).into_iter().filter(|e| e != "contexts").collect();
        assert_eq!(root_fs, Vec::<String>::new(), "root file systems left");
        assert_eq!(entries(self.path("cache/containers/contexts")), Vec::<String>::new(), "build contexts left");
        let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let root = self.dir.path().to_string_lossy().into_owned();
        let left: Vec<&str> = mounts.lines().filter(|line| line.contains(&root)).collect();
        assert!(left.is_empty(), "mounts left: {left:#?}");
        // runc and crun keep a directory per container under their --root.
        assert_eq!(entries(self.path("state/runtime")), Vec::<String>::new(), "runtime containers left");
    }
}

impl Drop for Daemonless {
    /// After a failed test, what s2i left mounted in the setup is detached, so
    /// that its directory can go ([`Daemonless::assert_clean`] is the check).
    fn drop(&mut self) {
        detach_mounts_under(self.dir.path());
    }
}

/// Detach (lazily, deepest first) every mount under `dir` in this process's view.
fn detach_mounts_under(dir: &Path) {
    let mounts = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut points: Vec<&str> = mounts
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .filter(|point| Path::new(point).starts_with(dir))
        .collect();
    points.sort_by_key(|point| std::cmp::Reverse(point.len()));
    for point in points {
        let _ = Command::new("umount").args(["-l", point]).status();
    }
}

/// Load a `docker-archive` into Docker; the image is removed when dropped.
fn load(file: &Path, name: &str) -> Image {
    let out = docker_ok(&["load", "-i", file.to_str().unwrap()]);
    assert!(out.contains(name), "{out}");
    Image(name.to_owned())
}

fn skopeo(args: &[&str]) -> String {
    let out = Command::new("skopeo").args(args).output().expect("skopeo runs (apt-get install skopeo)");
    assert!(out.status.success(), "skopeo {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_build_from_a_docker_archive_needs_no_daemon_and_writes_every_output() {
    let setup = Daemonless::new();
    let src = source(&[("index.html", "hello without a daemon")]);
    let layout = setup.path("out-layout");
    let oci_archive = setup.path("out.oci.tar");
    let docker_archive = setup.path("out.docker.tar");
    let name = format!("s2i-test/{}:1", unique("daemonless"));
    let run = setup
        .run([
            "build",
            src.path().to_str().unwrap(),
            &archive_location("busybox-builder"),
            "app:1",
            "--output",
            &format!("oci:{}:app", layout.display()),
            "--output",
            &format!("oci-archive:{}", oci_archive.display()),
            "--output",
            &format!("docker-archive:{}:{name}", docker_archive.display()),
        ])
        .ok();
    assert!(run.stderr.contains("into s2i's image store as s2i-fixtures/busybox-builder:latest"), "{}", run.stderr);
    assert!(run.stderr.contains("---> assemble ran as uid 1001"), "{}", run.stderr);
    assert!(setup.stored_names().contains(&"app:1".to_owned()), "{:?}", setup.stored_names());
    setup.assert_clean();

    // skopeo reads both OCI outputs: one image of the builder's layers plus one.
    let builder: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", &archive_location("busybox-builder")])).unwrap();
    for location in [format!("oci:{}:app", layout.display()), format!("oci-archive:{}", oci_archive.display())] {
        let inspected: serde_json::Value = serde_json::from_str(&skopeo(&["inspect", &location])).unwrap();
        let layers = inspected["Layers"].as_array().unwrap().len();
        assert_eq!(layers, builder["Layers"].as_array().unwrap().len() + 1, "{location}");
        assert_eq!(
            inspected["Labels"]["io.openshift.s2i.build.image"], "docker.io/s2i-fixtures/busybox-builder:latest",
            "{location}"
        );
    }

    // Docker loads the docker-archive and runs it.
    let image = load(&docker_archive, &name);
    assert_eq!(run_in(&image.0, &["cat", "/opt/app-root/src/index.html"]), "hello without a daemon");
    assert_eq!(run_in(&image.0, &["stat", "-c", "%u", "/opt/app-root/src/index.html"]).trim(), "1001");
    let config = &inspect(&image.0)["Config"];
    assert_eq!(config["Cmd"], serde_json::json!(["/usr/libexec/s2i/run"]));
    assert_eq!(config["User"], "1001");
    assert_eq!(config["WorkingDir"], "/opt/app-root/src");
}

#[test]
fn a_docker_daemon_output_is_loaded_into_the_engine() {
    let setup = Daemonless::new();
    let src = source(&[("index.html", "loaded")]);
    let image = Image::fresh("daemonless-loaded");
    // This time the engine the harness uses is reachable.
    let mut command = setup.s2i();
    match std::env::var_os("DOCKER_HOST") {
        Some(host) => command.env("DOCKER_HOST", host),
        None => command.env_remove("DOCKER_HOST"),
    };
    let run = Run::from(
        command
            .args([
                "build",
                src.path().to_str().unwrap(),
                &archive_location("busybox-builder"),
                "app:1",
                "--output",
                &format!("docker-daemon:{}", image.0),
            ])
            .output()
            .unwrap(),
    )
    .ok();
    assert!(run.stderr.contains(&format!("Wrote docker-daemon:{}", image.0)), "{}", run.stderr);
    assert_eq!(run_in(&image.0, &["cat", "/opt/app-root/src/index.html"]), "loaded");
    setup.assert_clean();
}

impl Daemonless {
    /// `s2i --engine oci` as root (`None`) or as `user`.
    fn s2i_by(&self, user: Option<&str>) -> Command {
        match user {
            Some(user) => self.s2i_as(user),
            None => self.s2i(),
        }
    }

    /// A source directory `name` in the setup (so that a rootless user may read it), with `files`.
    fn source(&self, name: &str, files: &[(&str, &str)]) -> PathBuf {
        let dir = self.path(name);
        write_files(&dir, files);
        dir
    }
}

#[test]
fn scripts_environment_injections_and_incremental_builds() {
    rootless_user("s2i-rootless", true);
    let builder = archive_location("busybox-builder");
    for user in [None, Some("s2i-rootless")] {
        let who = user.unwrap_or("root");
        let setup = Daemonless::new();
        let src = setup.source(
            "src",
            &[
                ("index.html", "v1"),
                ("artifacts/deps/lib.txt", "downloaded once"),
                (".s2i/environment", "FROM_FILE=yes\n"),
                (
                    ".s2i/bin/assemble",
                    "#!/bin/sh\nset -e\ntest -f /tmp/injected/secret.txt\necho \"---> custom assemble sees $(cat /tmp/injected/secret.txt)\"\nexec /usr/libexec/s2i/assemble\n",
                ),
            ],
        );
        let secret = setup.path("secret.txt");
        std::fs::write(&secret, "the secret").unwrap();
        let inject = format!("{}:/tmp/injected/secret.txt", secret.display());
        let path = src.to_str().unwrap();
        Run::from(setup.s2i_by(user).args(["build", path, &builder, "app:1", "--inject", &inject]).output().unwrap())
            .ok();

        // The second build's artifacts come from the previous image, in the store.
        std::fs::remove_dir_all(src.join("artifacts")).unwrap();
        let archive = setup.path("app.tar");
        let name = format!("s2i-test/{}:1", unique("daemonless-incremental"));
        let output = format!("docker-archive:{}:{name}", archive.display());
        let args = [
            "build",
            path,
            &builder,
            "app:1",
            "--incremental",
            "--rm",
            "--inject",
            &inject,
            "-e",
            "FOO=bar",
            "--output",
            &output,
        ];
        let run = Run::from(setup.s2i_by(user).args(args).output().unwrap()).ok();
        assert!(run.stderr.contains("Restoring build artifacts"), "{who}: {}", run.stderr);
        assert!(run.stderr.contains("---> custom assemble sees the secret"), "{who}: {}", run.stderr);
        assert!(run.stderr.contains("Removed the previous image"), "{who}: {}", run.stderr);
        if user.is_none() {
            assert_eq!(setup.stored_names().iter().filter(|n| n.starts_with("app:")).count(), 1);
        }
        setup.assert_clean();

        let image = load(&archive, &name);
        assert_eq!(run_in(&image.0, &["cat", "/opt/app-root/artifacts-restored/deps/lib.txt"]), "downloaded once");
        let info = run_in(&image.0, &["cat", "/opt/app-root/src/.s2i-build-info"]);
        assert!(
            info.contains("FOO=bar") && info.contains("FROM_FILE=yes") && info.contains("uid=1001"),
            "{who}: {info}"
        );
        assert!(
            !succeeds_in(&image.0, &["test", "-e", "/tmp/injected/secret.txt"]),
            "{who}: the injected file is not in the image"
        );
    }
}

#[test]
fn outputs_are_written_by_s2i_itself_the_same_for_the_same_epoch() {
    let setup = Daemonless::new();
    let src = source(&[("index.html", "reproducible without a daemon")]);
    let path = src.path().to_str().unwrap();
    let builder = archive_location("busybox-builder");
    let digest_of = |layout: &Path| -> String {
        let inspected: serde_json::Value =
            serde_json::from_str(&skopeo(&["inspect", &format!("oci:{}:app", layout.display())])).unwrap();
        inspected["Digest"].as_str().unwrap().to_owned()
    };
    let mut digests = Vec::new();
    for round in ["first", "second"] {
        let layout = setup.path(&format!("{round}-layout"));
        let sbom = setup.path(&format!("{round}.spdx.json"));
        setup
            .run([
                "build",
                path,
                &builder,
                "app:1",
                "--source-date-epoch",
                "1700000000",
                "--sbom",
                sbom.to_str().unwrap(),
                "--output",
                &format!("oci:{}:app", layout.display()),
            ])
            .ok();
        let document: serde_json::Value = serde_json::from_slice(&std::fs::read(&sbom).unwrap()).unwrap();
        assert_eq!(document["spdxVersion"], "SPDX-2.3", "{document}");
        digests.push(digest_of(&layout));
        setup.assert_clean();
    }
    assert_eq!(digests[0], digests[1], "the same inputs and epoch, the same manifest");
    // The tag went into s2i's store too, and runs from there.
    assert!(setup.stored_names().contains(&"app:1".to_owned()), "{:?}", setup.stored_names());
    let run = setup.run(["build", path, &builder, "app:2", "--source-date-epoch", "1700000001"]).ok();
    assert!(run.stderr.contains("Build completed successfully: app:2"), "{}", run.stderr);
}

#[test]
fn a_runtime_image_chain_from_oci_layouts() {
    rootless_user("s2i-rootless", true);
    for user in [None, Some("s2i-rootless")] {
        let who = user.unwrap_or("root");
        let setup = Daemonless::new();
        let layouts = setup.path("layouts");
        for name in ["toolchain-builder", "runtime-image"] {
            skopeo(&["copy", "-q", &archive_location(name), &format!("oci:{}:{name}", layouts.display())]);
        }
        let src = setup.source(
            "src",
            &[
                ("01-lib.sh", "greet() { echo \"hello from $1\"; }\n"),
                ("02-main.sh", "greet \"the compiled app\"\ncat /opt/runtime/build-info.txt\n"),
            ],
        );
        let archive = setup.path("app.tar");
        let name = format!("s2i-test/{}:1", unique("daemonless-chained"));
        let (toolchain, runtime) = (
            format!("oci:{}:toolchain-builder", layouts.display()),
            format!("oci:{}:runtime-image", layouts.display()),
        );
        let output = format!("docker-archive:{}:{name}", archive.display());
        let args =
            ["build", src.to_str().unwrap(), &toolchain, "app:1", "--runtime-image", &runtime, "--output", &output];
        let run = Run::from(setup.s2i_by(user).args(args).output().unwrap()).ok();
        assert!(run.stderr.contains("---> Runtime received: ./bin/app ./build-info.txt"), "{who}: {}", run.stderr);
        setup.assert_clean();

        let image = load(&archive, &name);
        let output = docker_run_ok(&[&image.0]);
        assert!(output.starts_with("hello from the compiled app\ncompiler=shc 1.0\n"), "{who}: {output}");
        assert!(!succeeds_in(&image.0, &["test", "-e", "/opt/toolchain"]), "{who}: no toolchain files");
        assert_eq!(run_in(&image.0, &["stat", "-c", "%a", "/opt/runtime/bin/app"]).trim(), "755", "{who}");
        assert_eq!(labels(&image.0)["io.s2i.test/compiled-by"], "shc 1.0", "{who}");
    }
}

#[test]
fn a_failing_assemble_leaves_nothing_behind() {
    let setup = Daemonless::new();
    let src = source(&[("index.html", "x")]);
    let run = setup
        .run([
            "build",
            src.path().to_str().unwrap(),
            &archive_location("busybox-builder"),
            "app:1",
            "-e",
            "ASSEMBLE_EXIT_CODE=3",
        ])
        .failed();
    assert!(run.stderr.contains("Exiting with ASSEMBLE_EXIT_CODE=3"), "{}", run.stderr);
    assert!(!setup.stored_names().contains(&"app:1".to_owned()));
    setup.assert_clean();
}

#[test]
fn ctrl_c_and_a_killed_run_leave_nothing_behind() {
    let setup = Daemonless::new();
    let builder = archive_location("busybox-builder");
    let src = source(&[(".s2i/bin/assemble", "#!/bin/sh\necho assembling-slowly\nexec sleep 60\n")]);
    let path = src.path().to_str().unwrap();

    let mut command = setup.s2i();
    command.args(["build", path, &builder, "app:1"]);
    let (code, stderr) = interrupt_command_when(command, "assembling-slowly", "INT");
    assert_eq!(code, 130, "{stderr}");
    assert!(stderr.contains("Build cancelled; its containers were removed."), "{stderr}");
    setup.assert_clean();

    // A run killed outright leaves its container; the next run removes it.
    let mut command = setup.s2i();
    command.args(["build", path, &builder, "app:1"]);
    interrupt_command_when(command, "assembling-slowly", "KILL");
    let src_ok = source(&[("index.html", "x")]);
    let run = setup.run(["build", src_ok.path().to_str().unwrap(), &builder, "ok:1"]).ok();
    assert!(run.stderr.contains("left by a killed s2i"), "{}", run.stderr);
    setup.assert_clean();
}

#[test]
fn refusals_name_the_fix() {
    let setup = Daemonless::new();
    let src = source(&[("index.html", "x")]);
    let path = src.path().to_str().unwrap();
    let builder = archive_location("busybox-builder");

    // No engine chosen and none reachable: the error offers the daemonless one.
    let run = Run::from(
        setup
            .s2i()
            .env_remove("S2I_ENGINE")
            .args(["build", path, "s2i-fixtures/busybox-builder", "app:1"])
            .output()
            .unwrap(),
    )
    .failed();
    assert!(run.stderr.contains("or build without a daemon: --engine oci"), "{}", run.stderr);

    // An engine's image with no engine answering.
    let run = setup.run(["build", path, "docker-daemon:s2i-fixtures/busybox-builder:latest", "app:1"]).failed();
    assert!(run.stderr.contains("none answers"), "{}", run.stderr);
    assert!(run.stderr.contains("docker-archive:builder.tar"), "{}", run.stderr);

    // --pull-policy always: a builder by location is copied afresh; one of the store is
    // asked of its registry, which here does not answer.
    setup.run(["build", path, &builder, "app:1", "--pull-policy", "always"]).ok();
    setup.run(["build", path, "s2i-fixtures/busybox-builder:latest", "app:1", "--pull-policy", "never"]).ok();
    let missing = format!("127.0.0.1:{}/s2i-fixtures/busybox-builder:latest", free_port());
    let run = setup.run(["build", path, &missing, "app:1"]).failed();
    let host = missing.split('/').next().unwrap();
    assert!(run.stderr.contains(&format!("{host}: cannot connect")), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("check that the registry {host} runs")), "{}", run.stderr);

    // --network bridge needs a daemon.
    let run = setup.run(["build", path, &builder, "app:1", "--network", "bridge"]).failed();
    assert!(run.stderr.contains("bridge"), "{}", run.stderr);

    setup.assert_clean();
}

/// A system user for rootless builds, made when missing; with
/// `subordinate_ids`, it gets a range in `/etc/subuid` and `/etc/subgid`.
fn rootless_user(name: &str, subordinate_ids: bool) {
    static MAKING: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _making = MAKING.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let exists = Command::new("id").arg(name).output().unwrap().status.success();
    if !exists {
        let status = Command::new("useradd")
            .args(["--system", "--no-create-home", "--shell", "/usr/sbin/nologin", name])
            .status()
            .expect("useradd runs");
        assert!(status.success(), "useradd {name}");
    }
    let listed =
        std::fs::read_to_string("/etc/subuid").unwrap_or_default().lines().any(|l| l.starts_with(&format!("{name}:")));
    if subordinate_ids && !listed {
        let status = Command::new("usermod")
            .args(["--add-subuids", "400000-465535", "--add-subgids", "400000-465535", name])
            .status()
            .expect("usermod runs");
        assert!(status.success(), "usermod {name}");
    }
}

impl Daemonless {
    /// [`Daemonless::s2i`] as `user`, the setup's directory theirs; setpriv
    /// and env exec, so the child's pid is s2i's (for signals).
    fn s2i_as(&self, user: &str) -> Command {
        self.s2i_as_with(user, &[])
    }

    /// [`Daemonless::s2i_as`] with more environment variables.
    fn s2i_as_with(&self, user: &str, env: &[(&str, &str)]) -> Command {
        // The setup's directory and what the test put in it are the user's; what s2i
        // made there (its store, cache and state, with subordinate owners) is left as it is.
        let status = Command::new("chown").arg(user).arg(self.dir.path()).status().unwrap();
        assert!(status.success(), "chown {user} {}", self.dir.path().display());
        let mut paths = Vec::new();
        for entry in std::fs::read_dir(self.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if !["store", "cache", "state"].contains(&name.as_str()) {
                paths.push(path);
            }
        }
        if !paths.is_empty() {
            let status = Command::new("chown").arg("-R").arg(user).args(&paths).status().unwrap();
            assert!(status.success(), "chown -R {user} {paths:?}");
        }
        let gid = Command::new("id").args(["-g", user]).output().unwrap();
        let gid = String::from_utf8_lossy(&gid.stdout).trim().to_owned();
        let mut command = Command::new("setpriv");
        command.args([&format!("--reuid={user}"), &format!("--regid={gid}"), "--init-groups", "--"]);
        command.args(["env", "-i", "PATH=/usr/sbin:/usr/bin:/sbin:/bin", "S2I_NO_PROGRESS=1", "S2I_ENGINE=oci"]);
        for (name, dir) in [
            ("HOME", ""),
            ("S2I_OCI_STORE_DIR", "store"),
            ("S2I_OCI_CACHE_DIR", "cache"),
            ("S2I_OCI_STATE_DIR", "state"),
        ] {
            command.arg(format!("{name}={}", self.path(dir).display()));
        }
        command.arg(format!("DOCKER_HOST=unix://{}", self.path("no-daemon.sock").display()));
        command.args(env.iter().map(|(name, value)| format!("{name}={value}")));
        command.arg(env!("CARGO_BIN_EXE_s2i"));
        command
    }
}

#[test]
fn rootless_builds_keep_owners_with_subordinate_ids_run_as_root_without_and_clean_up() {
    // With a range of subordinate ids, assemble runs as the image's user (1001)
    // and the layer keeps that owner; with one id (nobody), everything is root.
    // Under runc and under crun.
    let cases = [("s2i-rootless", true, "1001"), ("nobody", false, "0")];
    for ((user, ranges, uid), runtime) in cases.into_iter().flat_map(|c| [(c, "runc"), (c, "crun")]) {
        rootless_user(user, ranges);
        let setup = Daemonless::new();
        let src = setup.path("src");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(src.join("index.html"), "rootless").unwrap();
        let archive = setup.path("app.tar");
        let name = format!("s2i-test/{}:1", unique("daemonless-rootless"));
        let run = Run::from(
            setup
                .s2i_as(user)
                .args([
                    "build",
                    src.to_str().unwrap(),
                    &archive_location("busybox-builder"),
                    "app:1",
                    "--oci-runtime",
                    runtime,
                    "--output",
                    &format!("docker-archive:{}:{name}", archive.display()),
                ])
                .output()
                .unwrap(),
        )
        .ok();
        assert!(run.stderr.contains(&format!("---> assemble ran as uid {uid}")), "{user} {runtime}: {}", run.stderr);
        setup.assert_clean();
        let image = load(&archive, &name);
        assert_eq!(run_in(&image.0, &["cat", "/opt/app-root/src/index.html"]), "rootless");
        assert_eq!(run_in(&image.0, &["stat", "-c", "%u", "/opt/app-root/src/index.html"]).trim(), uid, "{user}");
    }

    // Ctrl-C, and a killed run whose leftovers the next run removes, without root too.
    let setup = Daemonless::new();
    let src = setup.path("slow");
    std::fs::create_dir_all(src.join(".s2i/bin")).unwrap();
    let assemble = src.join(".s2i/bin/assemble");
    std::fs::write(&assemble, "#!/bin/sh\necho assembling-slowly\nexec sleep 60\n").unwrap();
    std::fs::set_permissions(&assemble, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let builder = archive_location("busybox-builder");
    let mut command = setup.s2i_as("s2i-rootless");
    command.args(["build", src.to_str().unwrap(), &builder, "app:1"]);
    let (code, stderr) = interrupt_command_when(command, "assembling-slowly", "INT");
    assert_eq!(code, 130, "{stderr}");
    setup.assert_clean();
    let mut command = setup.s2i_as("s2i-rootless");
    command.args(["build", src.to_str().unwrap(), &builder, "app:1"]);
    interrupt_command_when(command, "assembling-slowly", "KILL");
    let src_ok = setup.path("ok");
    std::fs::create_dir_all(&src_ok).unwrap();
    std::fs::write(src_ok.join("index.html"), "x").unwrap();
    let run = Run::from(
        setup.s2i_as("s2i-rootless").args(["build", src_ok.to_str().unwrap(), &builder, "ok:1"]).output().unwrap(),
    )
    .ok();
    assert!(run.stderr.contains("left by a killed s2i"), "{}", run.stderr);
    setup.assert_clean();

    // Removed file systems are deleted by detached `rm`s, which finish on their own.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let left = Command::new("pgrep").args(["-u", "s2i-rootless", "-a"]).output().unwrap();
        // An orphan's zombie waits for init to reap it; it runs nothing.
        let left: String = String::from_utf8_lossy(&left.stdout)
            .lines()
            .filter(|line| !line.ends_with("<defunct>"))
            .map(|line| format!("{line}\n"))
            .collect();
        let others: Vec<&str> = left.lines().filter(|line| !line.contains(" rm -rf --one-file-system -- ")).collect();
        assert!(others.is_empty(), "processes of the rootless user left: {others:?}");
        if left.is_empty() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the deletion of removed file systems never ended: {left}");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

#[test]
fn onbuild_builders_run_their_triggers_as_build_steps() {
    let setup = Daemonless::new();
    let src = source(&[
        ("index.html", "onbuild"),
        ("run.sh", "#!/bin/sh\ncat /opt/app-root/onbuild.txt /opt/app-root/src/index.html\n"),
    ]);
    let archive = setup.path("app.tar");
    let name = format!("s2i-test/{}:1", unique("daemonless-onbuild"));
    let run = setup
        .run([
            "build",
            src.path().to_str().unwrap(),
            &archive_location("onbuild-builder"),
            "app:1",
            "--output",
            &format!("docker-archive:{}:{name}", archive.display()),
        ])
        .ok();
    assert!(run.stderr.contains("(build trigger)"), "{}", run.stderr);
    setup.assert_clean();
    let image = load(&archive, &name);
    assert_eq!(docker_run_ok(&[&image.0]), "onbuild trigger ran\nonbuild");
}

/// A registry that wants `tester` and a fresh password (bcrypt made here).
fn authenticated_registry() -> (Registry, String) {
    let password = unique("secret");
    let hash = bcrypt::hash(&password, 4).expect("bcrypt hashes");
    (Registry::start_with(Some(&format!("tester:{hash}"))), password)
}

/// A containers `auth.json` with `tester:password` for `registry`, at `path`.
fn write_auth_json(path: &Path, registry: &str, password: &str) {
    use base64::Engine;
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("tester:{password}"));
    std::fs::write(path, format!(r#"{{"auths": {{"{registry}": {{"auth": "{auth}"}}}}}}"#)).unwrap();
}

/// The requests of the registry's log that `GET` blobs of `repository`.
fn blob_reads(registry: &Registry, repository: &str) -> usize {
    let marker = format!("GET /v2/{repository}/blobs/sha256:");
    registry.log_text().lines().filter(|line| line.contains(&marker)).count()
}

#[test]
fn a_builder_from_a_registry_is_pulled_with_the_login_files_and_only_what_is_missing() {
    let setup = Daemonless::new();
    let (registry, password) = authenticated_registry();
    let repository = format!("fixtures/{}", unique("builder"));
    let pushed = format!("{}/{repository}:1", registry.host);
    // skopeo puts the fixture there: no engine is involved on either side.
    skopeo(&[
        "copy",
        "-q",
        "--dest-tls-verify=false",
        "--dest-creds",
        &format!("tester:{password}"),
        &archive_location("busybox-builder"),
        &format!("docker://{pushed}"),
    ]);
    let auth = setup.path("auth.json");
    write_auth_json(&auth, &registry.host, &password);
    let src = source(&[("index.html", "from a registry")]);
    let path = src.path().to_str().unwrap();
    let build = |builder: &str, args: &[&str]| {
        Run::from(
            setup.s2i().env("REGISTRY_AUTH_FILE", &auth).args(["build", path, builder]).args(args).output().unwrap(),
        )
    };

    let run = build(&format!("docker://{pushed}"), &["app:1"]).ok();
    assert!(run.stderr.contains(&format!("Pulling image {pushed}")), "{}", run.stderr);
    assert!(run.stderr.contains("---> assemble ran as uid 1001"), "{}", run.stderr);
    assert!(!run.stderr.contains(&password), "the password never reaches the output");
    assert!(setup.stored_names().contains(&pushed), "{:?}", setup.stored_names());
    let inspected: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", &archive_location("busybox-builder")])).unwrap();
    let layers = inspected["Layers"].as_array().unwrap();
    let distinct: std::collections::BTreeSet<&str> = layers.iter().map(|l| l.as_str().unwrap()).collect();
    let blobs = distinct.len() + 1;
    let layers = layers.len();
    assert_eq!(blob_reads(&registry, &repository), blobs, "each layer and the config read once");
    setup.assert_clean();

    // --pull-policy always asks the registry again, and fetches no blob the store has.
    let run = build(&pushed, &["app:2", "--pull-policy", "always"]).ok();
    assert!(run.stderr.contains(&format!("Pulling image {pushed}")), "{}", run.stderr);
    assert_eq!(blob_reads(&registry, &repository), blobs, "no blob read twice");

    // --push sends the result through the same client, with the same login.
    let result = format!("{}/apps/{}:1", registry.host, unique("app"));
    let run = build(&pushed, &[&result, "--push"]).ok();
    assert!(run.stderr.contains(&format!("Pushed {result}")), "{}", run.stderr);
    let (repo, tag) = result.strip_prefix(&format!("{}/", registry.host)).unwrap().split_once(':').unwrap();
    let digest = registry.digest_as(repo, tag, Some(("tester", &password))).expect("the registry has the result");
    assert!(run.stderr.contains(&digest), "the digest the registry stored is reported: {}", run.stderr);
    let inspected: serde_json::Value = serde_json::from_str(&skopeo(&[
        "inspect",
        "--tls-verify=false",
        "--creds",
        &format!("tester:{password}"),
        &format!("docker://{result}"),
    ]))
    .unwrap();
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), layers + 1);
    setup.assert_clean();

    // A wrong password: the registry and the fix are named, nothing is left.
    let wrong = Daemonless::new();
    let wrong_auth = wrong.path("auth.json");
    write_auth_json(&wrong_auth, &registry.host, "not-the-password");
    let run = Run::from(
        wrong.s2i().env("REGISTRY_AUTH_FILE", &wrong_auth).args(["build", path, &pushed, "app:1"]).output().unwrap(),
    )
    .failed();
    assert!(run.stderr.contains(&registry.host), "{}", run.stderr);
    assert!(run.stderr.contains("refused the credentials"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("login {}", registry.host)), "{}", run.stderr);
    assert!(!run.stderr.contains("not-the-password"), "{}", run.stderr);
    wrong.assert_clean();

    // --pull-policy never with an empty store: said, and no request made.
    let reads = registry.log_text().lines().count();
    let run = Run::from(
        wrong
            .s2i()
            .env("REGISTRY_AUTH_FILE", &auth)
            .args(["build", path, &pushed, "app:1", "--pull-policy", "never"])
            .output()
            .unwrap(),
    )
    .failed();
    assert!(run.stderr.contains(&format!("unable to get metadata for {pushed}")), "{}", run.stderr);
    assert!(run.stderr.contains("pull policy is never"), "{}", run.stderr);
    assert_eq!(registry.log_text().lines().count(), reads, "no request with --pull-policy never");
    wrong.assert_clean();
}

#[test]
fn a_builder_in_the_engine_is_read_out_of_it() {
    let setup = Daemonless::new();
    let src = source(&[("index.html", "from the engine")]);
    let archive = setup.path("app.tar");
    let name = format!("s2i-test/{}:1", unique("daemonless-from-engine"));
    // This test needs the engine the harness uses.
    let mut command = setup.s2i();
    match std::env::var_os("DOCKER_HOST") {
        Some(host) => command.env("DOCKER_HOST", host),
        None => command.env_remove("DOCKER_HOST"),
    };
    let builder = format!("docker-daemon:{}", fixture("busybox-builder"));
    let run = Run::from(
        command
            .args([
                "build",
                src.path().to_str().unwrap(),
                &builder,
                "app:1",
                "--output",
                &format!("docker-archive:{}:{name}", archive.display()),
            ])
            .output()
            .unwrap(),
    )
    .ok();
    // Under the name the engine gives it (Podman's has `localhost/` before it).
    let marker = "from the engine into s2i's image store as ";
    let stored_name = run.stderr.split(marker).nth(1).and_then(|rest| rest.lines().next()).unwrap_or_default();
    assert!(stored_name.ends_with("s2i-fixtures/busybox-builder:latest"), "{}", run.stderr);
    // The store's builder is the engine's: the same ID (its config's digest).
    let id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", &fixture("busybox-builder")]);
    let stored = format!("oci:{}:{stored_name}", setup.path("store").display());
    let manifest: serde_json::Value = serde_json::from_str(&skopeo(&["inspect", "--raw", &stored])).unwrap();
    assert_eq!(manifest["config"]["digest"].as_str(), Some(id.trim()));
    // By ID (the engine may send the names it has with it).
    let mut command = setup.s2i();
    match std::env::var_os("DOCKER_HOST") {
        Some(host) => command.env("DOCKER_HOST", host),
        None => command.env_remove("DOCKER_HOST"),
    };
    let by_id = format!("docker-daemon:{}", id.trim());
    let run = Run::from(command.args(["build", src.path().to_str().unwrap(), &by_id, "app:2"]).output().unwrap()).ok();
    assert!(run.stderr.contains(&format!("Copied the builder image {by_id} from the engine")), "{}", run.stderr);
    assert!(run.stderr.contains("Build completed successfully: app:2"), "{}", run.stderr);
    setup.assert_clean();
    let image = load(&archive, &name);
    assert_eq!(run_in(&image.0, &["cat", "/opt/app-root/src/index.html"]), "from the engine");
    let parent_layers = inspect(&fixture("busybox-builder"))["RootFS"]["Layers"].clone();
    let layers = inspect(&image.0)["RootFS"]["Layers"].as_array().unwrap().clone();
    assert_eq!(serde_json::Value::Array(layers[..layers.len() - 1].to_vec()), parent_layers);
}

#[test]
fn the_same_manifest_digest_as_on_the_engine_for_the_same_inputs_and_epoch() {
    let setup = Daemonless::new();
    let builder = fixture("busybox-builder");
    let src = source(&[("index.html", "the same on every engine"), ("bin/start.sh", "#!/bin/sh\necho started\n")]);
    let path = src.path().to_str().unwrap();
    // Scripts of the test's own: the fixture's assemble records the environment, which engines set apart.
    let scripts = source(&[
        (
            "s2i/bin/assemble",
            "#!/bin/sh\nset -e\ncp -R /tmp/src/. /opt/app-root/src/\nmkdir -p /opt/app-root/src/made\necho built > /opt/app-root/src/made/by-assemble\n",
        ),
        ("s2i/bin/run", "#!/bin/sh\nexec cat /opt/app-root/src/index.html\n"),
    ]);
    let scripts_url = format!("file://{}", scripts.path().join("s2i/bin").display());
    let out = Image::fresh("daemonless-same-digest");
    let digest_of = |layout: &Path| -> String {
        let inspected: serde_json::Value =
            serde_json::from_str(&skopeo(&["inspect", &format!("oci:{}:app", layout.display())])).unwrap();
        inspected["Digest"].as_str().unwrap().to_owned()
    };
    let docker_layout = setup.path("docker-layout");
    run_s2i([
        "build",
        path,
        &builder,
        &out.0,
        "--scripts-url",
        &scripts_url,
        "--source-date-epoch",
        "1700000000",
        "--output",
        &format!("oci:{}:app", docker_layout.display()),
    ])
    .ok();
    // The same builder (the same ID: the docker-archive keeps its config) with no daemon.
    let oci_layout = setup.path("oci-layout");
    setup
        .run([
            "build",
            path,
            &archive_location("busybox-builder"),
            &out.0,
            "--scripts-url",
            &scripts_url,
            "--source-date-epoch",
            "1700000000",
            "--output",
            &format!("oci:{}:app", oci_layout.display()),
        ])
        .ok();
    setup.assert_clean();
    assert_eq!(digest_of(&oci_layout), digest_of(&docker_layout), "one manifest digest on both engines");
}

/// A setup whose store holds the busybox builder (put there by another
/// tool), with a BuildConfig `limited` (64Mi, 500m) applied in namespace
/// `limits` of its object store, and a source whose assemble reports the
/// limits of its cgroup (v1 or v2) before it builds.
fn limited_build_config() -> (Daemonless, tempfile::TempDir) {
    let setup = Daemonless::new();
    skopeo(&[
        "copy",
        "-q",
        &archive_location("busybox-builder"),
        &format!("oci:{}:s2i-fixtures/busybox-builder:latest", setup.path("store").display()),
    ]);
    let config = "apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata:
  name: limited
spec:
  source:
    binary: {}
  strategy:
    sourceStrategy:
      from:
        kind: DockerImage
        name: s2i-fixtures/busybox-builder:latest
  resources:
    limits:
      memory: 64Mi
      cpu: 500m
  output:
    to:
      kind: ImageStreamTag
      name: limited:latest
";
    let file = setup.path("limited.yaml");
    std::fs::write(&file, config).unwrap();
    let mut command = setup.s2i();
    command.env("S2I_STORE", setup.path("objects")).env("S2I_NAMESPACE", "limits");
    Run::from(command.args(["apply", "-f", file.to_str().unwrap()]).output().unwrap()).ok();
    let script = "#!/bin/sh
echo \"memory limit: $(cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max)\"
echo \"cpu quota: $(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us 2>/dev/null || cut -d' ' -f1 /sys/fs/cgroup/cpu.max)\"
exec /usr/libexec/s2i/assemble
";
    let app = source(&[("index.html", "limited\n"), (".s2i/bin/assemble", script)]);
    (setup, app)
}

#[test]
fn memory_and_cpu_limits_of_a_build_config_reach_assemble() {
    // As root, under runc and under crun (which sees cgroup v1 on a hybrid machine).
    for runtime in ["runc", "crun"] {
        let (setup, app) = limited_build_config();
        let mut command = setup.s2i();
        command.env("S2I_STORE", setup.path("objects")).env("S2I_NAMESPACE", "limits").env("S2I_OCI_RUNTIME", runtime);
        let run = Run::from(
            command
                .args(["start-build", "limited", "--from-dir", app.path().to_str().unwrap(), "--follow"])
                .output()
                .unwrap(),
        )
        .ok();
        assert!(run.stdout.contains("memory limit: 67108864"), "{runtime}: {}", run.stdout);
        assert!(run.stdout.contains("cpu quota: 50000"), "{runtime}: {}", run.stdout);
        assert!(run.stdout.contains("==> Complete"), "{runtime}: {}", run.stdout);
        setup.assert_clean();
    }
}

#[test]
fn limits_a_rootless_build_cannot_apply_are_refused_before_it_runs() {
    // Without root, crun applies limits only through systemd (and runs on without
    // them otherwise); runc needs cgroup v2 delegated to the user, which a
    // cgroup v1 or hybrid machine has not. Either way: refused, naming the runtime.
    let v2_delegated = Path::new("/sys/fs/cgroup/cgroup.controllers").exists();
    rootless_user("s2i-rootless", true);
    for runtime in ["runc", "crun"] {
        if runtime == "runc" && v2_delegated {
            continue;
        }
        let (setup, app) = limited_build_config();
        // What root's `apply` made (the store with the builder, state and cache) is the user's.
        for dir in ["store", "state", "cache"] {
            let status = Command::new("chown").args(["-R", "s2i-rootless"]).arg(setup.path(dir)).status().unwrap();
            assert!(status.success());
        }
        let objects = setup.path("objects");
        let command = setup.s2i_as_with(
            "s2i-rootless",
            &[("S2I_STORE", objects.to_str().unwrap()), ("S2I_NAMESPACE", "limits"), ("S2I_OCI_RUNTIME", runtime)],
        );
        let moved = setup.path("app");
        std::fs::rename(app.path(), &moved).unwrap();
        let status = Command::new("chown").args(["-R", "s2i-rootless"]).arg(&moved).status().unwrap();
        assert!(status.success());
        let mut command = command;
        let run = Run::from(
            command
                .args(["start-build", "limited", "--from-dir", moved.to_str().unwrap(), "--follow"])
                .output()
                .unwrap(),
        )
        .failed();
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(all.contains("memory and CPU limits cannot be applied"), "{runtime}: {all}");
        assert!(all.contains(&format!("{runtime} (/")), "{runtime}: {all}");
        assert!(all.contains("run as root, or drop the limits"), "{runtime}: {all}");
        assert!(!all.contains("memory limit:"), "assemble ran: {all}");
        setup.assert_clean();
    }
}

/// A directory with `runc` and `crun` that log their names to `log` and run the real ones.
fn logging_runtimes(dir: &Path, log: &Path) {
    std::fs::create_dir_all(dir).unwrap();
    for name in ["runc", "crun"] {
        let real = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
            .iter()
            .map(|d| Path::new(d).join(name))
            .find(|p| p.exists())
            .unwrap_or_else(|| panic!("{name} is not installed: `cargo xtask packages`"));
        let script = format!("#!/bin/sh\necho {name} >> {}\nexec {} \"$@\"\n", log.display(), real.display());
        let path = dir.join(name);
        std::fs::write(&path, script).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
}

#[test]
fn crun_builds_and_runc_is_chosen_first_when_both_are_installed() {
    // Both on PATH: runc; --oci-runtime or S2I_OCI_RUNTIME name crun.
    let setup = Daemonless::new();
    let src = source(&[("index.html", "crun")]);
    let path = src.path().to_str().unwrap();
    let builder = archive_location("busybox-builder");
    let bin = setup.path("bin");
    let log = setup.path("runtimes.log");
    logging_runtimes(&bin, &log);
    let search = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let used = || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        std::fs::remove_file(&log).ok();
        let mut names: Vec<String> = text.lines().map(str::to_owned).collect();
        names.dedup();
        names
    };
    let build = |extra: &[&str], env: Option<&str>| {
        let mut command = setup.s2i();
        command.env("PATH", &search).args(["build", path, &builder, "app:1"]).args(extra);
        if let Some(runtime) = env {
            command.env("S2I_OCI_RUNTIME", runtime);
        }
        Run::from(command.output().unwrap()).ok()
    };
    build(&[], None);
    assert_eq!(used(), ["runc"]);
    let run = build(&["--oci-runtime", "crun"], None);
    assert_eq!(used(), ["crun"]);
    assert!(run.stderr.contains("---> assemble ran as uid 1001"), "{}", run.stderr);
    build(&[], Some("crun"));
    assert_eq!(used(), ["crun"]);
    build(&["--oci-runtime", bin.join("runc").to_str().unwrap()], Some("crun"));
    assert_eq!(used(), ["runc"], "--oci-runtime comes before S2I_OCI_RUNTIME");
    setup.assert_clean();

    // The result of crun, loaded and run.
    let archive = setup.path("app.tar");
    let name = format!("s2i-test/{}:1", unique("daemonless-crun"));
    let crun = which("crun");
    setup
        .run([
            "build",
            path,
            &builder,
            "app:1",
            "--oci-runtime",
            &crun,
            "--output",
            &format!("docker-archive:{}:{name}", archive.display()),
        ])
        .ok();
    setup.assert_clean();
    let image = load(&archive, &name);
    assert_eq!(run_in(&image.0, &["cat", "/opt/app-root/src/index.html"]), "crun");

    // crun without root: rootless_builds_keep_owners_with_subordinate_ids_run_as_root_without_and_clean_up.
}

/// The path of a program on PATH.
fn which(name: &str) -> String {
    let out = Command::new("sh").args(["-c", &format!("command -v {name}")]).output().unwrap();
    let path = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(!path.is_empty(), "{name} is not installed: `cargo xtask packages`");
    path
}

#[test]
fn a_builder_by_the_digest_of_a_multi_platform_index() {
    use sha2::Digest as _;
    let setup = Daemonless::new();
    let registry = Registry::start();
    // An OCI layout whose `multi` is an index of the fixture (for this machine's platform) and of another platform.
    let layout = setup.path("layout");
    skopeo(&["copy", "-q", &archive_location("busybox-builder"), &format!("oci:{}:single", layout.display())]);
    let read = |path: &Path| serde_json::from_slice::<serde_json::Value>(&std::fs::read(path).unwrap()).unwrap();
    let mut index = read(&layout.join("index.json"));
    let image = index["manifests"][0].clone();
    let inspected: serde_json::Value =
        serde_json::from_str(&skopeo(&["inspect", &format!("oci:{}:single", layout.display())])).unwrap();
    let mut entry = image.clone();
    entry.as_object_mut().unwrap().remove("annotations");
    entry["platform"] = serde_json::json!({"architecture": inspected["Architecture"], "os": "linux"});
    let mut elsewhere = entry.clone();
    elsewhere["platform"] = serde_json::json!({"architecture": "s390x", "os": "linux"});
    let document = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [elsewhere, entry],
    });
    let bytes = serde_json::to_vec(&document).unwrap();
    let hex = hex::encode(sha2::Sha256::digest(&bytes));
    std::fs::write(layout.join("blobs/sha256").join(&hex), &bytes).unwrap();
    index["manifests"].as_array_mut().unwrap().push(serde_json::json!({
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "digest": format!("sha256:{hex}"),
        "size": bytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": "multi"},
    }));
    std::fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    let repository = format!("fixtures/{}", unique("multi"));
    skopeo(&[
        "copy",
        "-q",
        "--all",
        "--dest-tls-verify=false",
        &format!("oci:{}:multi", layout.display()),
        &format!("docker://{}/{repository}:multi", registry.host),
    ]);

    let by_digest = format!("{}/{repository}@sha256:{hex}", registry.host);
    let src = source(&[("index.html", "from an index")]);
    let run = setup.run(["build", src.path().to_str().unwrap(), &by_digest, "app:1"]).ok();
    assert!(run.stderr.contains("---> assemble ran as uid 1001"), "{}", run.stderr);
    // The image of this platform is in the store, found by the index's digest from now on.
    let run = setup.run(["build", src.path().to_str().unwrap(), &by_digest, "app:2", "--pull-policy", "never"]).ok();
    assert!(run.stderr.contains("Build completed successfully: app:2"), "{}", run.stderr);
    let stored = read(&setup.path("store/index.json"));
    let digests: Vec<&str> =
        stored["manifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap()).collect();
    assert!(digests.contains(&image["digest"].as_str().unwrap()), "{digests:?}");
    setup.assert_clean();
}

#[test]
fn a_builder_from_a_registry_without_root() {
    // nobody: the other rootless test watches the processes of s2i-rootless.
    rootless_user("nobody", false);
    let setup = Daemonless::new();
    let registry = Registry::start();
    let pushed = format!("{}/fixtures/{}:1", registry.host, unique("rootless-builder"));
    skopeo(&[
        "copy",
        "-q",
        "--dest-tls-verify=false",
        &archive_location("busybox-builder"),
        &format!("docker://{pushed}"),
    ]);
    let src = setup.path("src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join("index.html"), "pulled without root").unwrap();
    let run =
        Run::from(setup.s2i_as("nobody").args(["build", src.to_str().unwrap(), &pushed, "app:1"]).output().unwrap())
            .ok();
    assert!(run.stderr.contains(&format!("Pulling image {pushed}")), "{}", run.stderr);
    assert!(run.stderr.contains("---> assemble ran as uid 0"), "{}", run.stderr);
    assert!(setup.stored_names().contains(&pushed), "{:?}", setup.stored_names());
    setup.assert_clean();
}

#[test]
fn a_build_configs_pull_and_push_secrets_are_its_registry_credentials() {
    let setup = Daemonless::new();
    let (registry, password) = authenticated_registry();
    let builder = format!("{}/team/{}:1", registry.host, unique("secret-builder"));
    skopeo(&[
        "copy",
        "-q",
        "--dest-tls-verify=false",
        "--dest-creds",
        &format!("tester:{password}"),
        &archive_location("busybox-builder"),
        &format!("docker://{builder}"),
    ]);
    // No login file of this run has credentials for the registry: only the secret does.
    let empty = setup.path("no-logins");
    std::fs::create_dir_all(&empty).unwrap();
    let in_store = |args: &[&str]| {
        let mut command = setup.s2i();
        command
            .env("S2I_STORE", setup.path("objects"))
            .env("S2I_NAMESPACE", "secrets")
            .env("DOCKER_CONFIG", &empty)
            .env("XDG_RUNTIME_DIR", &empty)
            .env("XDG_CONFIG_HOME", &empty)
            .env_remove("REGISTRY_AUTH_FILE");
        Run::from(command.args(args).output().unwrap())
    };
    in_store(&[
        "secret",
        "create",
        "docker-registry",
        "registry-creds",
        "--docker-server",
        &registry.host,
        "--docker-username",
        "tester",
        "--docker-password",
        &password,
    ])
    .ok();
    let repository = format!("team/{}", unique("secret-web"));
    let config = format!(
        "apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata:
  name: web
spec:
  source:
    type: Binary
  strategy:
    sourceStrategy:
      from:
        kind: DockerImage
        name: {builder}
      pullSecret:
        name: registry-creds
  output:
    to:
      kind: DockerImage
      name: {}/{repository}:1
    pushSecret:
      name: registry-creds
",
        registry.host
    );
    let file = setup.path("web.yaml");
    std::fs::write(&file, config).unwrap();
    in_store(&["apply", "-f", file.to_str().unwrap()]).ok();
    let app = source(&[("index.html", "pushed with a secret\n")]);
    let run = in_store(&["start-build", "web", "--from-dir", app.path().to_str().unwrap(), "--follow"]);
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.contains("Push successful"), "{}", run.stdout);
    assert!(!run.stdout.contains(&password) && !run.stderr.contains(&password));
    assert!(registry.digest_as(&repository, "1", Some(("tester", &password))).is_some());
    setup.assert_clean();
}

/// An assemble (run as root) that deletes a file of the builder, replaces a
/// directory of it, gives files an owner of their own and a name that is not UTF-8.
const CHANGING_ASSEMBLE: &str = r#"#!/bin/sh
set -e
rm /bin/vi
if [ -n "$REPLACE_DIR" ]; then
  rm -rf /usr/libexec/s2i
  mkdir /usr/libexec/s2i
  printf '#!/bin/sh\necho replaced\n' > /usr/libexec/s2i/run
  chmod 0755 /usr/libexec/s2i/run
fi
mkdir -p /srv/data
echo kept > /srv/data/owned
chown -R 1234:5678 /srv/data
printf 'not utf-8' > "$(printf '/srv/caf\351')"
echo assembled
"#;

/// One entry of a layer: name (bytes), type, owner.
#[derive(Clone, PartialEq, Eq)]
struct LayerItem {
    name: Vec<u8>,
    kind: u8,
    owner: (u64, u64),
}

impl std::fmt::Debug for LayerItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = self.name.escape_ascii();
        write!(f, "{} {name} {}:{}", char::from(self.kind), self.owner.0, self.owner.1)
    }
}

/// The diff ID and the entries of the top layer of the image `reference` of the OCI layout `dir`.
fn top_layer(dir: &Path, reference: &str) -> (String, Vec<LayerItem>) {
    let read_json = |path: PathBuf| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
    };
    let blob = |digest: &str| dir.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    let index = read_json(dir.join("index.json"));
    let manifest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == reference)
        .unwrap_or_else(|| panic!("no {reference} in {index}"));
    let manifest = read_json(blob(manifest["digest"].as_str().unwrap()));
    let config = read_json(blob(manifest["config"]["digest"].as_str().unwrap()));
    let diff_id = config["rootfs"]["diff_ids"].as_array().unwrap().last().unwrap().as_str().unwrap().to_owned();
    let layer = manifest["layers"].as_array().unwrap().last().unwrap()["digest"].as_str().unwrap().to_owned();
    let file = std::fs::File::open(blob(&layer)).unwrap();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let items = archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let header = entry.header();
            LayerItem {
                name: entry.path_bytes().into_owned(),
                kind: header.entry_type().as_byte(),
                owner: (header.uid().unwrap(), header.gid().unwrap()),
            }
        })
        .collect();
    (diff_id, items)
}

fn has(items: &[LayerItem], name: &[u8]) -> Option<LayerItem> {
    items.iter().find(|item| item.name == name).cloned()
}

#[test]
fn the_layer_is_the_same_on_overlayfs_fuse_overlayfs_a_copy_and_docker() {
    let setup = Daemonless::new();
    let src = source(&[(".s2i/bin/assemble", CHANGING_ASSEMBLE), ("index.html", "layers")]);
    let path = src.path().to_str().unwrap();
    let builder = archive_location("root-builder");
    let epoch = "1700000000";
    let build = |kind: &str, replace: bool| -> (String, Vec<LayerItem>) {
        let layout = setup.path(&format!("{kind}-{replace}-layout"));
        let output = format!("oci:{}:app", layout.display());
        let mut command = setup.s2i();
        command.env("S2I_OCI_ROOTFS", kind);
        command.args(["build", path, &builder, "app:1", "--source-date-epoch", epoch, "--output", &output]);
        if replace {
            command.args(["-e", "REPLACE_DIR=1"]);
        }
        let run = Run::from(command.output().unwrap()).ok();
        assert!(run.stdout.contains("assembled") || run.stderr.contains("assembled"), "{}", run.stderr);
        setup.assert_clean();
        top_layer(&layout, "app")
    };
    let mut layers = Vec::new();
    for kind in ["overlayfs", "fuse-overlayfs", "copy"] {
        let (diff_id, items) = build(kind, false);
        // The deleted file is a whiteout, the new files keep their owners and bytes.
        assert_eq!(has(&items, b"bin/.wh.vi").map(|i| i.kind), Some(b'0'), "{kind}: {items:#?}");
        assert_eq!(has(&items, b"srv/data/owned").map(|i| i.owner), Some((1234, 5678)), "{kind}: {items:#?}");
        assert_eq!(has(&items, b"srv/data/").map(|i| i.owner), Some((1234, 5678)), "{kind}: {items:#?}");
        assert!(has(&items, b"srv/caf\xe9").is_some(), "{kind}: the name's bytes are kept: {items:#?}");
        // fuse-overlayfs marks the directories it makes opaque; those the image lacked are not.
        assert!(!items.iter().any(|i| i.name.ends_with(b".wh..wh..opq")), "{kind}: {items:#?}");
        layers.push((kind, diff_id, items));

        // A replaced directory hides what the image had in it: opaque on
        // an overlay; a copy cannot tell it from an emptied directory, and
        // whites out what it held name by name.
        let (_, items) = build(kind, true);
        assert!(has(&items, b"usr/libexec/s2i/run").is_some(), "{kind}: {items:#?}");
        let opaque = has(&items, b"usr/libexec/s2i/.wh..wh..opq").is_some();
        assert_eq!(opaque, kind != "copy", "{kind}: {items:#?}");
        for gone in ["assemble", "save-artifacts", "usage"] {
            let whiteout = format!("usr/libexec/s2i/.wh.{gone}");
            assert!(opaque || has(&items, whiteout.as_bytes()).is_some(), "{kind}: {items:#?}");
        }
    }

    // Docker's engine, its changes read path by path, gives the same layer.
    let image = Image::fresh("daemonless-layer");
    let layout = setup.path("docker-layout");
    let output = format!("oci:{}:app", layout.display());
    let args = ["build", path, &fixture("root-builder"), &image.0, "--source-date-epoch", epoch, "--output", &output];
    let run = Run::from(s2i().args(args).output().unwrap()).ok();
    assert!(run.stderr.contains("Build completed successfully"), "{}", run.stderr);
    let (diff_id, items) = top_layer(&layout, "app");
    layers.push(("docker", diff_id, items));
    for (kind, diff_id, items) in &layers {
        assert_eq!(*diff_id, layers[0].1, "{kind}: {items:#?}\n{}: {:#?}", layers[0].0, layers[0].2);
    }
}

#[test]
fn builder_layers_with_names_that_are_not_utf8_on_an_overlay_and_a_copy() {
    // A builder whose layers have names that are not UTF-8 (in a directory so named
    // too): made by s2i itself, as an OCI layout.
    let setup = Daemonless::new();
    let making = "#!/bin/sh
set -e
mkdir -p /srv
mkdir \"$(printf '/srv/d\\351r')\"
printf 'first' > \"$(printf '/srv/d\\351r/f\\351')\"
printf 'gone' > \"$(printf '/srv/caf\\351')\"
";
    let src = source(&[(".s2i/bin/assemble", making), ("index.html", "x")]);
    let layout = setup.path("builder-layout");
    setup
        .run([
            "build",
            src.path().to_str().unwrap(),
            &archive_location("root-builder"),
            "latin1-builder:1",
            "--output",
            &format!("oci:{}:latin1", layout.display()),
        ])
        .ok();
    let (_, items) = top_layer(&layout, "latin1");
    assert!(has(&items, b"srv/d\xe9r/f\xe9").is_some(), "{items:#?}");
    assert!(has(&items, b"srv/caf\xe9").is_some(), "{items:#?}");

    // Built on, the layers unpacked and the root file system an overlay or a
    // copy: the names are read, changed and removed as they are.
    let using = "#!/bin/sh
set -e
cat \"$(printf '/srv/caf\\351')\"
printf ' second' >> \"$(printf '/srv/d\\351r/f\\351')\"
rm \"$(printf '/srv/caf\\351')\"
echo \"read: $(cat \"$(printf '/srv/d\\351r/f\\351')\")\"
";
    let src = source(&[(".s2i/bin/assemble", using), ("index.html", "x")]);
    for kind in ["overlayfs", "copy"] {
        let result = setup.path(&format!("result-{kind}"));
        let mut command = setup.s2i();
        command.env("S2I_OCI_ROOTFS", kind).args([
            "build",
            src.path().to_str().unwrap(),
            &format!("oci:{}:latin1", layout.display()),
            "app:1",
            "--output",
            &format!("oci:{}:app", result.display()),
        ]);
        let run = Run::from(command.output().unwrap()).ok();
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(all.contains("gone"), "{kind}: {all}");
        assert!(all.contains("read: first second"), "{kind}: {all}");
        setup.assert_clean();
        let (_, items) = top_layer(&result, "app");
        assert_eq!(has(&items, b"srv/.wh.caf\xe9").map(|i| i.kind), Some(b'0'), "{kind}: {items:#?}");
        assert_eq!(has(&items, b"srv/d\xe9r/f\xe9").map(|i| i.kind), Some(b'0'), "{kind}: {items:#?}");
    }
}

#[test]
fn scripts_by_url_and_file_ignore_rules_users_and_env_files_as_root_and_rootless() {
    rootless_user("s2i-rootless", true);
    let scripts = tempfile::tempdir().unwrap();
    let http_assemble = "#!/bin/sh
set -e
test ! -e /tmp/src/secret.txt
echo \"---> http assemble as $(id -u), FROM_ENV_FILE=$FROM_ENV_FILE\"
exec /usr/libexec/s2i/assemble
";
    std::fs::write(scripts.path().join("assemble"), http_assemble).unwrap();
    let server = FileServer::start(scripts.path(), 0);
    let builder = archive_location("busybox-builder");
    for user in [None, Some("s2i-rootless")] {
        let setup = Daemonless::new();
        let src = setup.path("src");
        std::fs::create_dir_all(&src).unwrap();
        for (name, text) in [("index.html", "scenarios"), ("secret.txt", "left out"), (".s2iignore", "secret.txt\n")] {
            std::fs::write(src.join(name), text).unwrap();
        }
        let env_file = setup.path("build.env");
        std::fs::write(&env_file, "FROM_ENV_FILE=yes\n").unwrap();
        let file_scripts = setup.path("scripts");
        std::fs::create_dir_all(&file_scripts).unwrap();
        let file_assemble = file_scripts.join("assemble");
        std::fs::write(&file_assemble, "#!/bin/sh\necho \"---> file assemble\"\nexec /usr/libexec/s2i/assemble\n")
            .unwrap();
        std::fs::set_permissions(&file_assemble, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let run = |args: &[&str]| -> Run { Run::from(setup.s2i_by(user).args(args).output().unwrap()) };
        let who = user.unwrap_or("root");
        let (path, archive) = (src.to_str().unwrap(), setup.path("app.tar"));
        let name = format!("s2i-test/{}:1", unique("daemonless-scenarios"));
        let url = format!("http://127.0.0.1:{}/scripts", server.port);
        let output = format!("docker-archive:{}:{name}", archive.display());
        let env = env_file.to_str().unwrap();
        let built = run(&[
            "build",
            path,
            &builder,
            "app:1",
            "-s",
            &url,
            "-E",
            env,
            "--assemble-user",
            "1002",
            "--output",
            &output,
        ])
        .ok();
        assert!(built.stderr.contains("---> http assemble as 1002, FROM_ENV_FILE=yes"), "{who}: {}", built.stderr);
        setup.assert_clean();
        let image = load(&archive, &name);
        assert_eq!(run_in(&image.0, &["cat", "/opt/app-root/src/index.html"]), "scenarios");
        assert!(!succeeds_in(&image.0, &["test", "-e", "/opt/app-root/src/secret.txt"]), "{who}: .s2iignore");
        assert_eq!(run_in(&image.0, &["stat", "-c", "%u", "/opt/app-root/src/index.html"]).trim(), "1002", "{who}");
        let info = run_in(&image.0, &["cat", "/opt/app-root/src/.s2i-build-info"]);
        assert!(info.contains("FROM_ENV_FILE=yes"), "{who}: {info}");

        let file_url = format!("file://{}", file_scripts.display());
        let built = run(&["build", path, &builder, "app:1", "--scripts-url", &file_url]).ok();
        assert!(built.stderr.contains("---> file assemble"), "{who}: {}", built.stderr);
        setup.assert_clean();

        // A user the build may not run as: refused, nothing left behind.
        let refused =
            run(&["build", path, &builder, "app:1", "--assemble-user", "0", "--allowed-uids", "1000-"]).failed();
        assert!(refused.stderr.contains("allowed"), "{who}: {}", refused.stderr);
        setup.assert_clean();
    }
}
