//! The verbs as kubectl users type them, on the real binary and a store in
//! a temp dir: round trips of the fixture objects through `apply`, `get -o
//! json`, `export` and `apply -n other`; exports judged by Kubernetes' and
//! Gateway API's own types; `KIND/NAME`, `-l`, `-o jsonpath`,
//! `-o custom-columns`, `get all`, `get -w`, `--dry-run`, `delete -f`,
//! `delete all`, `--ignore-not-found`, `-n` against a file's namespace,
//! kept settings said once, `KIND/NAME` of the build verbs, the
//! completion of object names, `create … --dry-run -o yaml`,
//! `delete --dry-run` and `describe -l`.

mod support;

#[path = "../../s2i-route/tests/cluster/mod.rs"]
mod cluster;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use serde_json::Value;
use support::*;

/// A store of its own; commands run in namespace `ns` unless they say otherwise.
struct Setup {
    store: tempfile::TempDir,
}

impl Setup {
    fn new() -> Self {
        Setup { store: tempfile::tempdir().unwrap() }
    }

    fn s2i<const N: usize>(&self, ns: &str, args: [&str; N]) -> Run {
        run_in_store(self.store.path(), ns, args)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let file = self.store.path().join(name);
        std::fs::write(&file, text).unwrap();
        file
    }

    fn json(&self, ns: &str, args: &[&str]) -> Value {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        all.extend(["-o", "json"]);
        let run = Run::from(s2i_in(self.store.path(), ns).args(&all).output().unwrap()).ok();
        serde_json::from_str(&run.stdout).unwrap_or_else(|e| panic!("get -o json prints JSON ({e}):\n{}", run.stdout))
    }
}

fn fixtures() -> PathBuf {
    workspace().join("fixtures/openshift")
}

fn route_fixtures() -> PathBuf {
    workspace().join("s2i-route/tests/data/openshift")
}

fn items(list: &Value) -> Vec<Value> {
    list["items"].as_array().cloned().unwrap_or_default()
}

fn names(list: &Value) -> Vec<String> {
    items(list)
        .iter()
        .map(|item| format!("{}/{}", item["kind"].as_str().unwrap(), item["metadata"]["name"].as_str().unwrap()))
        .collect()
}

/// The paths of `original` that `exported` lacks or holds with another value.
fn dropped(original: &Value, exported: &Value, path: &str, out: &mut Vec<String>) {
    match (original, exported) {
        (Value::Object(original), Value::Object(exported)) => {
            for (key, value) in original {
                let here = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match exported.get(key) {
                    Some(theirs) => dropped(value, theirs, &here, out),
                    // A map left out whole (all its keys were dropped): each key is judged.
                    None if here == "metadata.annotations" => {
                        dropped(value, &Value::Object(Default::default()), &here, out)
                    }
                    None => out.push(here),
                }
            }
        }
        (Value::Array(original), Value::Array(exported)) if original.len() == exported.len() => {
            for (value, theirs) in original.iter().zip(exported) {
                dropped(value, theirs, &format!("{path}[]"), out);
            }
        }
        _ if original == exported => {}
        _ => out.push(format!("{path} (changed)")),
    }
}

/// What an export may leave out: what a server owns, this store's bookkeeping,
/// and the addresses and ports a cluster allocates for a Service.
fn may_drop(kind: &str, path: &str) -> bool {
    let server = [
        "status",
        "metadata.uid",
        "metadata.resourceVersion",
        "metadata.creationTimestamp",
        "metadata.generation",
        "metadata.namespace",
        "metadata.ownerReferences",
    ];
    server.contains(&path)
        || path.starts_with("metadata.annotations.s2i-rs.github.io/")
        || path == "metadata.annotations.kubectl.kubernetes.io/last-applied-configuration"
        || (kind == "Endpoints" && path == "metadata.annotations.endpoints.kubernetes.io/last-change-trigger-time")
        || (kind == "Service"
            && ["spec.clusterIP", "spec.clusterIPs", "spec.healthCheckNodePort", "spec.ports[].nodePort"]
                .contains(&path))
        // An endpoint's pod: this server's uid and version, and the object's own namespace.
        || (kind == "Endpoints"
            && ["addresses", "notReadyAddresses"].iter().any(|list| {
                ["namespace", "uid", "resourceVersion"]
                    .iter()
                    .any(|field| path == format!("subsets[].{list}[].targetRef.{field}"))
            }))
}

/// The kinds whose objects the fixtures hold, as `get` and `export` name them.
const KINDS: &str = "imagestreams,buildconfigs,builds,services,endpoints,routes,secrets,configmaps";

#[test]
fn fixture_objects_round_trip_through_export_into_another_namespace() {
    let setup = Setup::new();
    // Both fixture directories in one apply (repeated -f); the route data
    // names namespace `shop`, the rest lands in `laptop`.
    let run = setup.s2i(
        "laptop",
        ["apply", "-f", fixtures().to_str().unwrap(), "-f", route_fixtures().to_str().unwrap(), "--no-triggers"],
    );
    let run = run.ok();
    assert!(run.stdout.contains("buildconfig.build.openshift.io/ruby-ex created"), "{}", run.stdout);
    assert!(run.stdout.contains("service/storefront created"), "{}", run.stdout);

    for (from, to) in [("laptop", "cluster"), ("shop", "shop-copy")] {
        let stored = setup.json(from, &[KINDS]);
        assert!(items(&stored).len() >= 5, "{from}: {stored:#}");
        let export = setup.s2i(from, ["export", KINDS]).ok().stdout;
        for document in export.split("---\n") {
            let object: Value = serde_norway::from_str(document).unwrap();
            for owned in ["namespace", "uid", "resourceVersion", "creationTimestamp", "generation"] {
                assert_eq!(object["metadata"].get(owned), None, "an export has no {owned}:\n{document}");
            }
            assert_eq!(object.get("status"), None, "an export has no status:\n{document}");
        }
        let file = setup.write(&format!("{from}.yaml"), &export);

        // A dry run checks everything and writes nothing.
        let dry = setup.s2i(to, ["apply", "-f", file.to_str().unwrap(), "--dry-run=server"]).ok();
        assert!(dry.stdout.lines().all(|line| line.ends_with(" created (server dry run)")), "{}", dry.stdout);
        assert_eq!(items(&setup.json(to, &[KINDS])), Vec::<Value>::new(), "a dry run wrote objects");
        let dry = setup.s2i(to, ["apply", "-f", file.to_str().unwrap(), "--dry-run"]).ok();
        assert!(dry.stdout.lines().all(|line| line.ends_with(" (dry run)")), "{}", dry.stdout);

        setup.s2i(to, ["apply", "-f", file.to_str().unwrap(), "--no-triggers"]).ok();
        let copied = setup.json(to, &[KINDS]);
        assert_eq!(names(&copied), names(&stored), "{from} -> {to}");
        for (original, copy) in items(&stored).iter().zip(items(&copied)) {
            let kind = original["kind"].as_str().unwrap();
            let mut lost = Vec::new();
            dropped(original, &copy, "", &mut lost);
            lost.retain(|path| {
                let path = path.trim_end_matches(" (changed)");
                !may_drop(kind, path) && !path.starts_with("status")
            });
            assert!(lost.is_empty(), "{kind} {}: {lost:?} did not carry over", original["metadata"]["name"]);
            assert_eq!(copy["metadata"]["namespace"], to);
        }
        // And the copy exports as the original did.
        assert_eq!(setup.s2i(to, ["export", KINDS]).ok().stdout, export, "{from} -> {to}");
    }
    // An applied Build runs, as on a cluster: let the builds end before the store goes.
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let phases =
            setup.s2i("laptop", ["get", "builds", "-A", "-o", "jsonpath={.items[*].status.phase}"]).ok().stdout;
        if phases.split_whitespace().all(|phase| ["Complete", "Failed", "Error", "Cancelled"].contains(&phase)) {
            assert!(phases.split_whitespace().count() >= 2, "the fixture's build and its copy: {phases}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "builds never ended: {phases}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn exported_services_and_endpoints_are_what_a_cluster_takes() {
    let setup = Setup::new();
    setup.s2i("shop", ["apply", "-f", route_fixtures().to_str().unwrap()]).ok();
    let export = setup.s2i("shop", ["export", "services,endpoints"]).ok().stdout;
    let kinds = cluster::judge_documents("export services,endpoints", &export);
    assert!(kinds.iter().filter(|kind| *kind == "Service").count() >= 5, "{kinds:?}");
    assert!(kinds.contains(&"Endpoints".to_owned()), "{kinds:?}");
    // What a cluster allocates is left to it; a headless service stays headless.
    assert!(!export.contains("172.30.") && !export.contains("nodePort"), "{export}");
    assert!(export.contains("clusterIP: None"), "{export}");

    // Routes to a service, exported for other clusters, with no namespace of ours.
    let route = setup.write(
        "route.yaml",
        "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: front}\n\
         spec: {host: front.example.com, to: {kind: Service, name: web}, port: {targetPort: 8080}}\n",
    );
    setup.s2i("shop", ["apply", "-f", route.to_str().unwrap()]).ok();
    for (to, judged) in [("ingress", "Ingress"), ("gateway", "HTTPRoute")] {
        let run = setup.s2i("shop", ["route", "export", "front", "--to", to]).ok();
        assert!(!run.stdout.contains("namespace: shop"), "{}", run.stdout);
        assert!(cluster::judge_documents(to, &run.stdout).contains(&judged.to_owned()), "{}", run.stdout);
    }
    let run = setup.s2i("shop", ["route", "export", "front", "--to", "openshift"]).ok();
    assert!(!run.stdout.contains("namespace:"), "{}", run.stdout);
    let all = setup.s2i("shop", ["export", "all"]).ok().stdout;
    assert!(all.contains("kind: Route") && all.contains("kind: Endpoints"), "{all}");

    // A host generated for this machine's domain is left to the cluster, with a warning.
    setup.s2i("shop", ["expose", "svc/web", "--name", "generated"]).ok();
    let run = setup.s2i("shop", ["export", "route/generated", "-o", "json"]).ok();
    let route: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(route["kind"], "Route", "one object named is printed alone");
    assert_eq!(route["spec"].get("host"), None, "{route:#}");
    assert!(run.stderr.contains("generated for this machine's domain"), "{}", run.stderr);
}

#[test]
fn kind_slash_name_selectors_and_all() {
    let setup = Setup::new();
    setup.s2i("shop", ["apply", "-f", route_fixtures().to_str().unwrap()]).ok();
    // -n works after the verb, and KIND/NAME names objects of several kinds.
    let run =
        run_in_store(setup.store.path(), "default", ["get", "svc/web", "ep/legacy-db", "-n", "shop", "-o", "name"]);
    assert_eq!(run.ok().stdout, "service/web\nendpoints/legacy-db\n");
    let run = setup.s2i("shop", ["get", "svc", "web", "svc/db"]).failed();
    assert!(run.stderr.contains("KIND NAME… or KIND/NAME…"), "{}", run.stderr);

    let selected = |selector: &str| -> Vec<String> {
        let run = setup.s2i("shop", ["get", "svc", "-l", selector, "-o", "name"]).ok();
        run.stdout.lines().map(|line| line.trim_start_matches("service/").to_owned()).collect()
    };
    assert_eq!(selected("app=web"), ["web"]);
    assert_eq!(selected("app!=web"), ["db", "legacy-db", "payments", "storefront"]);
    assert_eq!(selected("app in (db,storefront)"), ["db", "storefront"]);
    assert_eq!(selected("app notin (db,storefront)"), ["legacy-db", "payments", "web"]);
    assert_eq!(selected("app"), ["db", "storefront", "web"]);
    assert_eq!(selected("!app"), ["legacy-db", "payments"]);
    assert_eq!(selected("app=web,!deployment"), ["web"]);
    assert_eq!(selected("app=web,deployment"), Vec::<String>::new());
    let run = setup.s2i("shop", ["get", "svc", "-l", "app in ()"]).failed();
    assert!(run.stderr.contains("invalid label selector"), "{}", run.stderr);

    // get all: the kinds oc get all shows, each under its qualified name.
    let run = setup.s2i("shop", ["get", "all"]).ok();
    assert!(run.stdout.contains("\nservice/web "), "{}", run.stdout);
    assert!(!run.stdout.lines().any(|line| line.starts_with("endpoints/")), "{}", run.stdout);
    let run = setup.s2i("empty", ["get", "all"]).ok();
    assert_eq!(run.stdout, "");
    assert!(run.stderr.contains("No resources found in empty namespace."), "{}", run.stderr);

    // delete -l deletes what the selector matches, and only that.
    let run = setup.s2i("shop", ["delete", "svc", "-l", "app in (db,storefront)"]).ok();
    assert!(run.stdout.contains("service \"db\" deleted") && run.stdout.contains("service \"storefront\" deleted"));
    assert_eq!(selected("app"), ["web"]);
}

#[test]
fn jsonpath_and_custom_columns() {
    let setup = Setup::new();
    setup.s2i("shop", ["apply", "-f", route_fixtures().to_str().unwrap()]).ok();
    let get = |args: &[&str]| -> String {
        let mut all = vec!["get"];
        all.extend_from_slice(args);
        Run::from(s2i_in(setup.store.path(), "shop").args(&all).output().unwrap()).ok().stdout
    };
    assert_eq!(get(&["svc", "web", "-o", "jsonpath={.metadata.name} {.spec.ports[0].port}"]), "web 8080");
    assert_eq!(
        get(&["svc", "-l", "app", "-o", "jsonpath={.items[*].metadata.name}"]),
        "db storefront web",
        "a list of objects is a List"
    );
    assert_eq!(
        get(&[
            "svc",
            "-l",
            "app",
            "-o",
            r#"jsonpath={range .items[*]}{.metadata.name}={.spec.selector.app}{"\n"}{end}"#
        ]),
        "db=db\nstorefront=storefront\nweb=web\n"
    );
    assert_eq!(
        get(&["svc", "-o", "custom-columns=NAME:.metadata.name,TYPE:.spec.type,PORTS:.spec.ports[*].port"]),
        "NAME         TYPE           PORTS\n\
         db           ClusterIP      5432\n\
         legacy-db    ClusterIP      5432,80\n\
         payments     ExternalName   443\n\
         storefront   LoadBalancer   443,9090\n\
         web          ClusterIP      8080\n"
    );
    let wide = get(&["svc", "web", "-o", "wide"]);
    assert!(wide.starts_with("NAME ") && wide.contains("LABELS") && wide.contains("app=web"), "{wide}");
    let run = setup.s2i("shop", ["get", "svc", "-o", "jsonpath={range .items[*]}"]).failed();
    assert!(run.stderr.contains("without {end}"), "{}", run.stderr);
}

#[test]
fn apply_and_delete_directories() {
    let setup = Setup::new();
    let dir = setup.store.path().join("app");
    std::fs::create_dir_all(dir.join("nested")).unwrap();
    let service = |name: &str| {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}}}\nspec: {{ports: [{{port: 80}}]}}\n")
    };
    std::fs::write(dir.join("a.yaml"), service("a")).unwrap();
    std::fs::write(dir.join("b.json"), r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "b"}}"#)
        .unwrap();
    std::fs::write(dir.join("notes.txt"), "not an object").unwrap();
    std::fs::write(dir.join("nested/c.yml"), service("c")).unwrap();
    let dir_arg = dir.to_str().unwrap();

    let run = setup.s2i("app", ["apply", "-f", dir_arg]).ok();
    assert_eq!(run.stdout, "service/a created\nconfigmap/b created\n");
    let run = setup.s2i("app", ["apply", "-f", dir_arg, "-R"]).ok();
    assert_eq!(run.stdout, "service/a unchanged\nconfigmap/b unchanged\nservice/c created\n");
    let run = setup.s2i("app", ["delete", "-f", dir_arg, "-R"]).ok();
    assert_eq!(run.stdout, "service \"c\" deleted\nconfigmap \"b\" deleted\nservice \"a\" deleted\n");
    let run = setup.s2i("app", ["delete", "-f", dir_arg]).failed();
    assert!(run.stderr.contains("not found"), "{}", run.stderr);
    let empty = setup.store.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let run = setup.s2i("app", ["apply", "-f", empty.to_str().unwrap()]).failed();
    assert!(run.stderr.contains("no objects to apply"), "{}", run.stderr);
}

#[test]
fn watch_prints_changes_as_they_happen() {
    let setup = Setup::new();
    let file = |name: &str, port: u16| {
        setup.write(
            &format!("{name}-{port}.yaml"),
            &format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, labels: {{app: w}}}}\nspec: {{ports: [{{port: {port}}}]}}\n"),
        )
    };
    setup.s2i("w", ["apply", "-f", file("first", 80).to_str().unwrap()]).ok();
    let mut child = s2i_in(setup.store.path(), "w")
        .args(["get", "svc", "-l", "app=w", "-w", "-o", "custom-columns=NAME:.metadata.name,PORT:.spec.ports[0].port"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _watch = Killed(child);
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            if lines.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next = || received.recv_timeout(Duration::from_secs(20)).expect("the watch printed a line in time");
    assert_eq!(next(), "NAME    PORT");
    assert_eq!(next(), "first   80");
    setup.s2i("w", ["apply", "-f", file("second", 81).to_str().unwrap()]).ok();
    assert_eq!(next().split_whitespace().collect::<Vec<_>>(), ["second", "81"]);
    setup.s2i("w", ["apply", "-f", file("first", 82).to_str().unwrap()]).ok();
    assert_eq!(next().split_whitespace().collect::<Vec<_>>(), ["first", "82"]);
    // A change to an object the selector does not match prints nothing; a deletion prints its last state.
    let other = setup
        .write("other.yaml", "apiVersion: v1\nkind: Service\nmetadata: {name: other}\nspec: {ports: [{port: 1}]}\n");
    setup.s2i("w", ["apply", "-f", other.to_str().unwrap()]).ok();
    setup.s2i("w", ["delete", "svc/second"]).ok();
    assert_eq!(next().split_whitespace().collect::<Vec<_>>(), ["second", "81"]);
    assert!(received.recv_timeout(Duration::from_millis(800)).is_err(), "nothing else changed");
}

#[test]
fn watch_follows_several_kinds_and_all_until_ctrl_c() {
    let setup = Setup::new();
    let service = |port: u16| {
        setup.write(
            &format!("web-{port}.yaml"),
            &format!("apiVersion: v1\nkind: Service\nmetadata: {{name: web}}\nspec: {{ports: [{{port: {port}}}]}}\n"),
        )
    };
    let stream =
        setup.write("app.yaml", "apiVersion: image.openshift.io/v1\nkind: ImageStream\nmetadata: {name: app}\n");
    setup.s2i("aw", ["apply", "-f", service(80).to_str().unwrap()]).ok();
    for kinds in ["all", "svc,is"] {
        let mut child =
            s2i_in(setup.store.path(), "aw").args(["get", kinds, "-w"]).stdout(Stdio::piped()).spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut watch = Killed(child);
        let (lines, received) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                if lines.send(line.unwrap()).is_err() {
                    break;
                }
            }
        });
        let next = || {
            let line = received.recv_timeout(Duration::from_secs(20)).expect("the watch printed a line in time");
            line.split_whitespace().map(str::to_owned).collect::<Vec<_>>()
        };
        assert_eq!(next(), ["NAME", "PORT(S)", "SELECTOR", "ENDPOINTS"], "{kinds}");
        assert_eq!(next()[..2], ["service/web", "80/TCP"], "{kinds}");
        // A kind that had no objects gets its header with its first change.
        setup.s2i("aw", ["apply", "-f", stream.to_str().unwrap()]).ok();
        assert_eq!(next(), ["NAME", "IMAGE", "REPOSITORY", "TAGS", "UPDATED"], "{kinds}");
        assert_eq!(next()[..2], ["imagestream.image.openshift.io/app", "aw/app"], "{kinds}");
        setup.s2i("aw", ["apply", "-f", service(81).to_str().unwrap()]).ok();
        assert_eq!(next()[..2], ["service/web", "81/TCP"], "{kinds}: each change once, without a second header");
        setup.s2i("aw", ["delete", "is/app"]).ok();
        assert_eq!(next()[..2], ["imagestream.image.openshift.io/app", "aw/app"], "{kinds}: a deletion, once");
        assert!(received.recv_timeout(Duration::from_millis(800)).is_err(), "{kinds}: nothing else changed");
        // Ctrl-C ends it.
        let pid = watch.0.id().to_string();
        assert!(std::process::Command::new("kill").args(["-INT", &pid]).status().unwrap().success());
        let started = std::time::Instant::now();
        while watch.0.try_wait().unwrap().is_none() {
            assert!(started.elapsed() < Duration::from_secs(10), "{kinds}: the watch ended on SIGINT");
            std::thread::sleep(Duration::from_millis(50));
        }
        setup.s2i("aw", ["apply", "-f", service(80).to_str().unwrap()]).ok();
    }
}

/// A Docker-strategy config, one of its builds and a route, for the
/// completion of the build verbs and `route export`.
const BUILD_OBJECTS: &str = "\
apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata: {name: from-docker}
spec:
  source: {git: {uri: \"https://example.com/app.git\"}}
  strategy: {type: Docker, dockerStrategy: {}}
---
apiVersion: build.openshift.io/v1
kind: Build
metadata: {name: from-docker-1}
spec:
  source: {git: {uri: \"https://example.com/app.git\"}}
  strategy: {type: Docker, dockerStrategy: {}}
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: front}
spec: {host: front.example.com, to: {kind: Service, name: web}}
";

/// A store with the route fixtures in namespace `shop`, [`BUILD_OBJECTS`]
/// and the image stream tag `app:1` in `ns`, and the completion script of `shell`.
struct Completion {
    setup: Setup,
    script: PathBuf,
    path: String,
    ns: Namespace,
}

impl Completion {
    fn new(shell: &str) -> Self {
        let setup = Setup::new();
        setup.s2i("shop", ["apply", "-f", route_fixtures().to_str().unwrap()]).ok();
        let ns = Namespace::fresh();
        let objects = setup.write("build-objects.yaml", BUILD_OBJECTS);
        setup.s2i(&ns.0, ["apply", "-f", objects.to_str().unwrap()]).ok();
        setup.s2i(&ns.0, ["tag", "--source=docker", &fixture("base"), "app:1"]).ok();
        // An applied Build runs: let it end (a local build cannot run the Docker strategy) before the store goes.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        while setup
            .s2i(&ns.0, ["get", "build", "from-docker-1", "-o", "jsonpath={.status.completionTimestamp}"])
            .ok()
            .stdout
            .is_empty()
        {
            assert!(std::time::Instant::now() < deadline, "the build never ended");
            std::thread::sleep(Duration::from_millis(200));
        }
        let script = setup.write(&format!("s2i.{shell}"), &setup.s2i("shop", ["completion", shell]).ok().stdout);
        let binary = PathBuf::from(env!("CARGO_BIN_EXE_s2i"));
        let path = format!("{}:{}", binary.parent().unwrap().display(), std::env::var("PATH").unwrap_or_default());
        Completion { setup, script, path, ns }
    }

    /// Runs `program` with `shell`, `s2i` on PATH and the store and `namespace` in the environment; its lines.
    fn run(&self, shell: &str, args: &[&str], namespace: &str) -> Vec<String> {
        let output = std::process::Command::new(shell)
            .args(args)
            .env("PATH", &self.path)
            .env("S2I_STORE", self.setup.store.path())
            .env("S2I_NAMESPACE", namespace)
            .output()
            .unwrap_or_else(|e| panic!("{shell} runs (cargo xtask packages installs it): {e}"));
        assert!(output.status.success(), "{shell}: {}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8_lossy(&output.stdout).lines().filter(|line| !line.is_empty()).map(str::to_owned).collect()
    }
}

fn quoted(words: &[&str]) -> String {
    words.iter().map(|word| format!("'{word}'")).collect::<Vec<_>>().join(" ")
}

#[test]
fn bash_completes_the_names_of_stored_objects() {
    let completion = Completion::new("bash");
    let complete = |words: &[&str], namespace: &str| -> Vec<String> {
        let program = format!(
            "source '{}'; COMP_WORDS=({}); COMP_CWORD={}; _s2i_objects s2i; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            completion.script.display(),
            quoted(words),
            words.len() - 1
        );
        completion.run("bash", &["-c", &program], namespace)
    };
    assert_eq!(complete(&["s2i", "-n", "shop", "get", "svc", "w"], "default"), ["web"]);
    assert_eq!(complete(&["s2i", "--namespace", "shop", "delete", "svc/l"], "default"), ["svc/legacy-db"]);
    assert_eq!(complete(&["s2i", "describe", "ep", ""], "shop"), ["db", "legacy-db"]);
    assert_eq!(complete(&["s2i", "get", "-o", "wide", "svc", "w"], "shop"), ["web"], "-o takes its value");
    assert_eq!(complete(&["s2i", "get", "svc", ""], "default"), Vec::<String>::new(), "nothing in default");

    // The objects of the build verbs, `tag` and `route export`.
    let ns = completion.ns.0.as_str();
    assert_eq!(complete(&["s2i", "start-build", "f"], ns), ["from-docker"]);
    assert_eq!(complete(&["s2i", "start-build", "bc/"], ns), ["bc/from-docker"]);
    assert_eq!(complete(&["s2i", "logs", ""], ns), ["build/from-docker-1", "bc/from-docker"]);
    assert_eq!(complete(&["s2i", "logs", "-f", "bu"], ns), ["build/from-docker-1"], "-f is --follow here");
    assert_eq!(complete(&["s2i", "cancel-build", ""], ns), ["from-docker-1"]);
    assert_eq!(complete(&["s2i", "tag", "a"], ns), ["app:1"]);
    assert_eq!(complete(&["s2i", "route", "export", ""], ns), ["front"]);
    assert_eq!(complete(&["s2i", "--namespace", ns, "route", "export", "f"], "shop"), ["front"]);
    assert!(!complete(&["s2i", "start-build", "--from-dir", ""], ns).contains(&"from-docker".to_owned()));
    assert!(!complete(&["s2i", "route", "create", ""], ns).contains(&"front".to_owned()));
    // bash splits STREAM:TAG at the colon; the answer is what follows it.
    let program = format!(
        "source '{}'; COMP_WORDS=(s2i tag app : ''); COMP_CWORD=4; COMP_LINE='s2i tag app:'; COMP_POINT=12; \
         _s2i_objects s2i; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        completion.script.display(),
    );
    assert_eq!(completion.run("bash", &["-c", &program], ns), ["1"]);
}

#[test]
fn zsh_completes_the_names_of_stored_objects() {
    let completion = Completion::new("zsh");
    // Outside an interactive shell, compadd and compdef are stand-ins: compadd prints
    // the candidates that match what is typed, as zsh would offer them.
    let complete = |words: &[&str], namespace: &str| -> Vec<String> {
        let program = format!(
            "compdef() {{ :; }}; source '{}'; \
             compadd() {{ while [[ $1 == -* && $1 != -- ]]; do shift; done; [[ $1 == -- ]] && shift; \
               local w; for w in \"$@\"; do [[ $w == ${{PREFIX}}* ]] && print -r -- $w; done; return 0; }}; \
             _s2i() {{ print -r -- '(options and commands)'; }}; \
             words=({}); CURRENT={}; PREFIX=${{words[CURRENT]}}; _s2i_objects",
            completion.script.display(),
            quoted(words),
            words.len()
        );
        completion.run("zsh", &["-f", "-c", &program], namespace)
    };
    assert_eq!(complete(&["s2i", "-n", "shop", "get", "svc", "w"], "default"), ["web"]);
    assert_eq!(complete(&["s2i", "--namespace=shop", "delete", "svc/l"], "default"), ["svc/legacy-db"]);
    assert_eq!(complete(&["s2i", "describe", "ep", ""], "shop"), ["db", "legacy-db"]);
    assert_eq!(complete(&["s2i", "get", "-o", "wide", "svc", "w"], "shop"), ["web"], "-o takes its value");
    assert_eq!(complete(&["s2i", "get", "svc", ""], "default"), Vec::<String>::new(), "nothing in default");
    // Other positions are clap's: commands, kinds, options, values of options.
    assert_eq!(complete(&["s2i", "build", ""], "shop"), ["(options and commands)"]);
    assert_eq!(complete(&["s2i", "get", "svc", "-"], "shop"), ["(options and commands)"]);

    // The objects of the build verbs, `tag` and `route export`.
    let ns = completion.ns.0.as_str();
    assert_eq!(complete(&["s2i", "start-build", "f"], ns), ["from-docker"]);
    assert_eq!(complete(&["s2i", "start-build", "bc/"], ns), ["bc/from-docker"]);
    assert_eq!(complete(&["s2i", "logs", ""], ns), ["build/from-docker-1", "bc/from-docker"]);
    assert_eq!(complete(&["s2i", "logs", "-f", "bu"], ns), ["build/from-docker-1"], "-f is --follow here");
    assert_eq!(complete(&["s2i", "cancel-build", ""], ns), ["from-docker-1"]);
    assert_eq!(complete(&["s2i", "tag", "app:"], ns), ["app:1"]);
    assert_eq!(complete(&["s2i", "route", "export", ""], ns), ["front"]);
    assert_eq!(complete(&["s2i", "-n", ns, "route", "export", "f"], "shop"), ["front"]);
    assert_eq!(complete(&["s2i", "start-build", "--from-dir", ""], ns), ["(options and commands)"]);
    assert_eq!(complete(&["s2i", "route", "create", ""], ns), ["(options and commands)"]);
}

#[test]
fn fish_completes_the_names_of_stored_objects() {
    let completion = Completion::new("fish");
    // fish completes a command line without a terminal: `complete -C`.
    let complete = |line: &str, namespace: &str| -> Vec<String> {
        let program = format!("source '{}'; complete -C '{line}'", completion.script.display());
        let lines = completion.run("fish", &["--no-config", "-c", &program], namespace);
        lines.iter().map(|line| line.split('\t').next().unwrap().to_owned()).collect()
    };
    assert_eq!(complete("s2i -n shop get svc w", "default"), ["web"]);
    assert_eq!(complete("s2i --namespace shop delete svc/l", "default"), ["svc/legacy-db"]);
    assert_eq!(complete("s2i describe ep ", "shop"), ["db", "legacy-db"]);
    assert_eq!(complete("s2i get -o wide svc w", "shop"), ["web"], "-o takes its value");
    assert_eq!(complete("s2i get svc ", "default"), Vec::<String>::new(), "nothing in default");
    assert!(complete("s2i get svc --wa", "shop").contains(&"--watch".to_owned()), "options stay clap's");

    // The objects of the build verbs, `tag` and `route export` (fish sorts them).
    let ns = completion.ns.0.as_str();
    assert_eq!(complete("s2i start-build f", ns), ["from-docker"]);
    assert_eq!(complete("s2i start-build bc/", ns), ["bc/from-docker"]);
    assert_eq!(complete("s2i logs ", ns), ["bc/from-docker", "build/from-docker-1"]);
    assert_eq!(complete("s2i logs -f bu", ns), ["build/from-docker-1"], "-f is --follow here");
    assert_eq!(complete("s2i cancel-build ", ns), ["from-docker-1"]);
    assert_eq!(complete("s2i tag app:", ns), ["app:1"]);
    assert_eq!(complete("s2i route export ", ns), ["front"]);
    assert_eq!(complete(&format!("s2i -n {ns} route export f"), "shop"), ["front"]);
    assert!(!complete("s2i start-build --from-dir ", ns).contains(&"from-docker".to_owned()));
}

#[test]
fn an_unknown_kind_lists_the_kinds() {
    let setup = Setup::new();
    let run = setup.s2i("ns", ["get", "pods"]).failed();
    assert!(run.stderr.contains("the server doesn't have a resource type \"pods\""), "{}", run.stderr);
    assert!(run.stderr.contains("services (svc);") && run.stderr.contains("; builds; secrets;"), "{}", run.stderr);
    assert!(!run.stderr.contains("()"), "no empty parentheses for kinds without short names: {}", run.stderr);
}

#[test]
fn an_explicit_namespace_is_never_overridden_by_a_file() {
    let setup = Setup::new();
    let named = setup.write(
        "named.yaml",
        "apiVersion: v1\nkind: Service\nmetadata: {name: web, namespace: myproj}\nspec: {ports: [{port: 80}]}\n",
    );
    let unnamed =
        setup.write("unnamed.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {a: b}\n");
    let named = named.to_str().unwrap();
    let everywhere = || setup.s2i("x", ["get", "svc,cm", "-A", "-o", "name"]).ok().stdout;

    // -n that the file contradicts is refused, as kubectl refuses it, and nothing is written.
    for args in [
        vec!["apply", "-f", named, "-n", "other"],
        vec!["apply", "-f", named, "--namespace=other", "--dry-run=server"],
        vec!["--namespace", "other", "apply", "-f", named, "--dry-run"],
    ] {
        let run = Run::from(s2i_in(setup.store.path(), "default").args(&args).output().unwrap()).failed();
        let report = flat(&run.stderr);
        assert!(
            report.contains(r#"named.yaml: Service "web": the namespace from the provided object "myproj" does not match the namespace "other""#),
            "{args:?}: {report}"
        );
        assert!(report.contains("You must pass '--namespace=myproj' to perform this operation"), "{report}");
        assert_eq!(run.stdout, "", "{args:?}");
    }
    assert_eq!(everywhere(), "");

    // Without -n ($S2I_NAMESPACE is a default, like a context's namespace) the file's namespace is kept;
    // -n that matches it, or an object that names none, is fine.
    assert_eq!(setup.s2i("other", ["apply", "-f", named]).ok().stdout, "service/web created\n");
    assert_eq!(setup.s2i("x", ["apply", "-f", named, "-n", "myproj"]).ok().stdout, "service/web unchanged\n");
    setup.s2i("x", ["apply", "-f", unnamed.to_str().unwrap(), "-n", "other"]).ok();
    let run =
        setup.s2i("x", ["get", "svc,cm", "-A", "-o", "custom-columns=NS:.metadata.namespace,NAME:.metadata.name"]);
    let listed: Vec<Vec<String>> =
        run.ok().stdout.lines().skip(1).map(|line| line.split_whitespace().map(str::to_owned).collect()).collect();
    assert_eq!(listed, [["myproj", "web"], ["other", "settings"]]);

    // delete -f is held to the same rule.
    let run = setup.s2i("x", ["delete", "-f", named, "-n", "other"]).failed();
    assert!(flat(&run.stderr).contains("does not match the namespace \"other\""), "{}", run.stderr);
    assert_eq!(setup.s2i("other", ["delete", "-f", named]).ok().stdout, "service \"web\" deleted\n");
}

#[test]
fn kept_settings_are_reported_when_a_config_is_created_or_changed() {
    let setup = Setup::new();
    let config = |selector: &str| {
        setup.write(
            "docker.yaml",
            &format!(
                "apiVersion: build.openshift.io/v1\nkind: BuildConfig\nmetadata: {{name: from-docker}}\nspec:\n  \
                 nodeSelector: {{disk: {selector}}}\n  mountTrustedCA: true\n  \
                 source: {{git: {{uri: \"https://example.com/app.git\"}}}}\n  \
                 strategy: {{type: Docker, dockerStrategy: {{}}}}\n"
            ),
        )
    };
    let warnings = |stderr: &str| stderr.lines().filter(|line| line.starts_with("warning: ")).count();
    let run = setup.s2i("kept", ["apply", "-f", config("ssd").to_str().unwrap()]).ok();
    assert_eq!(run.stdout, "buildconfig.build.openshift.io/from-docker created\n");
    for kept in ["the Docker strategy is kept", "spec.nodeSelector", "spec.mountTrustedCA"] {
        assert!(run.stderr.contains(kept), "{kept}: {}", run.stderr);
    }
    assert_eq!(warnings(&run.stderr), 3, "{}", run.stderr);
    // Re-applying the same file is routine: unchanged, and nothing said again.
    let run = setup.s2i("kept", ["apply", "-f", config("ssd").to_str().unwrap()]).ok();
    assert_eq!(run.stdout, "buildconfig.build.openshift.io/from-docker unchanged\n");
    assert_eq!(run.stderr, "");
    let run = setup.s2i("kept", ["apply", "-f", config("hdd").to_str().unwrap()]).ok();
    assert_eq!(run.stdout, "buildconfig.build.openshift.io/from-docker configured\n");
    assert_eq!(warnings(&run.stderr), 3, "a changed config is reported again: {}", run.stderr);
}

#[test]
fn build_verbs_take_kind_slash_name_as_oc_does() {
    let setup = Setup::new();
    let config = setup.write(
        "docker.yaml",
        "apiVersion: build.openshift.io/v1\nkind: BuildConfig\nmetadata: {name: from-docker}\nspec:\n  \
         source: {git: {uri: \"https://example.com/app.git\"}}\n  strategy: {type: Docker, dockerStrategy: {}}\n",
    );
    setup.s2i("bv", ["apply", "-f", config.to_str().unwrap()]).ok();
    // The config is found by every name of its kind (and then refused for its strategy, not as missing).
    for name in
        ["from-docker", "bc/from-docker", "buildconfig/from-docker", "buildconfigs.build.openshift.io/from-docker"]
    {
        let run = setup.s2i("bv", ["start-build", name]).failed();
        assert!(flat(&run.stderr).contains("the Docker strategy cannot be run here"), "{name}: {}", run.stderr);
        let run = setup.s2i("bv", ["logs", name]);
        if name.contains('/') {
            assert!(run.failed().stderr.contains("buildconfig from-docker has no builds yet"), "{name}");
        } else {
            assert!(run.failed().stderr.contains("\"from-docker\" names no kind"), "oc logs NAME is a pod");
        }
    }
    let run = setup.s2i("bv", ["describe", "buildconfigs.build.openshift.io/from-docker"]).ok();
    assert!(run.stdout.starts_with("Name:"), "{}", run.stdout);
    // A build is named as a build; its name alone is taken where oc takes it (cancel-build).
    for name in ["build/from-docker-1", "builds.build.openshift.io/from-docker-1"] {
        let run = setup.s2i("bv", ["logs", name]).failed();
        assert!(run.stderr.contains("Build \"from-docker-1\" not found"), "{name}: {}", run.stderr);
    }
    for name in ["from-docker-1", "build/from-docker-1", "Build/from-docker-1"] {
        let run = setup.s2i("bv", ["cancel-build", name]).failed();
        assert!(run.stderr.contains("Build \"from-docker-1\" not found"), "{name}: {}", run.stderr);
    }
    // A wrong kind says which kinds are taken.
    let run = setup.s2i("bv", ["start-build", "build/from-docker-1"]).failed();
    assert!(
        flat(&run.stderr).contains("\"build/from-docker-1\" is a build: start-build starts a build of a build config")
    );
    for verb in ["start-build", "logs", "cancel-build"] {
        let run = setup.s2i("bv", [verb, "is/from-docker"]).failed();
        assert!(
            flat(&run.stderr).contains("\"is/from-docker\": \"is\" is not a build or a build config"),
            "{verb}: {}",
            run.stderr
        );
    }
}

/// Objects of several kinds labelled `app=nodejs-ex` in namespace `nx`, and a service without the label.
const LABELLED: &str = "\
apiVersion: v1
kind: Service
metadata: {name: web, labels: {app: nodejs-ex}}
spec: {ports: [{port: 8080}], selector: {app: web}}
---
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: web, labels: {app: nodejs-ex}}
spec: {to: {kind: Service, name: web}}
---
apiVersion: image.openshift.io/v1
kind: ImageStream
metadata: {name: nodejs-ex, labels: {app: nodejs-ex}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: settings, labels: {app: nodejs-ex}}
---
apiVersion: v1
kind: Service
metadata: {name: other}
spec: {ports: [{port: 80}]}
";

#[test]
fn delete_all_selects_across_the_kinds_of_get_all() {
    let setup = Setup::new();
    let file = setup.write("labelled.yaml", LABELLED);
    setup.s2i("nx", ["apply", "-f", file.to_str().unwrap()]).ok();

    let run = setup.s2i("nx", ["delete", "all"]).failed();
    assert!(run.stderr.contains("resource(s) were provided, but no name was specified"), "{}", run.stderr);
    assert!(run.stderr.contains("--all"), "{}", run.stderr);
    let run = setup.s2i("nx", ["delete", "svc", "web", "--all"]).failed();
    assert!(run.stderr.contains("names cannot be given with --all"), "{}", run.stderr);

    // A route before its service: no warning that the route lost it.
    let run = setup.s2i("nx", ["delete", "all", "-l", "app=nodejs-ex"]).ok();
    assert_eq!(
        run.stdout,
        "route.route.openshift.io \"web\" deleted\nservice \"web\" deleted\n\
         imagestream.image.openshift.io \"nodejs-ex\" deleted\n"
    );
    assert_eq!(run.stderr, "");
    assert_eq!(setup.s2i("nx", ["get", "svc,cm", "-o", "name"]).ok().stdout, "service/other\nconfigmap/settings\n");
    let run = setup.s2i("nx", ["delete", "all", "-l", "app=nodejs-ex"]).ok();
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", "No resources found\n"));

    // "No resources found" only when no kind had a match.
    let run = setup.s2i("nx", ["delete", "cm,secret", "-l", "app=nodejs-ex"]).ok();
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("configmap \"settings\" deleted\n", ""));
    let run = setup.s2i("nx", ["delete", "svc", "--all"]).ok();
    assert_eq!(run.stdout, "service \"other\" deleted\n");
}

#[test]
fn delete_ignore_not_found() {
    let setup = Setup::new();
    let file = setup.write("labelled.yaml", LABELLED);
    setup.s2i("nf", ["apply", "-f", file.to_str().unwrap()]).ok();
    let run = setup.s2i("nf", ["delete", "svc/gone", "cm/settings", "bc/gone", "route/gone", "is/gone"]).failed();
    assert_eq!(run.stdout, "configmap \"settings\" deleted\n");
    assert!(run.stderr.contains("Service \"gone\" not found"), "{}", run.stderr);
    let run = setup.s2i(
        "nf",
        ["delete", "svc/gone", "svc/other", "bc/gone", "build/gone-1", "route/gone", "is/gone", "--ignore-not-found"],
    );
    let run = run.ok();
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("service \"other\" deleted\n", ""));
    setup.s2i("nf", ["delete", "-f", file.to_str().unwrap(), "--ignore-not-found"]).ok();
    let run = setup.s2i("nf", ["delete", "-f", file.to_str().unwrap(), "--ignore-not-found"]).ok();
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
    setup.s2i("nf", ["delete", "-f", file.to_str().unwrap()]).failed();
}

/// The names `get -o name` lists in namespace `ns`, of the kinds of `LABELLED` and secrets.
fn stored_names(setup: &Setup, ns: &str) -> String {
    setup.s2i(ns, ["get", "svc,route,is,cm,secret", "-o", "name"]).ok().stdout
}

#[test]
fn create_dry_run_prints_the_object_and_stores_nothing() {
    let setup = Setup::new();
    // kubectl's habit: write the object to a file, store nothing.
    let run =
        setup.s2i("cd", ["secret", "create", "generic", "x", "--from-literal=a=b", "--dry-run=client", "-o", "yaml"]);
    let yaml = run.ok().stdout;
    for line in ["apiVersion: v1", "kind: Secret", "  name: x", "  namespace: cd", "  a: Yg==", "type: Opaque"] {
        assert!(yaml.lines().any(|l| l == line), "{line:?} in\n{yaml}");
    }
    assert!(
        !yaml.contains("uid:") && !yaml.contains("resourceVersion"),
        "a client dry run prints the object given:\n{yaml}"
    );
    let run = setup.s2i("cd", ["secret", "create", "generic", "x", "--from-literal=a=b", "--dry-run"]).ok();
    assert_eq!(run.stdout, "secret/x created (dry run)\n");
    let run = setup.s2i("cd", ["secret", "create", "generic", "x", "--from-literal=a=b", "--dry-run", "-o", "name"]);
    assert_eq!(run.ok().stdout, "secret/x\n");
    let run = setup.s2i(
        "cd",
        [
            "secret",
            "create",
            "docker-registry",
            "pull",
            "--docker-username=u",
            "--docker-password=p",
            "--dry-run",
            "-o",
            "yaml",
        ],
    );
    let yaml = run.ok().stdout;
    assert!(yaml.contains("type: kubernetes.io/dockerconfigjson") && yaml.contains(".dockerconfigjson"), "{yaml}");
    let run =
        setup.s2i("cd", ["create", "configmap", "c", "--from-literal=k=v", "--dry-run=client", "-o", "json"]).ok();
    let map: Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!((map["kind"].as_str(), map["data"]["k"].as_str()), (Some("ConfigMap"), Some("v")));
    let run = setup.s2i("cd", ["create", "cm", "c", "--from-literal=k=v", "--dry-run=server", "-o", "json"]).ok();
    let map: Value = serde_json::from_str(&run.stdout).unwrap();
    assert!(map["metadata"]["uid"].is_string(), "a server dry run prints the object as stored: {map}");
    // The kind's rules still hold; tables are not an output of create.
    let run = setup.s2i(
        "cd",
        ["secret", "create", "generic", "bad", "--type", "kubernetes.io/basic-auth", "--from-literal=x=y", "--dry-run"],
    );
    assert!(run.failed().stderr.contains("data[username]: Required value"));
    setup.s2i("cd", ["create", "cm", "c", "--from-literal=k=v", "--dry-run", "-o", "wide"]).failed();
    assert_eq!(stored_names(&setup, "cd"), "", "a dry run stored objects");

    // `create … --dry-run=client -o yaml | apply -f -` updates what is stored; a server dry run refuses a second one.
    setup.s2i("cd", ["create", "cm", "c", "--from-literal=k=v"]).ok();
    let run = setup.s2i("cd", ["create", "cm", "c", "--from-literal=k=w", "--dry-run=server"]).failed();
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    let yaml =
        setup.s2i("cd", ["create", "cm", "c", "--from-literal=k=w", "--dry-run=client", "-o", "yaml"]).ok().stdout;
    let file = setup.write("c.yaml", &yaml);
    setup.s2i("cd", ["apply", "-f", file.to_str().unwrap()]).ok();
    assert_eq!(setup.json("cd", &["cm", "c"])["data"]["k"], "w");
    // Without --dry-run, -o prints what was stored.
    let run = setup.s2i("cd", ["secret", "create", "generic", "y", "--from-literal=a=b", "-o", "name"]).ok();
    assert_eq!(run.stdout, "secret/y\n");
    assert_eq!(stored_names(&setup, "cd"), "configmap/c\nsecret/y\n");
}

#[test]
fn delete_dry_run_deletes_nothing() {
    let setup = Setup::new();
    let file = setup.write("labelled.yaml", LABELLED);
    let file = file.to_str().unwrap();
    setup.s2i("dd", ["apply", "-f", file]).ok();
    let before = stored_names(&setup, "dd");

    let run = setup.s2i("dd", ["delete", "svc", "web", "--dry-run"]).ok();
    assert_eq!(run.stdout, "service \"web\" deleted (dry run)\n");
    let run = setup.s2i("dd", ["delete", "all", "-l", "app=nodejs-ex", "--dry-run=server"]).ok();
    assert_eq!(
        run.stdout,
        "route.route.openshift.io \"web\" deleted (server dry run)\nservice \"web\" deleted (server dry run)\n\
         imagestream.image.openshift.io \"nodejs-ex\" deleted (server dry run)\n"
    );
    let run = setup.s2i("dd", ["delete", "-f", file, "--dry-run"]).ok();
    assert_eq!(run.stdout.lines().count(), 5, "{}", run.stdout);
    assert!(run.stdout.lines().all(|line| line.ends_with(" deleted (dry run)")), "{}", run.stdout);
    // What is not there is reported as a real delete reports it.
    let run = setup.s2i("dd", ["delete", "svc/gone", "cm/settings", "--dry-run"]).failed();
    assert_eq!(run.stdout, "configmap \"settings\" deleted (dry run)\n");
    assert!(run.stderr.contains("Service \"gone\" not found"), "{}", run.stderr);
    setup.s2i("dd", ["delete", "svc/gone", "--dry-run", "--ignore-not-found"]).ok();
    assert_eq!(stored_names(&setup, "dd"), before, "a dry run deleted objects");
}

#[test]
fn describe_takes_a_label_selector() {
    let setup = Setup::new();
    let file = setup.write("labelled.yaml", LABELLED);
    setup.s2i("ds", ["apply", "-f", file.to_str().unwrap()]).ok();
    let described = |run: Run| -> Vec<String> {
        let run = run.ok();
        run.stdout.lines().filter_map(|line| line.strip_prefix("Name:")).map(|name| name.trim().to_owned()).collect()
    };
    assert_eq!(described(setup.s2i("ds", ["describe", "svc", "-l", "app=nodejs-ex"])), ["web"]);
    assert_eq!(described(setup.s2i("ds", ["describe", "svc", "-l", "app!=nodejs-ex"])), ["other"]);
    assert_eq!(described(setup.s2i("ds", ["describe", "svc,cm", "-l", "app"])), ["web", "settings"]);
    let run = setup.s2i("ds", ["describe", "svc", "-l", "app=none"]).ok();
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", "No resources found in ds namespace.\n"));
    let run = setup.s2i("ds", ["describe", "svc", "web", "-l", "app=nodejs-ex"]).failed();
    assert!(run.stderr.contains("names cannot be given with a selector"), "{}", run.stderr);
}
