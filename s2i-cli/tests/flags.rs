//! Flags around the build: callback, --run, .s2ifile, temp dirs, symlinks, exit codes.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use support::*;

/// Accept `count` POSTs on 127.0.0.1; the first `drop_first` connections get no answer.
fn callback_server(drop_first: usize, count: usize) -> (String, std::thread::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}/hook", listener.local_addr().unwrap().port());
    let handle = std::thread::spawn(move || {
        let mut bodies = Vec::new();
        for (index, stream) in listener.incoming().take(count).enumerate() {
            let mut stream = stream.unwrap();
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut length = 0;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                    length = v.trim().parse().unwrap();
                }
                if line.trim().is_empty() {
                    break;
                }
            }
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            bodies.push(String::from_utf8(body).unwrap());
            if index >= drop_first {
                stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n").unwrap();
            }
        }
        bodies
    });
    (url, handle)
}

#[test]
fn callback_posts_the_outcome_with_the_same_body_on_retries() {
    let builder = fixture("busybox-builder");
    let src = source(&[("a.txt", "a")]);
    let (url, server) = callback_server(1, 2);
    let out = Image::fresh("callback");
    run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0, "--callback-url", &url]).ok();
    let bodies = server.join().unwrap();
    assert_eq!(bodies.len(), 2, "one retry after a dropped connection");
    assert_eq!(bodies[0], bodies[1], "the same body on every retry");
    let body: serde_json::Value = serde_json::from_str(&bodies[0]).unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(body["labels"]["io.k8s.display-name"], out.0.as_str());

    let (url, server) = callback_server(0, 1);
    run_s2i(["build", src.path().to_str().unwrap(), &builder, "-e", "ASSEMBLE_EXIT_CODE=4", "--callback-url", &url])
        .failed();
    let body: serde_json::Value = serde_json::from_str(&server.join().unwrap()[0]).unwrap();
    assert_eq!(body, serde_json::json!({"success": false}));
}

#[test]
fn run_starts_the_new_image_and_removes_it() {
    let builder = Builder::alias("busybox-builder");
    let src = source(&[("app.sh", "echo the application runs\nexit 7\n")]);
    let out = Image::fresh("run");
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder.image, &out.0, "--run"]);
    assert_eq!(run.code, 7, "the image's exit code: {}", run.stderr);
    assert!(run.stderr.contains("as a result of the --run=true option"), "{}", run.stderr);
    assert!(run.stderr.contains("the application runs"), "{}", run.stderr);
    let left = docker_ok(&[
        "ps",
        "-a",
        "--filter",
        "name=s2i_run_",
        "--filter",
        &format!("ancestor={}", out.0),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(left.trim(), "", "the run container is removed");
    let run =
        run_s2i(["build", src.path().to_str().unwrap(), &builder.image, "--run", "--as-dockerfile", "/tmp/x"]).failed();
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
}

#[test]
fn use_config_saves_and_restores_flags() {
    let builder = fixture("busybox-builder");
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("index.html"), "configured").unwrap();
    let out = Image::fresh("use-config");
    let first = s2i()
        .current_dir(dir.path())
        .args(["build", ".", &builder, &out.0, "--use-config", "-e", "FROM_CONFIG=yes", "--description", "saved"])
        .output()
        .unwrap();
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let saved: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join(".s2ifile")).unwrap()).unwrap();
    assert_eq!(saved["builderImage"], builder.as_str());
    assert_eq!(saved["flags"]["env-0"], "FROM_CONFIG=yes");
    assert_eq!(saved["flags"]["description"], "saved");

    remove_image(&out.0);
    let second = s2i().current_dir(dir.path()).args(["build", "--use-config"]).output().unwrap();
    assert!(second.status.success(), "{}", String::from_utf8_lossy(&second.stderr));
    assert!(run_in(&out.0, &["cat", "/opt/app-root/src/.s2i-build-info"]).contains("FROM_CONFIG=yes"));
    assert_eq!(labels(&out.0)["io.k8s.description"], "saved");

    // Without --use-config and without a builder: a clear, non-zero error.
    let third = s2i().current_dir(dir.path()).args(["build", "."]).output().unwrap();
    assert!(!third.status.success());
    assert!(String::from_utf8_lossy(&third.stderr).contains("Required value not specified for \"builderImage\""));
}

#[test]
fn save_temp_dir_keeps_the_plan_and_scripts() {
    let builder = fixture("busybox-builder");
    let src = source(&[("a.txt", "a"), (".s2i/bin/run", "#!/bin/sh\necho custom run\n")]);
    let run = run_s2i([
        "build",
        src.path().to_str().unwrap(),
        &builder,
        "--save-temp-dir",
        "-e",
        "HTTP_PROXY=http://u:pw@p:1",
    ])
    .ok();
    let _cleanup = Image(run.stdout.trim().to_owned());
    let line = run.stderr.lines().find(|l| l.starts_with("Temporary directory kept: ")).expect("the path is printed");
    let dir = std::path::PathBuf::from(line.trim_start_matches("Temporary directory kept: "));
    let plan = std::fs::read_to_string(dir.join("plan.json")).unwrap();
    assert!(plan.contains("\"destination\": \"/tmp\""), "{plan}");
    assert!(!plan.contains("u:pw"), "no proxy credentials on disk: {plan}");
    assert_eq!(std::fs::read_to_string(dir.join("scripts/run")).unwrap(), "#!/bin/sh\necho custom run\n");
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn keep_symlinks_stores_links() {
    let builder = fixture("busybox-builder");
    let src = source(&[("target.txt", "t")]);
    std::os::unix::fs::symlink("target.txt", src.path().join("link.txt")).unwrap();
    let out = Image::fresh("symlinks");
    run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0, "--keep-symlinks"]).ok();
    assert_eq!(run_in(&out.0, &["readlink", "/tmp/src/link.txt"]).trim(), "target.txt");
    let out = Image::fresh("followed");
    run_s2i(["build", src.path().to_str().unwrap(), &builder, &out.0]).ok();
    assert!(!succeeds_in(&out.0, &["test", "-L", "/tmp/src/link.txt"]), "followed by default");
    assert_eq!(run_in(&out.0, &["cat", "/tmp/src/link.txt"]), "t");
}

#[test]
fn exit_codes_follow_the_reference() {
    let builder = fixture("busybox-builder");
    let empty_repo = tempfile::tempdir().unwrap();
    git2::Repository::init(empty_repo.path()).unwrap();
    let run = run_s2i(["build", empty_repo.path().to_str().unwrap(), &builder]).failed();
    assert_eq!(run.code, 16, "{}", run.stderr);
    let src = source(&[("a.txt", "a")]);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, "-s", "ftp://example.com/scripts"]).failed();
    assert_eq!(run.code, 12, "{}", run.stderr);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, "-e", "ASSEMBLE_EXIT_CODE=3"]).failed();
    assert_eq!(run.code, 13, "{}", run.stderr);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, "Not:Valid"]).failed();
    assert_eq!(run.code, 1, "validation errors exit non-zero (the reference exits 0): {}", run.stderr);
}
