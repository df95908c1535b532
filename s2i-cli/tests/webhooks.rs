//! Webhooks end to end: `s2i controller --webhook-port` answering GitHub and
//! generic webhooks as OpenShift does, with real builds on the engine.

mod support;

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::*;

/// A git repository with two commits on `main`: `index.html` says `one`, then `two`. Returns the commits.
fn repository() -> (tempfile::TempDir, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let repo = git2::Repository::init(dir.path()).unwrap();
    let signature = git2::Signature::now("Tester", "tester@example.com").unwrap();
    let mut commits = Vec::new();
    for text in ["one", "two"] {
        std::fs::write(dir.path().join("index.html"), format!("{text}\n")).unwrap();
        let mut index = repo.index().unwrap();
        index.add_path(Path::new("index.html")).unwrap();
        index.write().unwrap();
        let tree = repo.find_tree(index.write_tree().unwrap()).unwrap();
        let parents: Vec<git2::Commit<'_>> =
            repo.head().ok().map(|h| h.peel_to_commit().unwrap()).into_iter().collect();
        let parents: Vec<&git2::Commit<'_>> = parents.iter().collect();
        let id = repo.commit(Some("refs/heads/main"), &signature, &signature, text, &tree, &parents).unwrap();
        repo.set_head("refs/heads/main").unwrap();
        commits.push(id.to_string());
    }
    (dir, commits.remove(0), commits.remove(0))
}

/// One HTTP/1.1 request to 127.0.0.1:`port`; the status and the body.
fn request(port: u16, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
    (status, body)
}

fn github_push(git_ref: &str, commit: &str) -> String {
    format!(
        r#"{{"ref":"{git_ref}","head_commit":{{"id":"{commit}","message":"one","author":{{"name":"Tester","email":"tester@example.com"}}}}}}"#
    )
}

fn signature(secret: &[u8], body: &[u8]) -> String {
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    format!("sha256={}", ring::hmac::sign(&key, body).as_ref().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

struct Setup {
    ns: Namespace,
    store: tempfile::TempDir,
}

impl Setup {
    fn s2i(&self, args: &[&str]) -> Run {
        run_in_store(self.store.path(), &self.ns.0, args)
    }

    fn build_names(&self) -> Vec<String> {
        let run = self.s2i(&["get", "builds", "-o", "json"]).ok();
        let list: Value = serde_json::from_str(&run.stdout).unwrap();
        list["items"].as_array().unwrap().iter().map(|b| b["metadata"]["name"].as_str().unwrap().to_owned()).collect()
    }

    fn wait_ended(&self, name: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let run = self.s2i(&["get", "build", name, "-o", "json"]);
            if run.code == 0 {
                let build: Value = serde_json::from_str(&run.stdout).unwrap();
                if matches!(build["status"]["phase"].as_str(), Some("Complete" | "Failed" | "Error" | "Cancelled")) {
                    return build;
                }
            }
            assert!(Instant::now() < deadline, "build {name} did not end: {}", run.stdout);
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

#[test]
fn webhooks_start_builds_of_the_pushed_commit_and_refuse_what_openshift_refuses() {
    fixture("busybox-builder");
    let setup = Setup { ns: Namespace::fresh(), store: tempfile::tempdir().unwrap() };
    let (repo, first, second) = repository();
    setup.s2i(&["secret", "create", "generic", "hooks", "--from-literal=WebHookSecretKey=generic-secret"]).ok();
    let config = |label: &str| {
        format!(
            "apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata:
  name: hooked
  labels: {{version: {label}}}
spec:
  source:
    git: {{uri: 'file://{}', ref: main}}
  strategy:
    sourceStrategy:
      from: {{kind: DockerImage, name: 's2i-fixtures/busybox-builder:latest'}}
  output:
    to: {{kind: ImageStreamTag, name: 'hooked:latest'}}
  triggers:
  - type: GitHub
    github: {{secret: github-secret}}
  - type: Generic
    generic:
      secretReference: {{name: hooks}}
      allowEnv: true
  - type: Bitbucket
    bitbucket: {{secret: bitbucket-secret}}
",
            repo.path().display()
        )
    };
    let file = setup.store.path().join("hooked.yaml");
    std::fs::write(&file, config("a")).unwrap();
    let applied = setup.s2i(&["apply", "-f", file.to_str().unwrap()]).ok();
    assert!(applied.stderr.contains("webhook-port` (none runs now)"), "{}", applied.stderr);
    let described = setup.s2i(&["describe", "bc", "hooked"]).ok().stdout;
    assert!(described.contains("http://127.0.0.1:<webhook-port>/apis/"), "{described}");
    assert!(described.contains("start one with `s2i controller --webhook-port PORT`"), "{described}");
    // Said once: an unchanged config says nothing more.
    let again = setup.s2i(&["apply", "-f", file.to_str().unwrap()]).ok();
    assert!(!again.stderr.contains("webhook"), "{}", again.stderr);

    // The controller, on a port of its choosing (found in its record).
    let log = setup.store.path().join("controller.log");
    let controller = Killed(
        s2i_in(setup.store.path(), &setup.ns.0)
            .args(["controller", "--interval", "200", "--webhook-port", "0"])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let record = setup.store.path().join("webhooks.serving");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !record.exists() {
        assert!(Instant::now() < deadline, "no webhook server: {}", std::fs::read_to_string(&log).unwrap_or_default());
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = std::fs::read_to_string(&record).unwrap();
    let port: u16 = text.split_whitespace().find_map(|w| w.strip_prefix("port=")).unwrap().parse().unwrap();

    // While it serves, a changed config does not warn.
    std::fs::write(&file, config("b")).unwrap();
    let applied = setup.s2i(&["apply", "-f", file.to_str().unwrap()]).ok();
    assert!(!applied.stderr.contains("webhook"), "{}", applied.stderr);
    let described = setup.s2i(&["describe", "bc", "hooked"]).ok().stdout;
    assert!(described.contains("Webhook GitHub:"), "{described}");
    let github_path = format!("/apis/build.openshift.io/v1/namespaces/{}/buildconfigs/hooked/webhooks", setup.ns.0);
    // The URLs are the running server's.
    assert!(described.contains(&format!("http://127.0.0.1:{port}{github_path}/<secret>/github")), "{described}");
    assert!(described.contains(&format!("http://127.0.0.1:{port}{github_path}/<secret>/generic")), "{described}");
    assert!(!described.contains("<webhook-port>") && !described.contains("No webhook server"), "{described}");
    assert!(!described.contains("github-secret") && !described.contains("generic-secret"), "{described}");

    let json = [("Content-Type", "application/json"), ("X-GitHub-Event", "push")];
    let push = github_push("refs/heads/main", &first);
    let github = format!("{github_path}/github-secret/github");

    // Refused, and nothing started: a wrong secret, a wrong method, an unknown config, a bad signature.
    let (status, body) = request(port, "POST", &format!("{github_path}/wrong/github"), &json, push.as_bytes());
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("did not accept your secret") && body.contains("\"Unauthorized\""), "{body}");
    // The GitHub secret is not the generic one.
    let (status, _) = request(port, "POST", &format!("{github_path}/github-secret/generic"), &[], b"");
    assert_eq!(status, 401);
    let (status, _) = request(port, "GET", &github, &json, b"");
    assert_eq!(status, 405);
    let unknown = github.replace("/hooked/", "/nothere/");
    let (status, body) = request(port, "POST", &unknown, &json, push.as_bytes());
    assert_eq!(status, 404, "{body}");
    let bad = signature(b"another-secret", push.as_bytes());
    let signed = [json[0], json[1], ("X-Hub-Signature-256", bad.as_str())];
    let (status, body) = request(port, "POST", &github, &signed, push.as_bytes());
    assert_eq!(status, 401, "{body}");
    // A push to another branch is answered and starts nothing.
    let other = github_push("refs/heads/feature", &second);
    let (status, body) = request(port, "POST", &github, &json, other.as_bytes());
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("no build started"), "{body}");
    assert!(setup.build_names().is_empty(), "{:?}", setup.build_names());

    // Signed with the secret: the pushed commit (not the branch's head) is built.
    let good = signature(b"github-secret", push.as_bytes());
    let signed = [json[0], json[1], ("X-Hub-Signature-256", good.as_str())];
    let (status, body) = request(port, "POST", &github, &signed, push.as_bytes());
    assert_eq!(status, 200, "{body}");
    let answered: Value = serde_json::from_str(&body).unwrap();
    assert_eq!((answered["kind"].as_str(), answered["metadata"]["name"].as_str()), (Some("Build"), Some("hooked-1")));
    let build = setup.wait_ended("hooked-1");
    assert_eq!(build["status"]["phase"], "Complete", "{build:#}");
    let cause = &build["spec"]["triggeredBy"][0];
    assert_eq!(cause["message"], "GitHub WebHook");
    assert_eq!(cause["githubWebHook"]["secret"], "<redacted>");
    assert_eq!(cause["githubWebHook"]["revision"]["git"]["commit"].as_str(), Some(first.as_str()));
    assert_eq!(build["spec"]["revision"]["git"]["commit"].as_str(), Some(first.as_str()));
    let image = format!("{}/hooked:latest", setup.ns.0);
    assert_eq!(run_in(&image, &["cat", "index.html"]), "one\n");

    // Generic, with the Secret's key and env (allowEnv): the branch's head, with the payload's variable.
    let generic = format!("{github_path}/generic-secret/generic");
    let payload =
        format!(r#"{{"git":{{"ref":"main","commit":"{second}"}},"env":[{{"name":"FROM_HOOK","value":"yes"}}]}}"#);
    let (status, body) = request(port, "POST", &generic, &[("Content-Type", "application/json")], payload.as_bytes());
    assert_eq!(status, 200, "{body}");
    let build = setup.wait_ended("hooked-2");
    assert_eq!(build["status"]["phase"], "Complete", "{build:#}");
    assert_eq!(build["spec"]["triggeredBy"][0]["message"], "Generic WebHook");
    assert_eq!(run_in(&image, &["cat", "index.html"]), "two\n");
    assert!(run_in(&image, &["cat", ".s2i-build-info"]).contains("FROM_HOOK=yes\n"));

    // Bitbucket Server (Data Center): the pushed branch's new commit, by its ref's displayId.
    let bitbucket = format!("{github_path}/bitbucket-secret/bitbucket");
    let headers = [("Content-Type", "application/json"), ("X-Event-Key", "repo:refs_changed")];
    let push = |branch: &str| {
        format!(
            r#"{{"eventKey":"repo:refs_changed","actor":{{"name":"ann","displayName":"Ann","emailAddress":"ann@example.com"}},
               "changes":[{{"ref":{{"id":"refs/heads/{branch}","displayId":"{branch}","type":"BRANCH"}},
               "refId":"refs/heads/{branch}","fromHash":"{second}","toHash":"{first}","type":"UPDATE"}}]}}"#
        )
    };
    let (status, body) = request(port, "POST", &bitbucket, &headers, push("feature").as_bytes());
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("no build started"), "{body}");
    let (status, body) = request(port, "POST", &bitbucket, &headers, push("main").as_bytes());
    assert_eq!(status, 200, "{body}");
    let build = setup.wait_ended("hooked-3");
    assert_eq!(build["status"]["phase"], "Complete", "{build:#}");
    assert_eq!(build["spec"]["triggeredBy"][0]["message"], "Bitbucket WebHook");
    assert_eq!(build["spec"]["revision"]["git"]["commit"].as_str(), Some(first.as_str()));
    assert_eq!(run_in(&image, &["cat", "index.html"]), "one\n");

    let log = std::fs::read_to_string(&log).unwrap();
    assert!(log.contains("build/hooked-1 started by a GitHub webhook"), "{log}");
    assert!(!log.contains("github-secret") && !log.contains("generic-secret"), "{log}");
    assert!(!log.contains("bitbucket-secret"), "{log}");
    assert_eq!(setup.build_names(), ["hooked-1", "hooked-2", "hooked-3"]);

    // Killed, the controller leaves its record behind; the record of a dead process names no server.
    drop(controller);
    assert!(record.exists(), "SIGKILL leaves the record");
    let described = setup.s2i(&["describe", "bc", "hooked"]).ok().stdout;
    assert!(described.contains("http://127.0.0.1:<webhook-port>/apis/"), "{described}");
    assert!(described.contains("No webhook server runs for this store"), "{described}");
}
