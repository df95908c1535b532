//! The runtime's operations against the real engine.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use futures::StreamExt;
use s2i_core::runtime::{CommitSpec, ContainerRuntime, ImageBuildSpec, RuntimeErrorKind};

use common::{
    ContainerGuard, ImageGuard, TestImage, chunked, generated_stream, run, runtime, shell_spec, tar_of, unique, untar,
};

#[tokio::test(flavor = "multi_thread")]
async fn info_names_the_engine_and_the_negotiated_version() {
    let runtime = runtime().await;
    let info = runtime.info().await.unwrap();
    assert_eq!(info.name, common::engine_name());
    assert!(!info.version.is_empty());
    let server_api = common::docker(&["version", "--format", "{{.Server.APIVersion}}"], None).unwrap();
    let (major, minor) = server_api.split_once('.').unwrap();
    let server = (major.parse::<u32>().unwrap(), minor.parse::<u32>().unwrap());
    let (major, minor) = info.api_version.split_once('.').unwrap();
    let ours = (major.parse::<u32>().unwrap(), minor.parse::<u32>().unwrap());
    assert!(ours <= server, "negotiated {ours:?} must not exceed the engine's {server:?}");
    assert_eq!(info.endpoint, runtime.endpoint());
}

#[tokio::test(flavor = "multi_thread")]
async fn inspect_image_maps_the_config_and_is_none_when_missing() {
    let runtime = runtime().await;
    let missing = format!("{}:latest", unique("s2i-docker-test-missing"));
    assert_eq!(runtime.inspect_image(&missing).await.unwrap(), None);

    let image = TestImage::import();
    let info = runtime.inspect_image(&image.name).await.unwrap().expect("the imported image");
    assert!(info.id.starts_with("sha256:"), "{}", info.id);
    assert!(info.repo_tags.contains(&image.name), "{:?}", info.repo_tags);
    assert!(info.size > 1_000_000, "busybox alone is larger than 1 MB: {}", info.size);
    assert!(info.entrypoint.is_empty());
    // By ID too.
    assert_eq!(runtime.inspect_image(&info.id).await.unwrap().map(|i| i.id), Some(info.id));
}

#[tokio::test(flavor = "multi_thread")]
async fn stdin_streams_a_tar_into_tar_x_and_download_reads_it_back() {
    let runtime = runtime().await;
    let image = TestImage::import();
    let input = tar_of(&[("hello.txt", b"hello from stdin\n"), ("sub/other.txt", b"other")]);
    let spec = shell_spec(&image.name, "tar -x -C /tmp && echo extracted", true);
    let (container, status, stdout, stderr) = run(&runtime, &spec, Some(chunked(input, 100))).await;
    assert_eq!(status.code, 0, "stderr: {}", String::from_utf8_lossy(&stderr));
    assert_eq!(String::from_utf8_lossy(&stdout), "extracted\n");

    let mut archive = runtime.download_archive(&container.0, "/tmp/hello.txt").await.unwrap().expect("the file exists");
    let mut bytes = Vec::new();
    while let Some(chunk) = archive.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    assert_eq!(untar(&bytes), vec![("hello.txt".to_owned(), b"hello from stdin\n".to_vec())]);

    assert!(runtime.download_archive(&container.0, "/tmp/nope").await.unwrap().is_none());
    let error = match runtime.download_archive("s2i-docker-test-no-such-container", "/tmp").await {
        Err(e) => e,
        Ok(_) => panic!("a missing container is an error"),
    };
    assert_eq!(error.kind, RuntimeErrorKind::NotFound, "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn closing_stdin_sends_eof_and_large_input_streams_through() {
    let runtime = runtime().await;
    let image = TestImage::import();
    let size = 32 * 1024 * 1024 + 123;
    let spec = shell_spec(&image.name, "wc -c", true);
    let (_container, status, stdout, _) =
        tokio::time::timeout(Duration::from_secs(120), run(&runtime, &spec, Some(generated_stream(size))))
            .await
            .expect("wc -c ends once stdin is closed");
    assert_eq!(status.code, 0);
    assert_eq!(String::from_utf8_lossy(&stdout).trim(), size.to_string());

    let spec = shell_spec(&image.name, "cat", true);
    let (_container, status, stdout, _) = run(&runtime, &spec, Some(chunked(b"round trip".to_vec(), 3))).await;
    assert_eq!(status.code, 0);
    assert_eq!(stdout, b"round trip");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_non_zero_exit_is_a_status_not_an_error_and_output_is_demultiplexed() {
    let runtime = runtime().await;
    let image = TestImage::import();
    let spec = shell_spec(&image.name, "echo out; echo err >&2; exit 3", false);
    let (_container, status, stdout, stderr) = run(&runtime, &spec, None).await;
    assert_eq!(status.code, 3);
    assert!(!status.oom_killed);
    assert_eq!(stdout, b"out\n");
    assert_eq!(stderr, b"err\n");

    let spec = shell_spec(&image.name, "exit 0", false);
    let (_container, status, _, _) = run(&runtime, &spec, None).await;
    assert_eq!(status.code, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn upload_archive_into_a_created_container() {
    let runtime = runtime().await;
    let image = TestImage::import();
    let spec = shell_spec(&image.name, "cat /data/in/file.txt; ls /data/in", false);
    let id = runtime.create_container(&spec).await.unwrap();
    let _container = ContainerGuard(id.clone());
    let archive = tar_of(&[("in/file.txt", b"uploaded\n"), ("in/second", b"")]);
    runtime.upload_archive(&id, "/data", chunked(archive, 512)).await.unwrap();
    let attachment = runtime.attach_container(&id, false).await.unwrap();
    assert!(attachment.stdin.is_none());
    runtime.start_container(&id).await.unwrap();
    let (stdout, stderr) = common::collect(attachment.output).await;
    assert_eq!(
        String::from_utf8_lossy(&stdout),
        "uploaded\nfile.txt\nsecond\n",
        "{}",
        String::from_utf8_lossy(&stderr)
    );
    assert_eq!(runtime.wait_container(&id).await.unwrap().code, 0);

    let error = runtime.upload_archive(&id, "/no/such/dir", chunked(tar_of(&[("f", b"x")]), 512)).await.unwrap_err();
    assert_eq!(error.kind, RuntimeErrorKind::NotFound, "{error}");
    let error =
        runtime.upload_archive("s2i-docker-test-no-such-container", "/", chunked(tar_of(&[]), 512)).await.unwrap_err();
    assert_eq!(error.kind, RuntimeErrorKind::NotFound, "{error}");
    assert!(error.message.to_ascii_lowercase().contains("no such container"), "{error}");
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_writes_the_config_and_clears_the_entrypoint() {
    let runtime = runtime().await;
    let image = TestImage::import();
    // The container has an entrypoint; the committed image must not.
    let mut spec = shell_spec(&image.name, "echo built > /tmp/artifact", false);
    spec.entrypoint = Some(vec!["/bin/sh".into(), "-c".into()]);
    spec.cmd = vec!["echo built > /tmp/artifact".into()];
    let (container, status, _, _) = run(&runtime, &spec, None).await;
    assert_eq!(status.code, 0);

    let repository = unique("s2i-docker-test-commit");
    let commit = CommitSpec {
        repository: Some(repository.clone()),
        tag: Some("v1".into()),
        cmd: vec!["/bin/sh".into(), "-c".into(), "cat /tmp/artifact".into()],
        entrypoint: vec![],
        env: vec!["BUILT=yes".into(), "PATH=/bin".into()],
        user: "1001".into(),
        labels: BTreeMap::from([("io.s2i.test".to_owned(), "committed".to_owned())]),
    };
    let id = runtime.commit_container(&container.0, &commit).await.unwrap();
    let _committed = ImageGuard(id.clone());
    assert!(id.starts_with("sha256:"), "{id}");
    let info = runtime.inspect_image(&id).await.unwrap().expect("the committed image");
    assert!(info.entrypoint.is_empty(), "entrypoint {:?}", info.entrypoint);
    assert_eq!(info.cmd, commit.cmd);
    assert_eq!(info.user, "1001");
    assert_eq!(info.env_var("BUILT"), Some("yes"));
    assert_eq!(info.labels.get("io.s2i.test").map(String::as_str), Some("committed"));
    assert_eq!(info.repo_tags, vec![format!("{repository}:v1")]);

    // The new image runs its command (no entrypoint in the way).
    let run_spec = s2i_core::runtime::ContainerSpec {
        name: Some(unique("s2i-docker-test-run")),
        image: id.clone(),
        user: Some("0".into()),
        ..Default::default()
    };
    let (_run, status, stdout, _) = run(&runtime, &run_spec, None).await;
    assert_eq!(status.code, 0);
    assert_eq!(stdout, b"built\n");

    // Untagged commit.
    let untagged = runtime
        .commit_container(&container.0, &CommitSpec { repository: None, tag: None, ..commit.clone() })
        .await
        .unwrap();
    let _untagged = ImageGuard(untagged.clone());
    let info = runtime.inspect_image(&untagged).await.unwrap().unwrap();
    assert!(info.repo_tags.is_empty() || info.repo_tags == ["<none>:<none>"], "{:?}", info.repo_tags);
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_records_awkward_values_exactly_and_keeps_the_containers_others() {
    let runtime = runtime().await;
    let image = TestImage::import();
    let mut spec = shell_spec(&image.name, "true", false);
    spec.env = vec!["KEPT=from the container".into(), "REPLACED=old".into()];
    spec.labels = BTreeMap::from([
        ("io.s2i.test.kept".to_owned(), "container label".to_owned()),
        ("io.s2i.test.replaced".to_owned(), "old".to_owned()),
    ]);
    let (container, status, _, _) = run(&runtime, &spec, None).await;
    assert_eq!(status.code, 0);

    let env = [
        "REPLACED=new",
        "SPACED=a b  c ",
        "QUOTED=\"q\" 'r' \"",
        "EQUALS=x=y==",
        "COMMA=a,b, c",
        "EMPTY=",
        "UNICODE=ünï ✓",
        "BACKSLASH=a\\b\\\"",
        "TAB=a\tb",
    ];
    let labels = [
        ("io.s2i.test.replaced", "new"),
        ("io.s2i.test.spaced", " a b  c "),
        ("io.s2i.test.quoted", "\"q\" = 'r' \""),
        ("io.s2i.test.comma", "a,b, c=d"),
        ("io.s2i.test.empty", ""),
        ("key with \"spaces\"", "ünï ✓ \\"),
    ];
    let commit = CommitSpec {
        repository: None,
        tag: None,
        cmd: vec!["/bin/sh".into(), "-c".into(), "printf '[%s]\\n' \"$SPACED\" \"$QUOTED\" \"$KEPT\"".into()],
        entrypoint: vec![],
        env: env.iter().map(|e| (*e).to_owned()).collect(),
        user: "1001:0".into(),
        labels: labels.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
    };
    let id = runtime.commit_container(&container.0, &commit).await.unwrap();
    let _committed = ImageGuard(id.clone());
    let info = runtime.inspect_image(&id).await.unwrap().expect("the committed image");
    assert_eq!(info.cmd, commit.cmd);
    assert!(info.entrypoint.is_empty(), "{:?}", info.entrypoint);
    assert_eq!(info.user, "1001:0");
    for entry in env {
        let (name, value) = entry.split_once('=').unwrap();
        assert_eq!(info.env_var(name), Some(value), "{name} in {:?}", info.env);
    }
    assert_eq!(info.env_var("KEPT"), Some("from the container"), "the container's other variables stay");
    assert_eq!(info.env.iter().filter(|e| e.starts_with("REPLACED=")).count(), 1, "{:?}", info.env);
    for (key, value) in labels {
        assert_eq!(info.labels.get(key).map(String::as_str), Some(value), "{key} in {:?}", info.labels);
    }
    assert_eq!(info.labels.get("io.s2i.test.kept").map(String::as_str), Some("container label"));

    let run_spec = s2i_core::runtime::ContainerSpec {
        name: Some(unique("s2i-docker-test-run")),
        image: id.clone(),
        ..Default::default()
    };
    let (_run, status, stdout, stderr) = run(&runtime, &run_spec, None).await;
    assert_eq!(status.code, 0, "{}", String::from_utf8_lossy(&stderr));
    assert_eq!(String::from_utf8_lossy(&stdout), "[a b  c ]\n[\"q\" 'r' \"]\n[from the container]\n");
}

/// Whether the engine under test is a Podman that reads a commit's
/// configuration only from its `changes` (before 4.9.3).
async fn podman_reads_only_changes(runtime: &s2i_docker::DockerRuntime) -> bool {
    let info = runtime.info().await.unwrap();
    let version: Vec<u64> = info.version.split(['.', '-']).take(3).map(|p| p.parse().unwrap_or(0)).collect();
    info.name == "Podman Engine" && version.as_slice() < [4, 9, 3].as_slice()
}

#[tokio::test(flavor = "multi_thread")]
async fn commit_of_a_line_break_is_recorded_or_refused_before_writing() {
    let runtime = runtime().await;
    let image = TestImage::import();
    let (container, status, _, _) = run(&runtime, &shell_spec(&image.name, "true", false), None).await;
    assert_eq!(status.code, 0);
    let repository = unique("s2i-docker-test-multiline");
    let _tagged = ImageGuard(format!("{repository}:latest"));
    let commit = CommitSpec {
        repository: Some(repository.clone()),
        tag: Some("latest".into()),
        cmd: vec!["/bin/sh".into()],
        labels: BTreeMap::from([("io.s2i.test.message".to_owned(), "first line\nsecond line".to_owned())]),
        ..CommitSpec::default()
    };
    let result = runtime.commit_container(&container.0, &commit).await;
    if podman_reads_only_changes(&runtime).await {
        let error = result.unwrap_err();
        assert_eq!(error.kind, RuntimeErrorKind::Rejected, "{error}");
        assert!(error.message.contains("\"io.s2i.test.message\""), "the label is named: {error}");
        assert!(runtime.inspect_image(&format!("{repository}:latest")).await.unwrap().is_none(), "nothing is written");
    } else {
        let id = result.unwrap();
        let _committed = ImageGuard(id.clone());
        let info = runtime.inspect_image(&id).await.unwrap().unwrap();
        assert_eq!(info.labels["io.s2i.test.message"], "first line\nsecond line");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn tag_remove_image_and_remove_container() {
    let runtime = runtime().await;
    let image = TestImage::import();
    let repository = unique("s2i-docker-test-tag");
    let _tagged = ImageGuard(format!("{repository}:t2"));
    runtime.tag_image(&image.name, &repository, "t2").await.unwrap();
    let info = runtime.inspect_image(&format!("{repository}:t2")).await.unwrap().expect("tagged");
    assert!(info.repo_tags.contains(&image.name), "{:?}", info.repo_tags);

    // Removing a tag of an image with another tag untags it.
    runtime.remove_image(&format!("{repository}:t2")).await.unwrap();
    assert!(runtime.inspect_image(&format!("{repository}:t2")).await.unwrap().is_none());
    let error = runtime.remove_image(&format!("{repository}:t2")).await.unwrap_err();
    assert_eq!(error.kind, RuntimeErrorKind::NotFound, "{error}");
    // The engine's own message: Docker says "No such image: NAME", Podman "failed to find image NAME: …".
    assert!(error.message.contains(&format!("{repository}:t2")), "the engine's own message: {}", error.message);

    let error = runtime.tag_image("s2i-docker-test-no-such-image:latest", &repository, "x").await.unwrap_err();
    assert_eq!(error.kind, RuntimeErrorKind::NotFound, "{error}");

    // An image in use by a container is not removed (not forced).
    let spec = shell_spec(&image.name, "true", false);
    let id = runtime.create_container(&spec).await.unwrap();
    let _container = ContainerGuard(id.clone());
    let error = runtime.remove_image(&info.id).await.unwrap_err();
    assert_eq!(error.kind, RuntimeErrorKind::Rejected, "{error}");
    assert!(runtime.inspect_image(&info.id).await.unwrap().is_some());

    runtime.remove_container(&id).await.unwrap();
    let error = runtime.remove_container(&id).await.unwrap_err();
    assert_eq!(error.kind, RuntimeErrorKind::NotFound, "{error}");
    let error = runtime.start_container(&id).await.unwrap_err();
    assert_eq!(error.kind, RuntimeErrorKind::NotFound, "{error}");
    let error = runtime.wait_container(&id).await.unwrap_err();
    assert_eq!(error.kind, RuntimeErrorKind::NotFound, "{error}");
}

/// Podman rewrites an image's whole name list per tag, so parallel tags of
/// one image used to drop each other's names; every tag must hold.
#[tokio::test(flavor = "multi_thread")]
async fn parallel_tags_of_one_image_all_hold() {
    let runtime = runtime().await;
    let image = TestImage::import();
    let repository = unique("s2i-docker-test-parallel-tag");
    let tags: Vec<String> = (0..16).map(|i| format!("t{i}")).collect();
    let _guards: Vec<ImageGuard> = tags.iter().map(|tag| ImageGuard(format!("{repository}:{tag}"))).collect();
    let tagged =
        futures::future::join_all(tags.iter().map(|tag| runtime.tag_image(&image.name, &repository, tag))).await;
    for (tag, result) in tags.iter().zip(tagged) {
        result.unwrap_or_else(|e| panic!("tag {tag}: {e}"));
    }
    let info = runtime.inspect_image(&image.name).await.unwrap().expect("the image");
    for tag in &tags {
        let name = format!("{repository}:{tag}");
        assert!(info.repo_tags.contains(&name), "{name} was lost: {:?}", info.repo_tags);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn create_container_maps_host_options() {
    let runtime = runtime().await;
    let image = TestImage::import();
    let mut spec = shell_spec(&image.name, "cat /etc/hosts; echo \"$GREETING\"; pwd", false);
    spec.user = Some("1234".into());
    spec.working_dir = Some("/tmp".into());
    spec.env = vec!["GREETING=hi".into()];
    spec.labels = BTreeMap::from([("io.s2i.test".to_owned(), "create".to_owned())]);
    spec.host.cap_drop = vec!["MKNOD".into()];
    spec.host.extra_hosts = vec!["s2i-test-host:10.1.2.3".into()];
    spec.host.network_mode = Some("none".into());
    spec.host.security_opt = vec!["no-new-privileges".into()];
    spec.host.limits.memory_bytes = Some(64 * 1024 * 1024);
    spec.host.limits.memory_swap_bytes = Some(128 * 1024 * 1024);
    spec.host.limits.nano_cpus = Some(500_000_000);
    spec.host.limits.shm_size_bytes = Some(16 * 1024 * 1024);
    let (container, status, stdout, stderr) = run(&runtime, &spec, None).await;
    assert_eq!(status.code, 0, "{}", String::from_utf8_lossy(&stderr));
    let stdout = String::from_utf8_lossy(&stdout);
    assert!(stdout.contains("10.1.2.3\ts2i-test-host"), "{stdout}");
    assert!(stdout.ends_with("hi\n/tmp\n"), "{stdout}");

    let inspect = common::docker(
        &[
            "inspect",
            "--format",
            "{{json .HostConfig.CapDrop}} {{.HostConfig.NetworkMode}} {{json .HostConfig.SecurityOpt}} {{.HostConfig.Memory}} {{.HostConfig.MemorySwap}} {{.HostConfig.NanoCpus}} {{.HostConfig.ShmSize}} {{.Config.User}} {{index .Config.Labels \"io.s2i.test\"}} {{.Config.OpenStdin}} {{.Config.Tty}}",
            &container.0,
        ],
        None,
    )
    .unwrap();
    assert_eq!(
        inspect,
        "[\"MKNOD\"] none [\"no-new-privileges\"] 67108864 134217728 500000000 16777216 1234 create false false"
    );
    // Podman adds variables of its own (container=podman, TERM, PATH, HOSTNAME); ours must be there.
    let env = common::docker(&["inspect", "--format", "{{json .Config.Env}}", &container.0], None).unwrap();
    let env: Vec<String> = serde_json::from_str(&env).unwrap();
    assert_eq!(env.iter().filter(|e| e.starts_with("GREETING=")).collect::<Vec<_>>(), ["GREETING=hi"], "{env:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn list_containers_finds_running_containers_by_label_with_addresses_and_ports() {
    let runtime = runtime().await;
    let image = TestImage::import();
    let label = unique("s2i-docker-test-list");
    let name = unique("s2i-docker-test-listed");
    let published = unique("s2i-docker-test-published");
    let stopped = unique("s2i-docker-test-stopped");
    let _guards = [ContainerGuard(name.clone()), ContainerGuard(published.clone()), ContainerGuard(stopped.clone())];
    let selector = format!("io.s2i.test.list={label}");
    for (container, extra) in
        [(&name, vec!["--expose", "8080"]), (&published, vec!["--publish", "127.0.0.1::9090", "--label", "tier=web"])]
    {
        let mut args = vec!["run", "--detach", "--name", container.as_str(), "--label", selector.as_str()];
        args.extend(extra);
        args.extend([image.name.as_str(), "/bin/busybox", "sleep", "300"]);
        common::docker(&args, None).unwrap();
    }
    common::docker(&["create", "--name", &stopped, "--label", &selector, &image.name, "/bin/sh"], None).unwrap();

    let labels = BTreeMap::from([("io.s2i.test.list".to_owned(), label.clone())]);
    let listed = runtime.list_containers(&labels).await.unwrap();
    let names: Vec<&str> = listed.iter().map(|container| container.name.as_str()).collect();
    let mut expected = vec![name.as_str(), published.as_str()];
    expected.sort();
    assert_eq!(names, expected, "running containers only, sorted by name");

    let exposed = listed.iter().find(|container| container.name == name).unwrap();
    assert_eq!(exposed.labels.get("io.s2i.test.list"), Some(&label));
    // One address, on the engine's default network: `bridge` on Docker, `podman` on Podman.
    assert_eq!(exposed.addresses.len(), 1, "{:?}", exposed.addresses);
    let (network, ip) = exposed.addresses.iter().next().unwrap();
    assert!(["bridge", "podman"].contains(&network.as_str()), "{network}");
    assert!(ip.parse::<std::net::IpAddr>().is_ok(), "{ip}");
    assert_eq!(exposed.ports.len(), 1, "{:?}", exposed.ports);
    assert_eq!((exposed.ports[0].container_port, exposed.ports[0].host_port), (8080, None));
    assert_eq!(exposed.ports[0].protocol, "tcp");

    let with_port = listed.iter().find(|container| container.name == published).unwrap();
    let port = with_port.ports.iter().find(|port| port.host_port.is_some()).expect("a published port");
    assert_eq!((port.container_port, port.host_ip.as_deref()), (9090, Some("127.0.0.1")));

    let mut narrower = labels.clone();
    narrower.insert("tier".into(), "web".into());
    let listed = runtime.list_containers(&narrower).await.unwrap();
    assert_eq!(listed.iter().map(|container| container.name.as_str()).collect::<Vec<_>>(), [published.as_str()]);

    // Containers in any state, by ID: the created one too.
    let ids = runtime.containers_with_labels(&labels).await.unwrap();
    assert_eq!(ids.len(), 3, "{ids:?}");
    let stopped_id = common::docker(&["inspect", "--format", "{{.Id}}", &stopped], None).unwrap();
    assert!(ids.contains(&stopped_id.trim().to_owned()), "{ids:?}");
}

/// Build `dockerfile` (with an empty context) as `tag` with the runtime.
async fn build(runtime: &s2i_docker::DockerRuntime, tag: &str, dockerfile: &str) -> String {
    let context = tar_of(&[("Dockerfile", dockerfile.as_bytes())]);
    let spec = ImageBuildSpec { tag: Some(tag.to_owned()), dockerfile: "Dockerfile".into(), ..Default::default() };
    let lines = std::sync::Mutex::new(Vec::new());
    let result = runtime.build_image(chunked(context, 512), &spec, &|line| lines.lock().unwrap().push(line)).await;
    result.unwrap_or_else(|e| panic!("building {tag} failed: {e}\n{}", lines.lock().unwrap().join("\n")))
}

#[tokio::test(flavor = "multi_thread")]
async fn onbuild_triggers_are_inspected_only_where_they_apply() {
    let runtime = runtime().await;
    let base = TestImage::import();
    let parent = ImageGuard(format!("{}:latest", unique("s2i-docker-test-onbuild")));
    let child = ImageGuard(format!("{}:latest", unique("s2i-docker-test-onbuild-child")));
    let grandchild = ImageGuard(format!("{}:latest", unique("s2i-docker-test-onbuild-grandchild")));
    build(
        &runtime,
        &parent.0,
        &format!("FROM {}\nONBUILD RUN echo \"trigger ran\" > /tmp/trigger\nONBUILD USER 1001\nLABEL a=b\n", base.name),
    )
    .await;
    let info = runtime.inspect_image(&parent.0).await.unwrap().expect("the parent");
    assert_eq!(info.on_build, ["RUN echo \"trigger ran\" > /tmp/trigger", "USER 1001"]);
    assert_eq!(info.labels.get("a").map(String::as_str), Some("b"));

    // Building from it runs and consumes the triggers: the child has none, though its history names them.
    build(&runtime, &child.0, &format!("FROM {}\nLABEL c=d\n", parent.0)).await;
    let info = runtime.inspect_image(&child.0).await.unwrap().expect("the child");
    assert!(info.on_build.is_empty(), "{:?}", info.on_build);
    assert_eq!(info.user, "1001", "the ONBUILD USER trigger ran");

    // A trigger of its own is the grandchild's only one.
    build(&runtime, &grandchild.0, &format!("FROM {}\nONBUILD RUN true\n", child.0)).await;
    let info = runtime.inspect_image(&grandchild.0).await.unwrap().expect("the grandchild");
    assert_eq!(info.on_build, ["RUN true"]);

    // And an image that never had any.
    assert!(runtime.inspect_image(&base.name).await.unwrap().expect("the base").on_build.is_empty());
}
