//! `s2i build --push`, `--iidfile` and `--metadata-file` against a real
//! registry (Debian's `docker-registry`, htpasswd authentication) whose
//! credentials are only in the files `podman login` writes.

mod support;

use std::path::{Path, PathBuf};

use base64::Engine;
use support::*;

/// A registry that wants `tester` and a fresh password (bcrypt made here).
fn authenticated_registry() -> (Registry, String) {
    let password = unique("secret");
    let hash = bcrypt::hash(&password, 4).expect("bcrypt hashes");
    (Registry::start_with(Some(&format!("tester:{hash}"))), password)
}

/// A containers `auth.json` with `user:password` for `registry`, at `path`.
fn write_auth_json(path: &Path, registry: &str, user: &str, password: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    std::fs::write(path, format!(r#"{{"auths": {{"{registry}": {{"auth": "{auth}"}}}}}}"#)).unwrap();
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn push_with_credentials_from_registry_auth_file_writes_the_id_and_metadata() {
    let (registry, password) = authenticated_registry();
    let builder = fixture("busybox-builder");
    let home = tempfile::tempdir().unwrap();
    let auth_file = home.path().join("auth.json");
    write_auth_json(&auth_file, &registry.host, "tester", &password);
    let repo = format!("team/{}", unique("app"));
    let out = Image(format!("{}/{repo}:1", registry.host));
    let src = source(&[("index.html", "published")]);
    let iidfile = home.path().join("iid");
    let metadata = home.path().join("metadata.json");

    let run = Run::from(
        isolated(home.path())
            .env("REGISTRY_AUTH_FILE", &auth_file)
            .args(["build", src.path().to_str().unwrap(), &builder, &out.0, "--push"])
            .arg("--iidfile")
            .arg(&iidfile)
            .arg("--metadata-file")
            .arg(&metadata)
            .output()
            .unwrap(),
    )
    .ok();
    assert!(run.stderr.contains(&format!("Pushed {}", out.0)), "{}", run.stderr);
    assert!(!run.stderr.contains(&password), "the password never reaches the output");

    let id = std::fs::read_to_string(&iidfile).unwrap();
    assert!(id.starts_with("sha256:") && !id.ends_with('\n'), "{id:?}");
    assert_eq!(Some(id.clone()), image_id(&out.0), "the ID docker inspect shows");

    let served = registry.digest_as(&repo, "1", Some(("tester", &password))).expect("the registry serves the tag");
    let metadata = json(&metadata);
    assert_eq!(metadata["imageId"], id.as_str());
    assert_eq!(metadata["tag"], out.0.as_str());
    assert_eq!(metadata["pushedDigest"], served.as_str(), "the digest the registry serves for the tag");
    assert_eq!(metadata["pushed"], format!("{}/{repo}@{served}", registry.host).as_str());
    assert_eq!(metadata["builderImage"], builder.as_str());
    assert_eq!(metadata["builderImageId"], image_id(&builder).unwrap().as_str());
    assert!(metadata.get("builderImageDigest").is_some(), "{metadata}");
    assert_eq!(metadata["source"]["location"], src.path().to_str().unwrap());
    assert!(metadata["durationSeconds"].as_f64().unwrap() > 0.0);
    assert!(!metadata.to_string().contains(&password));
}

#[test]
fn podman_logins_under_xdg_runtime_dir_are_found() {
    let (registry, password) = authenticated_registry();
    let builder = fixture("busybox-builder");
    let home = tempfile::tempdir().unwrap();
    // Where `podman login` writes.
    write_auth_json(&home.path().join("run/containers/auth.json"), &registry.host, "tester", &password);
    let repo = format!("team/{}", unique("xdg"));
    let out = Image(format!("{}/{repo}:1", registry.host));
    let src = source(&[("index.html", "x")]);
    Run::from(
        isolated(home.path())
            .args(["build", src.path().to_str().unwrap(), &builder, &out.0, "--push"])
            .output()
            .unwrap(),
    )
    .ok();
    assert!(registry.digest_as(&repo, "1", Some(("tester", &password))).is_some(), "{}", registry.log_text());
}

#[test]
fn a_refused_push_names_the_registry_and_keeps_the_image() {
    let (registry, password) = authenticated_registry();
    let builder = fixture("busybox-builder");
    let home = tempfile::tempdir().unwrap();
    let auth_file: PathBuf = home.path().join("auth.json");
    write_auth_json(&auth_file, &registry.host, "tester", &format!("not-{password}"));
    let repo = format!("team/{}", unique("refused"));
    let out = Image(format!("{}/{repo}:1", registry.host));
    let src = source(&[("index.html", "x")]);
    let metadata = home.path().join("metadata.json");
    let run = Run::from(
        isolated(home.path())
            .env("REGISTRY_AUTH_FILE", &auth_file)
            .args(["build", src.path().to_str().unwrap(), &builder, &out.0, "--push", "--metadata-file"])
            .arg(&metadata)
            .output()
            .unwrap(),
    )
    .failed();
    let stderr = flat(&run.stderr);
    assert!(stderr.contains(&format!("cannot push {} to the registry {}", out.0, registry.host)), "{stderr}");
    assert!(stderr.contains("stays in the engine"), "{stderr}");
    assert!(stderr.contains(&format!("login {}", registry.host)), "the fix: {stderr}");
    assert!(image_id(&out.0).is_some(), "the image stays built locally");
    assert!(!metadata.exists(), "nothing was published to describe");
    assert!(registry.digest_as(&repo, "1", Some(("tester", &password))).is_none());
}

#[test]
fn push_needs_a_tag() {
    let builder = fixture("busybox-builder");
    let src = source(&[("index.html", "x")]);
    let run = run_s2i(["build", src.path().to_str().unwrap(), &builder, "--push"]).failed();
    assert!(flat(&run.stderr).contains("invalid --push: there is no tag to push"), "{}", run.stderr);
    let run =
        run_s2i(["build", src.path().to_str().unwrap(), &builder, "app:1", "--push", "--push-builder-stage"]).failed();
    assert!(flat(&run.stderr).contains("only an incremental build with --runtime-image"), "{}", run.stderr);
}
