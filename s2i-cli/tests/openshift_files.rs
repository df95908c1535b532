//! Real OpenShift files in and out: the shapes of OpenShift's catalog and of
//! `oc get -o yaml` (`fixtures/openshift/`) apply, are stored, and read back
//! with their fields intact; kubectl's `--validate` modes; Secrets and
//! ConfigMaps judged by Kubernetes' own types; a BuildConfig that clones with
//! its source secret and injects Secrets and ConfigMaps.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::git_servers::{GitHttpServer, bare_repository};
use support::*;

/// A store and a namespace of its own.
struct Setup {
    ns: Namespace,
    store: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        Setup { ns: Namespace::fresh(), store: tempfile::tempdir().unwrap() }
    }

    fn s2i<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        run_in_store(self.store.path(), &self.ns.0, args)
    }

    fn write(&self, text: &str) -> PathBuf {
        let file = self.store.path().join(format!("{}.yaml", unique("objects")));
        std::fs::write(&file, text).unwrap();
        file
    }

    fn json(&self, kind: &str, name: &str) -> Value {
        let run = self.s2i(["get", kind, name, "-o", "json"]).ok();
        serde_json::from_str(&run.stdout).expect("get -o json prints JSON")
    }

    fn wait_ended(&self, name: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let build = self.json("build", name);
            if matches!(build["status"]["phase"].as_str(), Some("Complete" | "Failed" | "Error" | "Cancelled")) {
                return build;
            }
            assert!(Instant::now() < deadline, "build {name} never ended: {build:#}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    fn log(&self, name: &str) -> String {
        std::fs::read_to_string(self.store.path().join("logs").join(&self.ns.0).join(format!("{name}.log")))
            .unwrap_or_default()
    }
}

fn fixture_file(name: &str) -> PathBuf {
    workspace().join("fixtures/openshift").join(name)
}

/// The fixture as JSON, as the API server reads its YAML.
fn fixture_value(name: &str) -> Value {
    serde_norway::from_str(&std::fs::read_to_string(fixture_file(name)).unwrap()).unwrap()
}

/// What an apply ignores or the store assigns: never compared.
const IGNORED: [&str; 8] = [
    "status",
    "metadata.uid",
    "metadata.resourceVersion",
    "metadata.creationTimestamp",
    "metadata.generation",
    "metadata.managedFields",
    "metadata.selfLink",
    "metadata.namespace",
];

/// Every field of `input` must be in `output` with the same value, but for
/// the ignored ones and those `expected` names (path, value after the
/// API server's defaulting); the differences are listed by path.
fn differences(input: &Value, output: &Value, expected: &[(&str, Value)]) -> Vec<String> {
    fn walk(path: &str, input: &Value, output: &Value, expected: &[(&str, Value)], out: &mut Vec<String>) {
        if IGNORED.contains(&path) {
            return;
        }
        if let Some((_, want)) = expected.iter().find(|(p, _)| *p == path) {
            if output != want {
                out.push(format!("{path}: expected {want} (defaulted), found {output}"));
            }
            return;
        }
        match (input, output) {
            (Value::Object(a), Value::Object(b)) => {
                for (key, value) in a {
                    let child = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                    walk(&child, value, b.get(key).unwrap_or(&Value::Null), expected, out);
                }
            }
            (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
                for (index, (x, y)) in a.iter().zip(b).enumerate() {
                    walk(&format!("{path}[{index}]"), x, y, expected, out);
                }
            }
            (a, b) if a == b => {}
            // An empty object of the input is no field at all.
            (Value::Object(a), Value::Null) if a.is_empty() => {}
            (a, b) => out.push(format!("{path}: input {a}, read back {b}")),
        }
    }
    let mut out = Vec::new();
    walk("", input, output, expected, &mut out);
    out
}

fn assert_intact(name: &str, output: &Value, expected: &[(&str, Value)]) {
    let input = fixture_value(name);
    let diff = differences(&input, output, expected);
    assert!(diff.is_empty(), "{name} did not read back intact:\n  {}\n--- read back\n{output:#}", diff.join("\n  "));
}

#[test]
fn catalog_files_apply_and_read_back_intact() {
    let s = Setup::new();
    let files = [
        "imagestream-library.yaml",
        "buildconfig-new-app.yaml",
        "buildconfig-template.yaml",
        "buildconfig-docker.yaml",
        "buildconfig-binary.yaml",
        "secret-opaque.yaml",
        "secret-basic-auth.yaml",
        "secret-ssh-auth.yaml",
        "secret-dockerconfigjson.yaml",
        "secret-dockercfg.yaml",
        "configmap.yaml",
    ];
    let mut args = vec!["--no-triggers".to_owned(), "apply".to_owned()];
    for file in files {
        args.extend(["-f".to_owned(), fixture_file(file).display().to_string()]);
    }
    // Every object OpenShift takes is taken; an import that cannot happen now is the tag's, not the apply's.
    let run = s.s2i(&args).ok();
    assert_eq!(run.stdout.lines().filter(|line| line.ends_with(" created")).count(), files.len(), "{}", run.stdout);
    let warnings = run.stderr;
    for expected in [
        "buildconfig.build.openshift.io/ruby-ex: GitHub, Generic webhook triggers are kept: webhook triggers wait for `s2i controller --webhook-port`",
        "buildconfig.build.openshift.io/rails-example: GitHub webhook trigger is kept",
        "buildconfig.build.openshift.io/web-docker: spec.strategy.dockerStrategy: the Docker strategy is kept, but a local build cannot run it",
        "warning: import of ruby:3.3-ubi9 failed",
    ] {
        assert_eq!(warnings.matches(expected).count(), 1, "once: {expected}\n--- stderr\n{warnings}");
    }
    for secret in ["fixture-password-8c1f", "fixture-token-5e2d", "fixture-push"] {
        assert!(!warnings.contains(secret), "a value in a message: {warnings}");
    }

    // The stream: legacy apiVersion kept under the group version; the failed import in the tag's status.
    let stream = s.json("is", "ruby");
    assert_intact("imagestream-library.yaml", &stream, &[("apiVersion", "image.openshift.io/v1".into())]);
    let tags = stream["status"]["tags"].as_array().unwrap();
    let failed = tags.iter().find(|t| t["tag"] == "3.3-ubi9").expect("the tag has a status");
    assert_eq!(failed["conditions"][0]["type"], "ImportSuccess");
    assert_eq!(failed["conditions"][0]["status"], "False");
    assert!(!failed["conditions"][0]["reason"].as_str().unwrap().is_empty(), "{failed}");
    assert!(failed["conditions"][0]["message"].as_str().unwrap().contains("registry.example.invalid"), "{failed}");

    // Build configs: every field kept; OpenShift's defaults where it sets them.
    let new_app = s.json("bc", "ruby-ex");
    assert_intact(
        "buildconfig-new-app.yaml",
        &new_app,
        &[("spec.triggers[3]", serde_json::json!({"type": "ImageChange", "imageChange": {}}))],
    );
    let template = s.json("bc", "rails-example");
    assert_intact(
        "buildconfig-template.yaml",
        &template,
        &[
            ("spec.strategy.sourceStrategy.from", serde_json::json!({"kind": "ImageStreamTag", "name": "ruby:latest"})),
            ("spec.triggers[0]", serde_json::json!({"type": "ImageChange", "imageChange": {}})),
        ],
    );
    assert_eq!(template["spec"]["successfulBuildsHistoryLimit"], 5);
    let docker = s.json("bc", "web-docker");
    // The ImageChange trigger watches nothing a Docker build without `from` has: OpenShift drops it.
    assert_intact(
        "buildconfig-docker.yaml",
        &docker,
        &[("spec.triggers", serde_json::json!([{"type": "ConfigChange"}]))],
    );
    let binary = s.json("bc", "war-binary");
    assert_intact("buildconfig-binary.yaml", &binary, &[]);
    assert_eq!(binary["spec"]["source"], serde_json::json!({"type": "Binary", "binary": {}}));

    // Secrets and ConfigMaps: stringData merged into data, as the API server does.
    let opaque = s.json("secret", "app-settings");
    assert_intact(
        "secret-opaque.yaml",
        &opaque,
        &[
            ("stringData", Value::Null),
            (
                "data",
                serde_json::json!({
                    "api-token": "Zml4dHVyZS10b2tlbi01ZTJk",
                    "database.yml": fixture_value("secret-opaque.yaml")["data"]["database.yml"],
                }),
            ),
        ],
    );
    let basic = s.json("secret", "git-basic");
    assert_eq!(basic["data"]["username"], "YnVpbGRlcg==");
    assert!(basic.get("stringData").is_none());
    for (file, name) in [
        ("secret-ssh-auth.yaml", "git-ssh"),
        ("secret-dockerconfigjson.yaml", "registry-push"),
        ("secret-dockercfg.yaml", "builder-dockercfg-x7k2p"),
    ] {
        assert_intact(file, &s.json("secret", name), &[]);
    }
    let config = s.json("cm", "app-config");
    assert_intact("configmap.yaml", &config, &[]);

    // Kubernetes' own types read what we print, and drop nothing.
    let judged = |printed: &Value, parsed: Value| {
        let mut again = parsed;
        // k8s-openapi writes empty maps the printed object has no field for.
        if let Value::Object(map) = &mut again {
            map.retain(|_, v| !v.is_null());
        }
        assert_eq!(&again, printed, "k8s-openapi dropped or changed a field");
    };
    for name in ["app-settings", "git-basic", "git-ssh", "registry-push", "builder-dockercfg-x7k2p"] {
        let printed = s.json("secret", name);
        let secret: k8s_openapi::api::core::v1::Secret = serde_json::from_value(printed.clone()).unwrap();
        judged(&printed, serde_json::to_value(secret).unwrap());
    }
    let map: k8s_openapi::api::core::v1::ConfigMap = serde_json::from_value(config.clone()).unwrap();
    judged(&config, serde_json::to_value(map).unwrap());

    // Tables and descriptions show no values.
    let table = s.s2i(["get", "secrets"]).ok().stdout;
    assert!(table.starts_with("NAME"), "{table}");
    assert!(table.contains("git-basic") && table.contains("kubernetes.io/basic-auth"), "{table}");
    let described = s.s2i(["describe", "secret", "git-basic"]).ok().stdout;
    assert!(described.contains("password:  21 bytes"), "{described}");
    for secret in ["fixture-password-8c1f", "ZmlYXR1cmU", "YnVpbGRlcg=="] {
        assert!(!table.contains(secret) && !described.contains(secret), "{table}{described}");
    }

    // Applied again, nothing changes.
    let again = s.s2i(&args).ok();
    assert!(again.stdout.lines().all(|line| line.ends_with(" unchanged")), "{}", again.stdout);
    assert!(s.s2i(["get", "builds", "-o", "name"]).ok().stdout.is_empty(), "--no-triggers started nothing");
}

#[test]
fn a_build_as_oc_prints_it_applies_and_runs_here() {
    let s = Setup::new();
    let file = fixture_file("build-complete.yaml");
    let run = s.s2i(["apply", "-f", file.to_str().unwrap()]).ok();
    assert!(run.stdout.contains("build.build.openshift.io/ruby-ex-1 created"), "{}", run.stdout);
    assert!(run.stdout.contains("build/ruby-ex-1 started"), "{}", run.stdout);
    // Its status was the cluster's: here it runs, and its pull secret does not exist on this machine.
    let build = s.wait_ended("ruby-ex-1");
    assert_intact("build-complete.yaml", &build, &[("metadata.annotations", build["metadata"]["annotations"].clone())]);
    for (key, value) in fixture_value("build-complete.yaml")["metadata"]["annotations"].as_object().unwrap() {
        assert_eq!(&build["metadata"]["annotations"][key], value, "{key}");
    }
    assert_eq!(build["status"]["phase"], "Failed", "{build:#}");
    assert_eq!(build["status"]["reason"], "PullBuilderImageFailed", "{build:#}");
    let log = s.log("ruby-ex-1");
    assert!(
        log.contains("Secret \"builder-dockercfg-x7k2p\" not found")
            && log.contains("spec.strategy.sourceStrategy.pullSecret of BuildConfig"),
        "{log}"
    );
}

#[test]
fn unknown_fields_follow_validate() {
    let s = Setup::new();
    let file = s.write("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndata:\n  a: b\nspec:\n  foo: 1\n");
    let path = file.to_str().unwrap();
    let run = s.s2i(["apply", "-f", path]).failed();
    assert!(run.stderr.contains("unknown field \"spec\""), "{}", run.stderr);
    assert!(run.stderr.contains("--validate=warn"), "{}", run.stderr);
    assert!(s.s2i(["get", "cm"]).ok().stdout.is_empty(), "nothing was stored");

    let file = s.write(&format!(
        "{}  extra: 1\n",
        std::fs::read_to_string(fixture_file("buildconfig-binary.yaml"))
            .unwrap()
            .replace("  output:\n", "  output:\n    imageLables: []\n")
    ));
    let path = file.to_str().unwrap();
    let strict = s.s2i(["apply", "-f", path, "--validate=strict"]).failed();
    assert!(strict.stderr.contains("unknown field \"spec.output.imageLables\""), "{}", strict.stderr);
    let warn = s.s2i(["--no-triggers", "apply", "-f", path, "--validate", "warn"]).ok();
    assert!(warn.stderr.contains("unknown field \"spec.output.imageLables\" (dropped)"), "{}", warn.stderr);
    assert!(warn.stderr.contains("unknown field \"spec.extra\" (dropped)"), "{}", warn.stderr);
    let ignore = s.s2i(["--no-triggers", "apply", "-f", path, "--validate=ignore"]).ok();
    assert!(!ignore.stderr.contains("unknown field"), "{}", ignore.stderr);
    let stored = s.json("bc", "war-binary");
    assert!(stored["spec"]["output"].get("imageLables").is_none(), "{stored:#}");
    let bad = s.s2i(["apply", "-f", path, "--validate=loose"]).failed();
    assert!(bad.stderr.contains("strict, warn and ignore"), "{}", bad.stderr);
}

/// Strict validation names every unknown field, as kubectl's strict decoding
/// does (`--validate=warn` drops them all with a warning each).
#[test]
fn strict_validation_names_every_unknown_field() {
    let s = Setup::new();
    let file = s.write(
        "apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata:
  name: typos
  foo: 1
spec:
  source:
    type: Binary
    binary: {}
    bogus: true
  strategy:
    type: Source
    sourceStrategy:
      incrementalish: true
      from: {kind: DockerImage, name: s2i-fixtures/busybox-builder:latest}
",
    );
    let run = s.s2i(["apply", "-f", file.to_str().unwrap()]).failed();
    let report = run.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        report.contains(
            "unknown field \"metadata.foo\" at line 5 column 3, unknown field \"spec.source.bogus\", \
             unknown field \"spec.strategy.sourceStrategy.incrementalish\""
        ),
        "{report}"
    );
    assert!(run.stderr.contains("5 │   foo: 1"), "the report shows the first: {}", run.stderr);
    assert!(s.s2i(["get", "bc"]).ok().stdout.is_empty(), "nothing was stored");
}

/// No value of a Secret shows in an error about it: not in the message (serde
/// quotes values), not in the text a report shows around the place, whatever
/// the document's shape; the path and the problem do show. Other kinds keep
/// their snippet, which shows none of a neighbouring Secret.
#[test]
fn secret_values_never_show_in_errors() {
    let s = Setup::new();
    let head = "apiVersion: v1\nkind: Secret\nmetadata: {name: b}\n";
    // (file, what the report says)
    let table = [
        (
            format!("{head}type: Opaque\ndata:\n  k: \"LEAK4notbase64!!\"\n"),
            "data: illegal base64 data at line 6 column 3",
        ),
        (
            "apiVersion: v1\nkind: Secret\nmetadata: {name: b, foo: 1}\ntype: Opaque\n\
             stringData: {ok: LEAK12}\n"
                .into(),
            "unknown field \"metadata.foo\" at line 3 column 21",
        ),
        (format!("{head}data: LEAK6\n"), "data: invalid type: string, expected a map at line 4 column 7"),
        (
            "apiVersion: v1\nkind: List\nitems:\n\
             - {apiVersion: v1, kind: Secret, metadata: {name: b}, data: LISTLEAK}\n"
                .into(),
            "items[0]: data: invalid type: string, expected a map",
        ),
        (
            r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"b"},"stringData":{"a":"JSONLEAK"},"bogus":1}"#
                .into(),
            "unknown field \"bogus\" at line 1 column 90",
        ),
        (format!("{head}stringData: {{a: \"SYNLEAK}}\n"), "found unexpected end of stream at line 5 column 1"),
        (
            format!(
                "{head}stringData: {{a: NEXTLEAK}}\n---\n\
                 apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, foo: 1}}\n"
            ),
            "unknown field \"metadata.foo\" at line 8 column 21",
        ),
    ];
    for (text, message) in table {
        let file = s.write(&text);
        let run = s.s2i(["apply", "-f", file.to_str().unwrap()]).failed();
        let report = run.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(report.contains(message), "{text}\n{}", run.stderr);
        assert!(!run.stderr.contains("LEAK") && !run.stdout.contains("LEAK"), "{text}\n{}", run.stderr);
        assert!(!run.stderr.contains("Invalid symbol"), "the base64 detail names a character: {}", run.stderr);
    }
    // The ConfigMap of the last file kept its snippet.
    let file = s.write("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: SHOWN\n");
    let run = s.s2i(["apply", "-f", file.to_str().unwrap()]).failed();
    assert!(run.stderr.contains("4 │ data: SHOWN"), "{}", run.stderr);
    assert!(run.stderr.contains("docs/secrets.md"), "the help names the kind's page: {}", run.stderr);
    assert!(s.s2i(["get", "secrets"]).ok().stdout.is_empty(), "nothing was stored");
}

/// Every kind reads Kubernetes' whole `ObjectReference`: the fields a kind
/// does not use (`apiVersion`, `uid`, …) are kept, in strict mode too, and an
/// unknown one inside it is named by its path.
#[test]
fn object_references_keep_every_field_kubernetes_has() {
    let s = Setup::new();
    let stream = "apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata:\n  name: refs\nspec:\n  tags:\n  \
                  - name: v1\n    reference: true\n    from:\n      kind: DockerImage\n      name: quay.io/team/app:1\n      \
                  apiVersion: v1\n      uid: 0b1c2d3e\n      resourceVersion: \"42\"\n      fieldPath: spec\n";
    let file = s.write(stream);
    s.s2i(["apply", "-f", file.to_str().unwrap()]).ok();
    let from = &s.json("is", "refs")["spec"]["tags"][0]["from"];
    assert_eq!(from["apiVersion"], "v1", "{from:#}");
    assert_eq!(from["uid"], "0b1c2d3e");
    assert_eq!(from["resourceVersion"], "42");
    assert_eq!(from["fieldPath"], "spec");

    let file = s.write(&stream.replace("fieldPath: spec", "fieldPaths: spec"));
    let run = s.s2i(["apply", "-f", file.to_str().unwrap()]).failed();
    assert!(run.stderr.contains("unknown field \"spec.tags[0].from.fieldPaths\""), "{}", run.stderr);
}

#[test]
fn the_store_stays_its_owners_only() {
    use std::os::unix::fs::PermissionsExt;
    let s = Setup::new();
    s.s2i(["secret", "create", "generic", "x", "--from-literal=k=v"]).ok();
    let mode = std::fs::metadata(s.store.path().join("store.db")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
}

#[test]
fn a_build_clones_with_its_source_secret_and_leaves_no_secret_in_the_image() {
    let builder = fixture("busybox-builder");
    let s = Setup::new();
    let password = "clone-password-41d7e9";
    let value = "injected-value-9b3c5a";
    let server = GitHttpServer::http("builder", password);
    let bare = bare_repository(&server.root, "app.git", &[("index.html", "hello\n")]);
    // An assemble of the source's own (executable) that records what it saw of the injected file: its size.
    let assemble = "#!/bin/sh\nset -e\nwc -c < /opt/app-root/src/build-secrets/settings.txt > /tmp/settings-size\n\
                    /usr/libexec/s2i/assemble\ncp /tmp/settings-size /opt/app-root/src/settings-size\n";
    add_executable(&bare, ".s2i/bin/assemble", assemble);
    let settings = tempfile::tempdir().unwrap();
    std::fs::write(settings.path().join("settings.txt"), value).unwrap();
    s.s2i([
        "secret",
        "create",
        "generic",
        "git-creds",
        "--type",
        "kubernetes.io/basic-auth",
        "--from-literal=username=builder",
        &format!("--from-literal=password={password}"),
    ])
    .ok();
    s.s2i(["secret", "create", "generic", "build-settings", &format!("--from-file={}", settings.path().display())])
        .ok();
    s.s2i(["create", "configmap", "app-config", "--from-literal=app.properties=greeting=hello"]).ok();
    let config = format!(
        "apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata:
  name: app
spec:
  source:
    git:
      uri: {uri}
      ref: main
    sourceSecret:
      name: git-creds
    secrets:
    - secret:
        name: build-settings
      destinationDir: build-secrets
    configMaps:
    - configMap:
        name: app-config
      destinationDir: config
  strategy:
    sourceStrategy:
      from:
        kind: DockerImage
        name: {builder}
  output:
    to:
      kind: ImageStreamTag
      name: app:latest
",
        uri = server.url("app.git", None)
    );
    s.s2i(["--no-triggers", "apply", "-f", s.write(&config).to_str().unwrap()]).ok();
    let run = s.s2i(["start-build", "app", "--wait"]);
    assert_eq!(run.code, 0, "{}\n--- log\n{}", run.stderr, s.log("app-1"));
    let build = s.json("build", "app-1");
    assert_eq!(build["status"]["phase"], "Complete");
    let requests = server.requests.lock().unwrap().join("\n");
    assert!(requests.contains("-> 200"), "the clone authenticated: {requests}");

    // assemble had the Secret's file; the image has the ConfigMap's, and not the Secret's.
    let image = format!("{}/app:latest", s.ns.0);
    s.ns.engine_id(&image);
    let seen = run_in(&image, &["cat", "/opt/app-root/src/settings-size"]);
    assert_eq!(seen.trim(), value.len().to_string());
    assert_eq!(run_in(&image, &["cat", "/opt/app-root/src/config/app.properties"]), "greeting=hello");
    assert!(!succeeds_in(&image, &["test", "-e", "/opt/app-root/src/build-secrets"]), "the Secret's files went");

    // No value anywhere: the saved image, the log, the build object.
    let saved = docker(&["save", &image]);
    assert!(saved.status.success());
    for secret in [value, password] {
        assert!(!contains(&saved.stdout, secret.as_bytes()), "{secret} is in the saved image");
        assert!(!s.log("app-1").contains(secret), "{secret} is in the log");
        assert!(!build.to_string().contains(secret), "{secret} is in the build");
    }
    // The files written for injection are gone from the store directory.
    assert!(no_file_holds(s.store.path(), value.as_bytes()), "a file of the store directory holds the value");

    // A missing Secret fails the build, naming it and the config.
    s.s2i(["delete", "secret", "git-creds"]).ok();
    let run = s.s2i(["start-build", "app", "--wait"]).failed();
    let build = s.json("build", "app-2");
    assert_eq!(
        (build["status"]["phase"].as_str(), build["status"]["reason"].as_str()),
        (Some("Failed"), Some("FetchSourceFailed"))
    );
    let log = s.log("app-2");
    assert!(
        log.contains(&format!(
            "Secret \"git-creds\" not found in namespace {}: spec.source.sourceSecret of BuildConfig {}/app",
            s.ns.0, s.ns.0
        )),
        "{log}\n{}",
        run.stderr
    );
}

/// Commit an executable file to the bare repository `bare` (on `main`).
fn add_executable(bare: &Path, path: &str, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    let work = tempfile::tempdir().unwrap();
    let git = |args: &[&str], dir: &Path| {
        let out = std::process::Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Repo Author")
            .env("GIT_AUTHOR_EMAIL", "author@example.com")
            .env("GIT_COMMITTER_NAME", "Repo Author")
            .env("GIT_COMMITTER_EMAIL", "author@example.com")
            .output()
            .unwrap();
        assert!(out.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let clone = work.path().join("clone");
    git(&["clone", "--quiet", bare.to_str().unwrap(), clone.to_str().unwrap()], work.path());
    let file = clone.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, text).unwrap();
    std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755)).unwrap();
    git(&["add", "--all"], &clone);
    git(&["commit", "--quiet", "--message", "Assemble of its own"], &clone);
    git(&["push", "--quiet", "origin", "main"], &clone);
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|window| window == needle)
}

/// Whether no file below `dir` (but the store database, which holds the Secret) contains `needle`.
fn no_file_holds(dir: &Path, needle: &[u8]) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else { return true };
    entries.filter_map(Result::ok).all(|entry| {
        let path = entry.path();
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with("store.db") {
            return true;
        }
        if path.is_dir() {
            return no_file_holds(&path, needle);
        }
        std::fs::read(&path).map_or(true, |bytes| !contains(&bytes, needle))
    })
}

#[test]
fn an_image_stream_tag_as_oc_prints_it_applies() {
    let s = Setup::new();
    // The `image` a server computes for the tag (with fields s2i's Image does not model) is not input.
    let istag = "apiVersion: image.openshift.io/v1
kind: ImageStreamTag
metadata:
  name: web:1.0
  uid: 2b1c0d9e-8f7a-4b6c-9d5e-4f3a2b1c0d9e
  resourceVersion: \"53120\"
  creationTimestamp: \"2026-03-01T10:00:00Z\"
tag:
  name: \"1.0\"
  annotations: null
  from:
    kind: DockerImage
    name: quay.example.invalid/team/web:1.0
  generation: 2
  importPolicy: {}
  reference: true
  referencePolicy:
    type: Source
generation: 2
lookupPolicy:
  local: false
image:
  metadata:
    name: sha256:5e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7
  dockerImageReference: quay.example.invalid/team/web@sha256:5e8f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7
  dockerImageMetadata:
    kind: DockerImage
    apiVersion: \"1.0\"
    ContainerConfig: {}
  dockerImageMetadataVersion: \"1.0\"
  signatures: []
";
    let run = s.s2i(["apply", "-f", s.write(istag).to_str().unwrap()]).ok();
    assert!(run.stdout.contains("imagestreamtag.image.openshift.io/web:1.0 created"), "{}", run.stdout);
    let stream = s.json("is", "web");
    assert_eq!(stream["spec"]["tags"][0]["from"]["name"], "quay.example.invalid/team/web:1.0");
    assert_eq!(stream["spec"]["tags"][0]["reference"], true);
}

/// `tester:s2i-secret`, as htpasswd writes it (bcrypt).
const TESTER: &str = "tester:$2b$12$fGz2lIRtmSDkQR//vFmpd.Ji3hIfOsXrpy6tgWq2mf5/sQxua1CT6";

#[test]
fn pull_and_push_secrets_are_the_builds_registry_credentials() {
    let builder = fixture("busybox-builder");
    let registry = Registry::start_with(Some(TESTER));
    let s = Setup::new();
    // The builder lives only in the registry, which wants credentials that no config.json of this run has.
    let remote_builder = format!("{}/team/builder:{}", registry.host, s.ns.0);
    let tester = tempfile::tempdir().unwrap();
    std::fs::write(
        tester.path().join("config.json"),
        format!(r#"{{"auths":{{"{}":{{"auth":"dGVzdGVyOnMyaS1zZWNyZXQ="}}}}}}"#, registry.host),
    )
    .unwrap();
    docker_ok(&["tag", &builder, &remote_builder]);
    let pushed = std::process::Command::new("docker")
        .env("DOCKER_CONFIG", tester.path())
        .args(["push", &remote_builder])
        .output()
        .unwrap();
    let _ = docker(&["rmi", &remote_builder]);
    assert!(pushed.status.success(), "{}", String::from_utf8_lossy(&pushed.stderr));

    let nobody = tempfile::tempdir().unwrap();
    let s2i_as_nobody = |args: &[&str]| {
        Run::from(s2i_in(s.store.path(), &s.ns.0).env("DOCKER_CONFIG", nobody.path()).args(args).output().unwrap())
    };
    s2i_as_nobody(&[
        "secret",
        "create",
        "docker-registry",
        "registry-creds",
        "--docker-server",
        &registry.host,
        "--docker-username",
        "tester",
        "--docker-password",
        "s2i-secret",
    ])
    .ok();
    let output = format!("{}/team/web:{}", registry.host, s.ns.0);
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
        name: {remote_builder}
      pullSecret:
        name: registry-creds
  output:
    to:
      kind: DockerImage
      name: {output}
    pushSecret:
      name: registry-creds
"
    );
    s2i_as_nobody(&["apply", "-f", s.write(&config).to_str().unwrap()]).ok();
    let app = source(&[("index.html", "pushed with a secret\n")]);
    let run = s2i_as_nobody(&["start-build", "web", "--from-dir", app.path().to_str().unwrap(), "--wait"]);
    let _ = docker(&["rmi", &remote_builder]);
    let _ = docker(&["rmi", &output]);
    assert_eq!(run.code, 0, "{}\n--- log\n{}", run.stderr, s.log("web-1"));
    let log = s.log("web-1");
    assert!(log.contains("Push successful"), "{log}");
    assert!(registry.digest_as("team/web", &s.ns.0, Some(("tester", "s2i-secret"))).is_some());
    assert!(!log.contains("s2i-secret") && !log.contains("dGVzdGVyOnMyaS1zZWNyZXQ="), "{log}");
}
