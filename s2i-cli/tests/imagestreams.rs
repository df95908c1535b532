//! Image streams end to end: the real `s2i` binary, the real engine, a real
//! registry (Debian's docker-registry) and a store in a temp dir per test.

mod support;

use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use support::*;

fn json(run: Run) -> Value {
    serde_json::from_str(&run.ok().stdout).expect("the output is JSON")
}

fn items(store: &std::path::Path, ns: &str, stream: &str, tag: &str) -> Vec<String> {
    let stream = json(run_in_store(store, ns, ["get", "is", stream, "-o", "json"]));
    let tags = stream["status"]["tags"].as_array().cloned().unwrap_or_default();
    tags.iter()
        .find(|t| t["tag"] == tag)
        .map(|t| t["items"].as_array().unwrap().iter().map(|i| i["image"].as_str().unwrap().to_owned()).collect())
        .unwrap_or_default()
}

#[test]
fn build_records_the_image_and_promotion_moves_engine_tags() {
    let ns = Namespace::fresh();
    let store = tempfile::tempdir().unwrap();
    let builder = Builder::alias("busybox-builder");
    let v1 = source(&[("index.html", "version one\n")]);

    let run =
        run_in_store(store.path(), &ns.0, ["build", v1.path().to_str().unwrap(), &builder.image, "--to", "app:dev"])
            .ok();
    assert!(run.stderr.contains("Recorded sha256:"), "{}", run.stderr);
    let dev_tag = format!("{}/app:dev", ns.0);
    let first = ns.engine_id(&dev_tag).expect("the engine tag follows the stream");

    // The recorded reference of an image only the engine has runs as exactly that image.
    let stream = json(run_in_store(store.path(), &ns.0, ["get", "is", "app", "-o", "json"]));
    let reference = stream["status"]["tags"][0]["items"][0]["dockerImageReference"].as_str().unwrap().to_owned();
    assert_eq!(reference, first, "an engine-only image is referenced by its ID: {stream:#}");
    assert_eq!(run_in(&reference, &["env", "RUN_FILE=index.html", "/usr/libexec/s2i/run"]), "version one\n");

    // The build's labels are the image's; the push wrote the stream's status
    // only (as on OpenShift), so no spec tag carries them to a cluster.
    let istag = json(run_in_store(store.path(), &ns.0, ["get", "istag", "app:dev", "-o", "json"]));
    assert_eq!(istag["image"]["metadata"]["name"], first, "an image without registry digest is named by its ID");
    let builder_label = format!("docker.io/{}", builder.image);
    let labels = &istag["image"]["dockerImageMetadata"]["Config"]["Labels"];
    assert_eq!(labels["io.openshift.s2i.build.image"], builder_label.as_str(), "{istag:#}");
    assert!(istag["tag"].is_null() && istag["metadata"]["annotations"].is_null(), "{istag:#}");
    let export = run_in_store(store.path(), &ns.0, ["export", "is", "app"]).ok().stdout;
    let exported: serde_json::Value = serde_norway::from_str(&export).unwrap();
    assert!(exported["spec"]["tags"].is_null(), "{export}");
    assert!(!export.contains("io.openshift.") && !export.contains("/tmp/"), "{export}");

    // `-o wide` adds the image's name, as `oc get istag -o wide` and `oc get isimage -o wide` do.
    let wide = run_in_store(store.path(), &ns.0, ["get", "istag", "app:dev", "-o", "wide"]).ok().stdout;
    let lines: Vec<Vec<&str>> = wide.lines().map(|line| line.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["NAME", "IMAGE", "REFERENCE", "UPDATED", "IMAGE", "NAME", "LABELS"], "{wide}");
    assert_eq!((lines[1][0], lines[1][1], lines[1][3]), ("app:dev", first.as_str(), first.as_str()), "{wide}");
    let isimage = format!("app@{first}");
    let wide = run_in_store(store.path(), &ns.0, ["get", "isimage", &isimage, "-o", "wide"]).ok().stdout;
    let lines: Vec<Vec<&str>> = wide.lines().map(|line| line.split_whitespace().collect()).collect();
    assert_eq!(lines[0], ["NAME", "IMAGE", "REFERENCE", "IMAGE", "NAME", "LABELS"], "{wide}");
    assert_eq!(lines[1][..3], [isimage.as_str(), first.as_str(), first.as_str()], "{wide}");
    let narrow = run_in_store(store.path(), &ns.0, ["get", "istag", "app:dev"]).ok().stdout;
    assert!(!narrow.contains("IMAGE NAME"), "{narrow}");

    // Promote: prod gets a snapshot of dev.
    let run = run_in_store(store.path(), &ns.0, ["tag", "app:dev", "app:prod"]).ok();
    assert_eq!(run.stdout.trim(), format!("Tag app:prod set to app@{first}."));
    let prod_tag = format!("{}/app:prod", ns.0);
    assert_eq!(ns.engine_id(&prod_tag).as_deref(), Some(first.as_str()));
    assert_eq!(run_in(&prod_tag, &["env", "RUN_FILE=index.html", "/usr/libexec/s2i/run"]), "version one\n");

    // A new build moves dev; prod stays; dev's history keeps both.
    let v2 = source(&[("index.html", "version two\n")]);
    run_in_store(store.path(), &ns.0, ["build", v2.path().to_str().unwrap(), &builder.image, "--to", "app:dev"]).ok();
    let second = ns.engine_id(&dev_tag).unwrap();
    assert_ne!(first, second);
    assert_eq!(ns.engine_id(&prod_tag).as_deref(), Some(first.as_str()), "a copy is a snapshot");
    assert_eq!(items(store.path(), &ns.0, "app", "dev"), [second.clone(), first.clone()]);
    assert_eq!(run_in(&dev_tag, &["env", "RUN_FILE=index.html", "/usr/libexec/s2i/run"]), "version two\n");

    // Roll prod forward by digest prefix, then delete dev: its engine tag goes too.
    let prefix = &second["sha256:".len().."sha256:".len() + 12];
    run_in_store(store.path(), &ns.0, ["tag", &format!("app@{prefix}"), "app:prod"]).ok();
    assert_eq!(ns.engine_id(&prod_tag).as_deref(), Some(second.as_str()));
    assert_eq!(items(store.path(), &ns.0, "app", "prod"), [second.clone(), first.clone()]);
    let run = run_in_store(store.path(), &ns.0, ["tag", "-d", "app:dev"]).ok();
    assert_eq!(run.stdout.trim(), format!("Deleted tag {}/app:dev.", ns.0));
    assert_eq!(ns.engine_tags(), vec![prod_tag]);

    let check = run_in_store(store.path(), &ns.0, ["store", "check"]).ok();
    assert!(check.stdout.contains(": ok"), "{}", check.stdout);
    builder.assert_no_containers();
}

#[test]
fn aliases_follow_and_other_streams_get_their_own_repository() {
    let ns = Namespace::fresh();
    let store = tempfile::tempdir().unwrap();
    let base = fixture("base");
    let builder = fixture("busybox-builder");
    run_in_store(store.path(), &ns.0, ["tag", "--source=docker", &base, "app:1.0"]).ok();
    let run = run_in_store(store.path(), &ns.0, ["tag", "--alias", "app:1.0", "app:latest"]).ok();
    assert_eq!(run.stdout.trim(), "Tag app:latest set up to track app:1.0.");
    run_in_store(store.path(), &ns.0, ["tag", "app:1.0", "release:1.0", "other-ns/release:live"]).ok();
    let other = Namespace("other-ns".into());

    let base_id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", &base]).trim().to_owned();
    let builder_id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", &builder]).trim().to_owned();
    let (base_name, release_reference) = stream_identity(&base);
    let (builder_name, _) = stream_identity(&builder);
    for tag in ["app:1.0", "app:latest", "release:1.0"] {
        assert_eq!(ns.engine_id(&format!("{}/{tag}", ns.0)).as_deref(), Some(base_id.as_str()), "{tag}");
    }
    assert_eq!(other.engine_id("other-ns/release:live").as_deref(), Some(base_id.as_str()));
    let release = json(run_in_store(store.path(), &ns.0, ["get", "istag", "release:1.0", "-o", "json"]));
    assert_eq!(
        release["image"]["dockerImageReference"],
        release_reference.as_str(),
        "a cross-stream copy names the image as the source does (an engine-only image by its ID)"
    );

    // Moving 1.0 moves the alias, not the copies.
    run_in_store(store.path(), &ns.0, ["tag", "--source=docker", &builder, "app:1.0"]).ok();
    assert_eq!(ns.engine_id(&format!("{}/app:latest", ns.0)).as_deref(), Some(builder_id.as_str()));
    assert_eq!(ns.engine_id(&format!("{}/release:1.0", ns.0)).as_deref(), Some(base_id.as_str()));
    assert_eq!(items(store.path(), &ns.0, "app", "latest"), [builder_name, base_name]);

    let run = run_in_store(store.path(), &ns.0, ["tag", "--alias", "app:1.0", "release:2.0"]).failed();
    assert!(run.stderr.contains("cannot set alias across different Image Streams"), "{}", run.stderr);
    run_in_store(store.path(), &ns.0, ["delete", "is", "release"]).ok();
    assert!(ns.engine_id(&format!("{}/release:1.0", ns.0)).is_none(), "deleting a stream removes its engine tags");
    let events_ok = run_in_store(store.path(), &ns.0, ["store", "check"]).ok();
    assert!(events_ok.stdout.contains(": ok"));
    drop(other);
}

#[test]
fn registry_streams_tag_in_the_registry_without_moving_layers() {
    let registry = Registry::start();
    let ns = Namespace::fresh();
    let store = tempfile::tempdir().unwrap();
    let pushed = registry.push(&fixture("base"), "team/app:1");
    let digest = registry.digest_of("team/app", "1").expect("pushed");

    let stream_yaml = format!(
        "apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata:\n  name: app\n  annotations:\n    s2i-rs.github.io/registry: \"{}\"\n",
        registry.host
    );
    let file = store.path().join("stream.yaml");
    std::fs::write(&file, stream_yaml).unwrap();
    let run = run_in_store(store.path(), &ns.0, ["apply", "-f", file.to_str().unwrap()]).ok();
    assert_eq!(run.stdout.trim(), "imagestream.image.openshift.io/app created");
    let run = run_in_store(store.path(), &ns.0, ["apply", "-f", file.to_str().unwrap()]).ok();
    assert_eq!(run.stdout.trim(), "imagestream.image.openshift.io/app unchanged");

    let log_before_import = registry.log_text().len();
    let run = run_in_store(store.path(), &ns.0, ["import-image", "app:1", "--from", &pushed, "--confirm"]).ok();
    assert!(run.stdout.contains(&format!("app:1 -> {}/team/app@{digest}", registry.host)), "{}", run.stdout);
    let repo = format!("{}/app", ns.0);
    assert_eq!(registry.digest_of(&repo, "1").as_deref(), Some(digest.as_str()), "the stream's repository has the tag");
    let import_log = registry.log_text()[log_before_import..].to_owned();
    assert!(import_log.contains("mount="), "the layers were mounted from team/app:\n{import_log}");
    assert!(!import_log.contains("\"PATCH "), "no blob was uploaded:\n{import_log}");

    let log_before_tag = registry.log_text().len();
    run_in_store(store.path(), &ns.0, ["tag", "app:1", "app:prod"]).ok();
    assert_eq!(registry.digest_of(&repo, "prod").as_deref(), Some(digest.as_str()));
    let tag_log = registry.log_text()[log_before_tag..].to_owned();
    assert!(!tag_log.contains("/blobs/"), "tagging touched no blob:\n{tag_log}");
    assert!(tag_log.contains(&format!("\"PUT /v2/{repo}/manifests/prod")), "{tag_log}");
    assert!(ns.engine_tags().is_empty(), "a registry stream leaves the engine alone: {:?}", ns.engine_tags());

    // Reference policy: Source gives the original pull spec, Local the stream's repository.
    let istag = json(run_in_store(store.path(), &ns.0, ["get", "istag", "app:prod", "-o", "json"]));
    assert_eq!(istag["image"]["dockerImageReference"], format!("{}/team/app@{digest}", registry.host));
    run_in_store(store.path(), &ns.0, ["tag", "app:1", "app:local", "--reference-policy", "local"]).ok();
    let local = json(run_in_store(store.path(), &ns.0, ["get", "istag", "app:local", "-o", "json"]));
    assert_eq!(local["image"]["dockerImageReference"], format!("{}/{repo}@{digest}", registry.host));
    assert_eq!(istag["image"]["dockerImageLayers"].as_array().unwrap().len(), 1, "layers come from the manifest");

    // A missing tag is an import failure recorded on the tag; the old image stays.
    let run = run_in_store(
        store.path(),
        &ns.0,
        ["import-image", "app:1", "--from", &format!("{}/team/app:nope", registry.host), "--confirm"],
    )
    .failed();
    assert!(run.stderr.contains("NotFound"), "{}", run.stderr);
    let stream = json(run_in_store(store.path(), &ns.0, ["get", "is", "app", "-o", "json"]));
    let tag = stream["status"]["tags"].as_array().unwrap().iter().find(|t| t["tag"] == "1").unwrap().clone();
    assert_eq!(tag["conditions"][0]["reason"], "NotFound");
    assert_eq!(tag["items"][0]["image"], digest.as_str());
}

/// bcrypt of `s2i-secret` (for the htpasswd file of the test registry).
const TESTER_HTPASSWD: &str = "tester:$2b$12$fGz2lIRtmSDkQR//vFmpd.Ji3hIfOsXrpy6tgWq2mf5/sQxua1CT6";

/// A Docker client configuration with the credentials `tester:s2i-secret` for `registry`: its directory and file.
fn tester_config(registry: &Registry) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.json");
    let auth = "dGVzdGVyOnMyaS1zZWNyZXQ="; // base64("tester:s2i-secret")
    std::fs::write(&config, format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.host)).unwrap();
    (dir, config)
}

/// Push the base fixture as `team/app:1` with the Docker CLI and `config_dir`'s credentials; the pushed name.
fn push_as_tester(registry: &Registry, config_dir: &tempfile::TempDir) -> String {
    let name = format!("{}/team/app:1", registry.host);
    docker_ok(&["tag", &fixture("base"), &name]);
    let push = std::process::Command::new("docker")
        .args(["--config", config_dir.path().to_str().unwrap(), "push", &name])
        .output()
        .unwrap();
    let _ = docker(&["rmi", &name]);
    assert!(push.status.success(), "{}\n{}", String::from_utf8_lossy(&push.stderr), registry.log_text());
    name
}

#[test]
fn imports_answer_the_registry_challenge_with_docker_credentials() {
    let registry = Registry::start_with(Some(TESTER_HTPASSWD));
    let ns = Namespace::fresh();
    let store = tempfile::tempdir().unwrap();
    let (config_dir, config) = tester_config(&registry);
    let name = push_as_tester(&registry, &config_dir);

    let unauthenticated_dir = tempfile::tempdir().unwrap();
    let run = s2i_in(store.path(), &ns.0)
        .env("DOCKER_CONFIG", unauthenticated_dir.path())
        .args(["import-image", "app:1", "--from", &name, "--confirm"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success());
    assert!(stderr.contains("Unauthorized"), "{stderr}");

    let run = run_in_store(
        store.path(),
        &ns.0,
        ["import-image", "app:1", "--from", &name, "--confirm", "--dockercfg-path", config.to_str().unwrap()],
    )
    .ok();
    assert!(run.stdout.contains("app:1 -> "), "{}", run.stdout);
    assert!(registry.log_text().contains("authorized request"), "the credentials were used");
}

#[test]
fn apply_checks_every_document_before_writing() {
    let store = tempfile::tempdir().unwrap();
    let ns = "apply-test";
    let good = "apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata:\n  name: first\n---\n";
    let bad = format!(
        "{good}apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata:\n  name: second\nspec:\n  tags:\n  - name: x\n    from: {{kind: DockerImage, name: a}}\n    reference: maybe\n"
    );
    let file = store.path().join("bad.yaml");
    std::fs::write(&file, &bad).unwrap();
    let run = run_in_store(store.path(), ns, ["apply", "-f", file.to_str().unwrap()]).failed();
    assert!(run.stderr.contains("line 14 column 16"), "the report points at the value: {}", run.stderr);
    assert!(run.stderr.contains("bad.yaml"), "{}", run.stderr);
    let listed = run_in_store(store.path(), ns, ["get", "is"]).ok();
    assert!(listed.stdout.is_empty(), "nothing was written: {}", listed.stdout);
    assert!(listed.stderr.contains("No resources found in apply-test namespace."));

    std::fs::write(&file, "kind: ImageStream\nmetadata:\n  name: Bad_Name\n").unwrap();
    let run = run_in_store(store.path(), ns, ["apply", "-f", file.to_str().unwrap()]).failed();
    assert!(run.stderr.contains("invalid image stream name"), "{}", run.stderr);

    std::fs::write(&file, "kind: Image\nmetadata:\n  name: sha256:00\n").unwrap();
    let run = run_in_store(store.path(), ns, ["apply", "-f", file.to_str().unwrap()]).failed();
    assert!(run.stderr.contains("cannot be applied"), "{}", run.stderr);

    let reference = "apiVersion: image.openshift.io/v1\nkind: List\nitems:\n- kind: ImageStream\n  metadata:\n    name: ext\n  spec:\n    tags:\n    - name: stable\n      reference: true\n      from:\n        kind: DockerImage\n        name: quay.io/org/app:1.0\n";
    std::fs::write(&file, reference).unwrap();
    let run = run_in_store(store.path(), ns, ["apply", "-f", file.to_str().unwrap()]);
    assert!(run.stdout.contains("imagestream.image.openshift.io/ext created"), "{}", run.stdout);
    let stream = json(run_in_store(store.path(), ns, ["get", "is", "ext", "-o", "json"]));
    assert_eq!(stream["status"]["tags"][0]["items"][0]["dockerImageReference"], "quay.io/org/app:1.0");
    assert_eq!(stream["spec"]["tags"][0]["generation"], 1);
    assert_eq!(stream["metadata"]["generation"], 1);
}

#[test]
fn get_prints_tables_and_formats() {
    let store = tempfile::tempdir().unwrap();
    let ns = "get-test";
    let file = store.path().join("s.yaml");
    std::fs::write(
        &file,
        "kind: ImageStream\nmetadata:\n  name: b\nspec:\n  tags:\n  - name: t\n    reference: true\n    from: {kind: DockerImage, name: quay.io/x/b:1}\n---\nkind: ImageStream\nmetadata:\n  name: a\n",
    )
    .unwrap();
    let run = run_in_store(store.path(), ns, ["apply", "-f", file.to_str().unwrap()]);
    assert_eq!(
        run.stdout, "imagestream.image.openshift.io/b created\nimagestream.image.openshift.io/a created\n",
        "{}",
        run.stderr
    );

    let table = run_in_store(store.path(), ns, ["get", "imagestreams"]).ok().stdout;
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("NAME   IMAGE REPOSITORY   TAGS   UPDATED"), "{table}");
    assert!(lines[1].starts_with("a      get-test/a"), "{table}");
    assert!(lines[2].starts_with("b      get-test/b         t      "), "{table}");
    let names = run_in_store(store.path(), ns, ["get", "is", "-o", "name"]).ok().stdout;
    assert_eq!(names, "imagestream.image.openshift.io/a\nimagestream.image.openshift.io/b\n");
    let list = json(run_in_store(store.path(), ns, ["get", "is", "-o", "json"]));
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let yaml = run_in_store(store.path(), ns, ["get", "is", "b", "-o", "yaml"]).ok().stdout;
    assert!(yaml.contains("kind: ImageStream\n") && yaml.contains("dockerImageRepository: get-test/b"), "{yaml}");
    let all = run_in_store(store.path(), "default", ["get", "is", "-A"]).ok().stdout;
    assert!(all.starts_with("NAMESPACE   NAME"), "{all}");
    let described = run_in_store(store.path(), ns, ["describe", "is", "b"]).ok().stdout;
    assert!(described.contains("reference to quay.io/x/b:1"), "{described}");

    let run = run_in_store(store.path(), ns, ["get", "widgets"]).failed();
    assert!(run.stderr.contains("imagestreams (is)"), "the error lists the kinds: {}", run.stderr);
    let run = run_in_store(store.path(), ns, ["get", "is", "nope"]).failed();
    assert!(run.stderr.contains("not found"), "{}", run.stderr);
    let run = run_in_store(store.path(), ns, ["get", "istag", "b"]).failed();
    assert!(run.stderr.contains("<name>:<tag>"), "{}", run.stderr);
    let run = run_in_store(store.path(), "Not_A_Namespace", ["get", "is"]).failed();
    assert!(run.stderr.contains("invalid namespace"), "{}", run.stderr);
}

#[test]
fn an_unreachable_engine_keeps_the_change_and_says_so() {
    let store = tempfile::tempdir().unwrap();
    let ns = Namespace::fresh();
    let base = fixture("base");
    run_in_store(store.path(), &ns.0, ["tag", "--source=docker", &base, "app:1"]).ok();
    let run = s2i_in(store.path(), &ns.0)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .args(["tag", "app:1", "app:2"])
        .output()
        .unwrap();
    let stderr = flat(&String::from_utf8_lossy(&run.stderr));
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stdout).contains("Tag app:2 set to"), "the change is reported");
    assert!(stderr.contains("/nonexistent/docker.sock"), "{stderr}");
    assert!(stderr.contains("the engine's tags catch up on the next s2i command"), "{stderr}");
    assert!(ns.engine_id(&format!("{}/app:2", ns.0)).is_none());
    // The next command that reaches the engine catches up.
    run_in_store(store.path(), &ns.0, ["tag", "app:1", "app:3"]).ok();
    assert!(ns.engine_id(&format!("{}/app:2", ns.0)).is_some(), "the pending change was followed");
    assert!(ns.engine_id(&format!("{}/app:3", ns.0)).is_some());
}

#[test]
fn image_stream_tags_apply_and_delete_like_oc() {
    let ns = Namespace::fresh();
    let store = tempfile::tempdir().unwrap();
    let base = fixture("base");
    let base_id = docker_ok(&["image", "inspect", "--format", "{{.Id}}", &base]).trim().to_owned();
    let (base_name, _) = stream_identity(&base);
    run_in_store(store.path(), &ns.0, ["tag", "--source=docker", &base, "app:1"]).ok();

    // An ImageStreamTag sets the spec tag; its annotations are the tag's metadata overrides.
    let file = store.path().join("istag.yaml");
    std::fs::write(
        &file,
        "apiVersion: image.openshift.io/v1\nkind: ImageStreamTag\nmetadata:\n  name: app:stable\n  annotations:\n    description: the stable one\ntag:\n  from:\n    kind: ImageStreamTag\n    name: \"1\"\n",
    )
    .unwrap();
    let run = run_in_store(store.path(), &ns.0, ["apply", "-f", file.to_str().unwrap()]).ok();
    assert_eq!(run.stdout.trim(), "imagestreamtag.image.openshift.io/app:stable created");
    let again = run_in_store(store.path(), &ns.0, ["apply", "-f", file.to_str().unwrap()]).ok();
    assert_eq!(again.stdout.trim(), "imagestreamtag.image.openshift.io/app:stable unchanged");
    let istag = json(run_in_store(store.path(), &ns.0, ["get", "istag", "app:stable", "-o", "json"]));
    assert_eq!(istag["image"]["metadata"]["name"], base_name.as_str());
    assert_eq!(istag["image"]["metadata"]["annotations"]["description"], "the stable one");
    assert_eq!(ns.engine_id(&format!("{}/app:stable", ns.0)).as_deref(), Some(base_id.as_str()));
    let described = run_in_store(store.path(), &ns.0, ["describe", "istag", "app:stable"]).ok().stdout;
    assert!(described.contains("description=the stable one"), "{described}");

    // An image in use cannot be deleted; views cannot be deleted; a tag can.
    let run = run_in_store(store.path(), &ns.0, ["delete", "image", &base_name]).failed();
    assert!(flat(&run.stderr).contains(&format!("{}/app:1", ns.0)), "the error names the users: {}", run.stderr);
    let run = run_in_store(store.path(), &ns.0, ["delete", "isimage", &format!("app@{base_name}")]).failed();
    assert!(run.stderr.contains("cannot be deleted"), "{}", run.stderr);
    let run = run_in_store(store.path(), &ns.0, ["delete", "istag", "app:stable"]).ok();
    assert_eq!(run.stdout.trim(), "imagestreamtag.image.openshift.io \"app:stable\" deleted");
    assert!(ns.engine_id(&format!("{}/app:stable", ns.0)).is_none());
    let isimage = json(run_in_store(
        store.path(),
        &ns.0,
        ["get", "isimage", &format!("app@{}", &base_name[7..19]), "-o", "json"],
    ));
    assert_eq!(isimage["metadata"]["name"], format!("app@{base_name}"));
}

#[test]
fn bearer_tokens_are_fetched_for_the_scopes_each_request_needs() {
    let tokens = TokenServer::start("tester", "s2i-secret");
    let registry = Registry::start_with_tokens(&tokens);
    let ns = Namespace::fresh();
    let store = tempfile::tempdir().unwrap();
    let (config_dir, config) = tester_config(&registry);
    let name = push_as_tester(&registry, &config_dir);

    // Without credentials the token service refuses: an Unauthorized import failure.
    let empty = tempfile::tempdir().unwrap();
    let run = s2i_in(store.path(), &ns.0)
        .env("DOCKER_CONFIG", empty.path())
        .args(["import-image", "plain:1", "--from", &name, "--confirm"])
        .output()
        .unwrap();
    assert!(!run.status.success());
    assert!(String::from_utf8_lossy(&run.stderr).contains("Unauthorized"), "{}", String::from_utf8_lossy(&run.stderr));

    // A registry stream on the same registry: import, then tag in the registry.
    let file = store.path().join("stream.yaml");
    std::fs::write(
        &file,
        format!(
            "kind: ImageStream\nmetadata:\n  name: app\n  annotations:\n    s2i-rs.github.io/registry: \"{}\"\n",
            registry.host
        ),
    )
    .unwrap();
    let cfg = config.to_str().unwrap();
    run_in_store(store.path(), &ns.0, ["apply", "-f", file.to_str().unwrap()]).ok();
    let run = s2i_in(store.path(), &ns.0)
        .env("DOCKER_CONFIG", config_dir.path())
        .args(["import-image", "app:1", "--from", &name, "--confirm", "--dockercfg-path", cfg])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
    let run = s2i_in(store.path(), &ns.0)
        .env("DOCKER_CONFIG", config_dir.path())
        .args(["tag", "app:1", "app:prod"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));

    let requests = tokens.requests.lock().unwrap().clone();
    let ours: Vec<&String> = requests.iter().filter(|r| r.starts_with("s2i/")).collect();
    let repo = format!("{}/app", ns.0);
    assert!(ours.iter().any(|r| r.contains("repository:team/app:pull | true")), "pull token for the import: {ours:#?}");
    assert!(
        ours.iter().any(|r| r.contains(&format!("repository:{repo}:pull,push"))
            && r.contains("repository:team/app:pull")
            && r.ends_with("true")),
        "a mount asks for push on the destination and pull on the source: {ours:#?}"
    );
    assert!(ours.iter().any(|r| r.ends_with("false")), "the refused request is there too: {ours:#?}");
    // The registry itself shows the tags, read with a token of our own.
    let log = registry.log_text();
    assert!(log.contains(&format!("PUT /v2/{repo}/manifests/1")), "{log}");
    assert!(log.contains(&format!("PUT /v2/{repo}/manifests/prod")), "{log}");
    let s2i_uploads: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("\"s2i/") && (l.contains("\"PATCH ") || l.contains("\"PUT /v2/") && l.contains("/blobs/"))
        })
        .collect();
    assert!(s2i_uploads.is_empty(), "s2i uploaded no blob: {s2i_uploads:#?}");
    assert!(log.lines().any(|l| l.contains("\"s2i/") && l.contains("mount=")), "s2i mounted the layers");
}

/// An image only a registry has: made with `docker import`, pushed, then removed from the engine.
fn image_only_in(registry: &Registry, repo_tag: &str) -> String {
    let name = format!("{}/{repo_tag}", registry.host);
    let mut archive = tar::Builder::new(Vec::new());
    let content = format!("made for {name} by test process {}\n", std::process::id());
    let mut header = tar::Header::new_gnu();
    header.set_size(content.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    archive.append_data(&mut header, "unique.txt", content.as_bytes()).unwrap();
    let bytes = archive.into_inner().unwrap();
    let mut import = std::process::Command::new("docker")
        .args(["import", "-", &name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(import.stdin.as_mut().unwrap(), &bytes).unwrap();
    drop(import.stdin.take());
    assert!(import.wait().unwrap().success());
    docker_ok(&["push", &name]);
    docker_ok(&["rmi", &name]);
    name
}

#[test]
fn a_stream_in_the_engine_pulls_what_it_imports() {
    let registry = Registry::start();
    let ns = Namespace::fresh();
    let store = tempfile::tempdir().unwrap();
    let name = image_only_in(&registry, "team/only-remote:1");
    let run = run_in_store(store.path(), &ns.0, ["import-image", "app:1", "--from", &name, "--confirm"]).ok();
    assert!(run.stdout.contains(&format!("app:1 -> {}/team/only-remote@sha256:", registry.host)), "{}", run.stdout);
    let istag = json(run_in_store(store.path(), &ns.0, ["get", "istag", "app:1", "-o", "json"]));
    let config_digest = istag["image"]["dockerImageMetadata"]["Id"].as_str().unwrap().to_owned();
    assert_eq!(
        ns.engine_id(&format!("{}/app:1", ns.0)).as_deref(),
        Some(config_digest.as_str()),
        "the engine pulled the image by digest and tagged it"
    );
    let pulled = istag["image"]["dockerImageReference"].as_str().unwrap().to_owned();
    let _ = docker(&["rmi", &pulled]);
}

#[test]
fn the_controller_reimports_scheduled_tags_and_only_a_new_digest_moves_them() {
    let registry = Registry::start();
    let ns = Namespace::fresh();
    let store = tempfile::tempdir().unwrap();
    let pushed = registry.push(&fixture("base"), "team/app:1");
    let first = registry.digest_of("team/app", "1").expect("pushed");

    let run =
        run_in_store(store.path(), &ns.0, ["import-image", "app:1", "--from", &pushed, "--confirm", "--scheduled"])
            .ok();
    assert!(run.stdout.contains(&format!("app:1 -> {}/team/app@{first}", registry.host)), "{}", run.stdout);
    let stream = json(run_in_store(store.path(), &ns.0, ["get", "is", "app", "-o", "json"]));
    assert_eq!(stream["spec"]["tags"][0]["importPolicy"]["scheduled"], true);
    // Only DockerImage sources are re-imported.
    let run = run_in_store(store.path(), &ns.0, ["tag", "--scheduled", "app:1", "app:copy"]).failed();
    assert!(run.stderr.contains("--scheduled applies to DockerImage sources only"), "{}", run.stderr);
    let run = run_in_store(store.path(), &ns.0, ["tag", "--scheduled", "--source=docker", &pushed, "app:2"]).ok();
    assert_eq!(run.stdout.trim(), format!("Tag app:2 set to import {pushed} periodically."));

    let log = store.path().join("controller.log");
    let mut controller = Killed(
        s2i_in(store.path(), &ns.0)
            .args(["controller", "--interval", "100", "--import-interval", "1"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    // The registry's tag moves (pushed from elsewhere: the engine's tag stays
    // on the old image); the controller follows within its interval.
    registry.push(&fixture("busybox-builder"), "team/app:1");
    docker_ok(&["tag", &fixture("base"), &pushed]);
    let second = registry.digest_of("team/app", "1").expect("pushed");
    assert_ne!(first, second);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while items(store.path(), &ns.0, "app", "1").first() != Some(&second) {
        assert!(
            std::time::Instant::now() < deadline,
            "no re-import in 30 s:\n{}",
            std::fs::read_to_string(&log).unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // Later runs find the same digest: the history does not grow.
    std::thread::sleep(Duration::from_millis(2500));
    assert_eq!(items(store.path(), &ns.0, "app", "1"), [second.clone(), first.clone()]);
    assert_eq!(items(store.path(), &ns.0, "app", "2"), [second.clone(), first.clone()]);

    let status = std::process::Command::new("kill").args(["-INT", &controller.0.id().to_string()]).status().unwrap();
    assert!(status.success());
    assert!(controller.0.wait().unwrap().success());
    let stderr = std::fs::read_to_string(&log).unwrap();
    assert!(stderr.contains(&format!("Scheduled import: {}/app:1 moved to {second}", ns.0)), "{stderr}");
    assert_eq!(stderr.matches("moved to").count(), 2, "one move per tag: {stderr}");
}

#[test]
fn a_build_to_a_registry_stream_is_pushed_then_recorded_by_its_registry_digest() {
    let registry = Registry::start();
    let ns = Namespace::fresh();
    let store = tempfile::tempdir().unwrap();
    let file = store.path().join("stream.yaml");
    std::fs::write(
        &file,
        format!(
            "apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata:\n  name: web\n  annotations:\n    s2i-rs.github.io/registry: \"{}\"\n",
            registry.host
        ),
    )
    .unwrap();
    run_in_store(store.path(), &ns.0, ["apply", "-f", file.to_str().unwrap()]).ok();
    let builder = Builder::alias("busybox-builder");
    let app = source(&[("index.html", "kept in the registry\n")]);

    let run =
        run_in_store(store.path(), &ns.0, ["build", app.path().to_str().unwrap(), &builder.image, "--to", "web:1"])
            .ok();
    let digest = registry.digest_of(&format!("{}/web", ns.0), "1").expect("the build was pushed");
    let reference = format!("{}/{}/web@{digest}", registry.host, ns.0);
    assert!(run.stderr.contains(&format!("Recorded {reference}")), "{}", run.stderr);
    assert_eq!(items(store.path(), &ns.0, "web", "1"), [digest]);
    let pushed = format!("{}/{}/web:1", registry.host, ns.0);
    assert_eq!(run_in(&pushed, &["env", "RUN_FILE=index.html", "/usr/libexec/s2i/run"]), "kept in the registry\n");
    let built = image_id(&pushed);
    let _ = docker(&["rmi", &pushed]);
    remove_untagged(&built.into_iter().collect::<Vec<_>>());
    builder.assert_no_containers();
}

/// An image stream file in OpenShift's deprecated form: `spec.dockerImageRepository`, and a spec tag of its own.
fn repository_stream(name: &str, repository: &str) -> String {
    format!(
        "apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata:\n  name: {name}\nspec:\n  \
         dockerImageRepository: {repository}\n  tags:\n  - name: pinned\n    reference: true\n    from:\n      \
         kind: DockerImage\n      name: example.com/pinned:1\n"
    )
}

fn status_tag(stream: &Value, tag: &str) -> Option<Value> {
    stream["status"]["tags"].as_array().and_then(|tags| tags.iter().find(|t| t["tag"] == tag).cloned())
}

#[test]
fn a_docker_image_repository_is_imported_into_status_and_exports_as_written() {
    let registry = Registry::start();
    let ns = Namespace::fresh();
    let other = Namespace::fresh();
    let store = tempfile::tempdir().unwrap();
    registry.push(&fixture("base"), "team/app:1.0");
    registry.push(&fixture("base"), "team/app:latest");
    let repository = format!("{}/team/app", registry.host);
    let file = store.path().join("app.yaml");
    std::fs::write(&file, repository_stream("app", &repository)).unwrap();

    let applied = run_in_store(store.path(), &ns.0, ["apply", "-f", file.to_str().unwrap()]).ok();
    // (The engine cannot pull the pinned reference, and says so: it is not the repository's.)
    assert!(!applied.stderr.contains("import of"), "{}", applied.stderr);
    let stream = json(run_in_store(store.path(), &ns.0, ["get", "is", "app", "-o", "json"]));
    assert_eq!(stream["spec"]["tags"].as_array().unwrap().len(), 1, "no spec tag is made: {stream}");
    assert!(stream["metadata"]["annotations"]["openshift.io/image.dockerRepositoryCheck"].is_string(), "{stream}");
    let by_digest = format!("{repository}@sha256:");
    for tag in ["1.0", "latest"] {
        let item = &status_tag(&stream, tag).unwrap_or_else(|| panic!("{tag} in {stream}"))["items"][0];
        assert!(item["dockerImageReference"].as_str().unwrap().starts_with(&by_digest), "{item}");
    }
    assert_eq!(status_tag(&stream, "pinned").unwrap()["items"][0]["dockerImageReference"], "example.com/pinned:1");
    let istag = json(run_in_store(store.path(), &ns.0, ["get", "istag", "app:1.0", "-o", "json"]));
    assert!(istag["image"]["dockerImageReference"].as_str().unwrap().starts_with(&by_digest), "{istag}");
    let table = run_in_store(store.path(), &ns.0, ["get", "is", "app"]).ok().stdout;
    assert!(table.contains("1.0,latest,pinned"), "{table}");
    let described = run_in_store(store.path(), &ns.0, ["describe", "is", "app"]).ok().stdout;
    assert!(described.contains(&format!("imported from {repository}:1.0")), "{described}");
    assert!(described.contains(&format!("Imports From:     {repository} (imported ")), "{described}");

    // Applying the file again leaves the stream as it is: the repository is not listed again.
    let listings = registry.log_text().matches("/tags/list").count();
    let again = run_in_store(store.path(), &ns.0, ["apply", "-f", file.to_str().unwrap()]).ok();
    assert!(again.stdout.contains("unchanged"), "{}", again.stdout);
    assert_eq!(registry.log_text().matches("/tags/list").count(), listings);

    // The export is the file as written (no import time: a cluster imports the repository itself) …
    let exported = run_in_store(store.path(), &ns.0, ["export", "is", "app"]).ok().stdout;
    let line = exported.lines().find(|l| l.contains("dockerImageRepository:")).unwrap_or_default();
    assert!(line.contains(&repository), "{exported}");
    assert!(!exported.contains("dockerRepositoryCheck") && !exported.contains("status:"), "{exported}");
    // … and applied in another namespace it imports the repository there.
    let exported_file = store.path().join("exported.yaml");
    std::fs::write(&exported_file, &exported).unwrap();
    run_in_store(store.path(), &other.0, ["apply", "-f", exported_file.to_str().unwrap()]).ok();
    let copy = json(run_in_store(store.path(), &other.0, ["get", "is", "app", "-o", "json"]));
    assert_eq!(
        status_tag(&copy, "1.0").unwrap()["items"][0]["image"],
        status_tag(&stream, "1.0").unwrap()["items"][0]["image"]
    );

    // import-image STREAM imports the repository again, with what it has now.
    registry.push(&fixture("base"), "team/app:2.0");
    let imported = run_in_store(store.path(), &ns.0, ["import-image", "app"]).ok().stdout;
    assert!(imported.contains(&format!("app:2.0 -> {by_digest}")), "{imported}");
    assert!(imported.contains(&format!("app:1.0 -> {by_digest}")), "{imported}");

    // --all: a stream made from a whole repository; a tag in --from or a new repository without --confirm is refused.
    let refused = run_in_store(store.path(), &ns.0, ["import-image", "copy", "--from", &repository, "--all"]);
    assert!(refused.code != 0 && refused.stderr.contains("--confirm"), "{}", refused.stderr);
    let one = format!("{repository}:1.0");
    let refused = run_in_store(store.path(), &ns.0, ["import-image", "copy", "--from", &one, "--all", "--confirm"]);
    assert!(refused.code != 0 && refused.stderr.contains("names one image"), "{}", refused.stderr);
    let all = run_in_store(store.path(), &ns.0, ["import-image", "copy", "--from", &repository, "--all", "--confirm"]);
    let all = all.ok().stdout;
    assert!(all.contains(&format!("copy:2.0 -> {by_digest}")) && all.contains("copy:latest -> "), "{all}");
    let copy = json(run_in_store(store.path(), &ns.0, ["get", "is", "copy", "-o", "json"]));
    assert_eq!(copy["spec"]["dockerImageRepository"], repository.as_str());
}

#[test]
fn a_repository_behind_credentials_or_missing_is_a_condition_of_the_stream() {
    let registry = Registry::start_with(Some(TESTER_HTPASSWD));
    let ns = Namespace::fresh();
    let store = tempfile::tempdir().unwrap();
    let (config_dir, config) = tester_config(&registry);
    push_as_tester(&registry, &config_dir);
    let repository = format!("{}/team/app", registry.host);
    let file = store.path().join("app.yaml");
    std::fs::write(&file, repository_stream("app", &repository)).unwrap();

    // Without credentials: the stream is applied (exit 0, as oc apply), the failure is latest's condition.
    let unauthenticated = tempfile::tempdir().unwrap();
    let run = s2i_in(store.path(), &ns.0)
        .env("DOCKER_CONFIG", unauthenticated.path())
        .args(["apply", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("import of app:latest failed (Unauthorized)"), "{stderr}");
    let stream = json(run_in_store(store.path(), &ns.0, ["get", "is", "app", "-o", "json"]));
    let condition = &status_tag(&stream, "latest").expect("latest holds the condition")["conditions"][0];
    assert_eq!(
        (&condition["type"], &condition["status"], &condition["reason"]),
        (&"ImportSuccess".into(), &"False".into(), &"Unauthorized".into())
    );

    // With them, import-image imports the repository; the condition goes.
    let imported =
        run_in_store(store.path(), &ns.0, ["import-image", "app", "--dockercfg-path", config.to_str().unwrap()]).ok();
    assert!(imported.stdout.contains(&format!("app:1 -> {repository}@sha256:")), "{}", imported.stdout);
    assert!(registry.log_text().contains("authorized request"), "the credentials were used");
    let stream = json(run_in_store(store.path(), &ns.0, ["get", "is", "app", "-o", "json"]));
    assert!(status_tag(&stream, "latest").is_none(), "{stream}");

    // A repository the registry does not have: NotFound, and nothing else changes.
    std::fs::write(&file, repository_stream("gone", &format!("{}/team/missing", registry.host))).unwrap();
    let run = s2i_in(store.path(), &ns.0)
        .env("DOCKER_CONFIG", config_dir.path())
        .args(["apply", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(run.status.success(), "{stderr}");
    assert!(stderr.contains("import of gone:latest failed (NotFound)"), "{stderr}");
    let gone = json(run_in_store(store.path(), &ns.0, ["get", "is", "gone", "-o", "json"]));
    assert_eq!(status_tag(&gone, "latest").unwrap()["conditions"][0]["reason"], "NotFound");
    assert_eq!(status_tag(&gone, "pinned").unwrap()["items"][0]["dockerImageReference"], "example.com/pinned:1");
}
