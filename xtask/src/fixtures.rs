//! `cargo xtask fixtures`: build the offline fixture images.
//!
//! No image can be pulled, so every image the tests need is made here:
//!
//! 1. `s2i-fixtures/base:latest` is imported from a root filesystem that
//!    xtask writes itself: the host's static busybox, a symlink per applet,
//!    `/etc/passwd` and `/etc/group`, and the usual S2I directories.
//! 2. Every directory `fixtures/images/<name>/` holds a Dockerfile (and the
//!    files it copies) for `s2i-fixtures/<name>:latest`. They are built in
//!    dependency order: a `FROM` or `COPY --from=` naming another
//!    `s2i-fixtures/` image makes it a parent.
//!
//! Each image carries the label [`HASH_LABEL`], a hash of what it is made of
//! (its files and its parents' hashes). An image whose label already matches
//! is not rebuilt, so a second run takes a second or two. Adding a fixture
//! is adding a directory.
//!
//! `cargo xtask fixtures --podman` builds the same images into Podman's
//! storage, through the Docker-compatible API of `cargo xtask podman` (the
//! same `docker` commands, pointed at its socket). Podman names them
//! `docker.io/s2i-fixtures/…`, which is what `s2i-fixtures/…` means to a
//! Docker client, so the tests find them by the same names.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail, ensure};
use sha2::{Digest, Sha256};

use crate::{cmd, docker, podman, workspace};

/// The repository part shared by all fixture images.
pub(crate) const NAMESPACE: &str = "s2i-fixtures";
/// The label that records what an image was built from.
pub(crate) const HASH_LABEL: &str = "io.s2i.fixture-hash";
/// The name of the imported base image.
const BASE: &str = "base";
/// The host's busybox; it must be statically linked (Debian `busybox-static`).
const BUSYBOX: &str = "/bin/busybox";
/// A fixed modification time for the base root filesystem (2024-01-01), so
/// that its tar, and therefore its hash, only change when its content does.
const BASE_MTIME: u64 = 1_704_067_200;
/// Image config for the base, given to `docker import --change`.
const BASE_CHANGES: &[&str] =
    &["ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", r#"CMD ["/bin/sh"]"#];

/// `cargo xtask fixtures`: engine, busybox, then every image.
pub(crate) fn run() -> Result<()> {
    docker::ensure_engine()?;
    build_all()
}

/// `cargo xtask fixtures --podman`: the same, into xtask's Podman service.
pub(crate) fn run_podman() -> Result<()> {
    podman::ensure_service()?;
    build_into(Some(podman::HOST))
}

/// The reference of the fixture image `name`.
pub(crate) fn image(name: &str) -> String {
    format!("{NAMESPACE}/{name}:latest")
}

/// The directory holding one directory per fixture image.
fn images_dir() -> PathBuf {
    workspace::root().join("fixtures").join("images")
}

/// Builds the base and every fixture image that is not up to date, on the
/// environment's engine.
pub(crate) fn build_all() -> Result<()> {
    build_into(None)
}

/// Builds the base and every fixture image that is not up to date, on the
/// engine at `host` (a `DOCKER_HOST` value), or the environment's when `None`.
pub(crate) fn build_into(host: Option<&str>) -> Result<()> {
    let busybox = ensure_busybox()?;
    let fixtures = build_order(load_fixtures(&images_dir())?)?;
    let mut hashes = BTreeMap::new();
    let mut replaced = Vec::new();

    let rootfs = base_rootfs(&busybox)?;
    let base_hash = hash_base(&rootfs);
    if let Some(old) = ensure_image(host, BASE, &base_hash, |hash| import_base(host, &rootfs, hash))? {
        replaced.push(old);
    }
    hashes.insert(BASE.to_owned(), base_hash);

    for fixture in &fixtures {
        let parents: Vec<(&str, &str)> =
            fixture.parents.iter().map(|parent| (parent.as_str(), hashes[parent].as_str())).collect();
        let hash = hash_fixture(&fixture.dir, &parents)?;
        if let Some(old) = ensure_image(host, &fixture.name, &hash, |hash| build_fixture(host, fixture, hash))? {
            replaced.push(old);
        }
        hashes.insert(fixture.name.clone(), hash);
    }

    // Drop the images that were replaced, unless something still uses them
    // (a container, or an image built from them): then docker refuses.
    for old in replaced.iter().rev() {
        cmd::succeeds(cmd::docker_at(host).args(["image", "rm", old]));
    }
    Ok(())
}

/// Builds `name` with `build` unless the existing image has `hash`. Returns
/// the ID of the image it replaced, if any.
fn ensure_image(
    host: Option<&str>,
    name: &str,
    hash: &str,
    build: impl FnOnce(&str) -> Result<()>,
) -> Result<Option<String>> {
    let image = image(name);
    let existing = inspect(host, &image)?;
    let short = &hash[..12];
    if let Some((_, Some(existing_hash))) = &existing
        && existing_hash == hash
    {
        println!("fixtures: {image:<44} up to date ({short})");
        return Ok(None);
    }
    let started = Instant::now();
    build(hash).with_context(|| format!("cannot build {image}"))?;
    println!("fixtures: {image:<44} built in {} ({short})", cmd::human(started.elapsed()));
    Ok(existing.map(|(id, _)| id))
}

/// The ID and fixture hash label of an image, or `None` if there is no such
/// image.
fn inspect(host: Option<&str>, image: &str) -> Result<Option<(String, Option<String>)>> {
    let out = cmd::docker_at(host)
        .args(["image", "inspect", "--format", "{{.Id}} {{json .Config.Labels}}", image])
        .stdin(Stdio::null())
        .output()
        .context("cannot run `docker image inspect`")?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        // Docker says "No such image", Podman "…: image not known".
        let stderr_lower = stderr.to_ascii_lowercase();
        if stderr_lower.contains("no such image") || stderr_lower.contains("image not known") {
            return Ok(None);
        }
        bail!("`docker image inspect {image}` failed: {stderr}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    let (id, labels) = stdout.trim().split_once(' ').context("unexpected `docker image inspect` output")?;
    let labels: serde_json::Value = serde_json::from_str(labels).context("cannot parse the image labels")?;
    let hash = labels[HASH_LABEL].as_str().map(str::to_owned);
    Ok(Some((id.to_owned(), hash)))
}

// ---------------------------------------------------------------------------
// Fixture directories and their order.

/// One `fixtures/images/<name>/` directory.
#[derive(Debug)]
struct Fixture {
    name: String,
    dir: PathBuf,
    /// The fixture images (including `base`) this one is built from.
    parents: BTreeSet<String>,
}

fn load_fixtures(images_dir: &Path) -> Result<Vec<Fixture>> {
    let mut fixtures = Vec::new();
    let entries = std::fs::read_dir(images_dir).with_context(|| format!("cannot read {}", images_dir.display()))?;
    for entry in entries {
        let entry = entry?;
        if !entry.file_type()?.is_dir() {
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        ensure!(name != BASE, "fixtures/images/{BASE} is reserved for the imported base image");
        let dockerfile = entry.path().join("Dockerfile");
        let text = std::fs::read_to_string(&dockerfile)
            .with_context(|| format!("fixture {name}: cannot read {}", dockerfile.display()))?;
        fixtures.push(Fixture { name, dir: entry.path(), parents: parents_in_dockerfile(&text) });
    }
    Ok(fixtures)
}

/// The fixture images a Dockerfile builds on: `FROM s2i-fixtures/x[:tag]`
/// and `COPY --from=s2i-fixtures/x[:tag]` give `x`.
fn parents_in_dockerfile(dockerfile: &str) -> BTreeSet<String> {
    let mut parents = BTreeSet::new();
    for line in dockerfile.lines() {
        let mut words = line.split_whitespace();
        let instruction = words.next().unwrap_or_default().to_ascii_uppercase();
        let image = match instruction.as_str() {
            "FROM" => words.find(|word| !word.starts_with("--")),
            "COPY" => words.find_map(|word| word.strip_prefix("--from=")),
            _ => None,
        };
        let fixture = image
            .and_then(|image| image.strip_prefix(NAMESPACE))
            .and_then(|rest| rest.strip_prefix('/'))
            .map(|rest| rest.split([':', '@']).next().unwrap_or_default());
        if let Some(fixture) = fixture {
            parents.insert(fixture.to_owned());
        }
    }
    parents
}

/// Orders fixtures so that each comes after its parents (ties by name).
fn build_order(fixtures: Vec<Fixture>) -> Result<Vec<Fixture>> {
    let mut pending: BTreeMap<String, Fixture> = BTreeMap::new();
    for fixture in fixtures {
        pending.insert(fixture.name.clone(), fixture);
    }
    for fixture in pending.values() {
        for parent in &fixture.parents {
            ensure!(
                parent == BASE || pending.contains_key(parent),
                "fixture {} is built from {}, but there is no fixtures/images/{parent}",
                fixture.name,
                image(parent)
            );
        }
    }
    let mut done: BTreeSet<String> = BTreeSet::from([BASE.to_owned()]);
    let mut order = Vec::new();
    while !pending.is_empty() {
        let ready =
            pending.values().find(|fixture| fixture.parents.is_subset(&done)).map(|fixture| fixture.name.clone());
        let Some(ready) = ready else {
            let stuck: Vec<&String> = pending.keys().collect();
            bail!("the fixtures {stuck:?} are built from each other in a cycle");
        };
        let fixture = pending.remove(&ready).expect("found above");
        done.insert(ready);
        order.push(fixture);
    }
    Ok(order)
}

// ---------------------------------------------------------------------------
// Content hashes.

fn hash_base(rootfs: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"s2i-fixtures base v1\0");
    for change in BASE_CHANGES {
        hasher.update(change.as_bytes());
        hasher.update(b"\0");
    }
    // The tar holds busybox and every other file of the image.
    hasher.update(rootfs);
    hex::encode(hasher.finalize())
}

/// Hashes a fixture directory (paths, executable bits, contents, symlink
/// targets) and its parents' hashes.
fn hash_fixture(dir: &Path, parents: &[(&str, &str)]) -> Result<String> {
    let mut hasher = Sha256::new();
    hasher.update(b"s2i-fixtures image v1\0");
    for (name, hash) in parents {
        hasher.update(format!("parent\0{name}\0{hash}\0").as_bytes());
    }
    for host in host_files(dir)? {
        let content = std::fs::read(&host).with_context(|| format!("cannot read {}", host.display()))?;
        hasher.update(format!("host\0{}\0{}\0", host.display(), content.len()).as_bytes());
        hasher.update(&content);
    }
    let mut files = Vec::new();
    walk(dir, Path::new(""), &mut files)?;
    for relative in files {
        let path = dir.join(&relative);
        let meta = std::fs::symlink_metadata(&path)?;
        let name = relative.to_string_lossy();
        if meta.is_dir() {
            hasher.update(format!("dir\0{name}\0").as_bytes());
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path)?;
            hasher.update(format!("symlink\0{name}\0{}\0", target.display()).as_bytes());
        } else {
            let executable = meta.permissions().mode() & 0o111 != 0;
            let content = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
            hasher.update(format!("file\0{name}\0{executable}\0{}\0", content.len()).as_bytes());
            hasher.update(&content);
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Appends the paths under `root/relative`, sorted, directories before
/// their contents.
fn walk(root: &Path, relative: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let dir = root.join(relative);
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .map(|entry| entry.map(|entry| entry.file_name()))
        .collect::<Result<_, _>>()?;
    names.sort();
    for name in names {
        let path = relative.join(name);
        let is_dir = std::fs::symlink_metadata(root.join(&path))?.is_dir();
        out.push(path.clone());
        if is_dir {
            walk(root, &path, out)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The base image.

/// Makes sure [`BUSYBOX`] is a statically linked busybox, installing Debian's
/// `busybox-static` if it is not.
fn ensure_busybox() -> Result<PathBuf> {
    let busybox = PathBuf::from(BUSYBOX);
    if busybox.is_file() && is_static_elf(&std::fs::read(&busybox)?) {
        return Ok(busybox);
    }
    println!("fixtures: {BUSYBOX} is missing or not static; installing busybox-static with apt");
    docker::apt_install(&["busybox-static"])?;
    ensure!(
        busybox.is_file() && is_static_elf(&std::fs::read(&busybox)?),
        "{BUSYBOX} is still not a static executable after installing busybox-static"
    );
    Ok(busybox)
}

/// Whether `elf` is an ELF executable without a program interpreter, i.e.
/// one that runs in an image with no dynamic loader or libc.
fn is_static_elf(elf: &[u8]) -> bool {
    const PT_INTERP: u32 = 3;
    if elf.len() < 0x40 || &elf[..4] != b"\x7fELF" {
        return false;
    }
    let little = elf[5] == 1;
    let read = |at: usize, len: usize| -> Option<u64> {
        let bytes = elf.get(at..at + len)?;
        let fold = |acc: u64, byte: &u8| (acc << 8) | u64::from(*byte);
        Some(if little { bytes.iter().rev().fold(0, fold) } else { bytes.iter().fold(0, fold) })
    };
    // (e_phoff, its size, e_phentsize, e_phnum) for ELF32 and ELF64.
    let (phoff, phentsize, phnum) = match elf[4] {
        1 => (read(0x1c, 4), read(0x2a, 2), read(0x2c, 2)),
        2 => (read(0x20, 8), read(0x36, 2), read(0x38, 2)),
        _ => return false,
    };
    let (Some(phoff), Some(phentsize), Some(phnum)) = (phoff, phentsize, phnum) else {
        return false;
    };
    (0..phnum).all(|index| {
        let at = usize::try_from(phoff + index * phentsize).unwrap_or(usize::MAX);
        read(at, 4).is_some_and(|p_type| p_type != u64::from(PT_INTERP))
    })
}

/// The applets of a busybox binary, from `busybox --list`.
fn busybox_applets(busybox: &Path) -> Result<Vec<String>> {
    let list = cmd::stdout(Command::new(busybox).arg("--list"))?;
    let mut applets: Vec<String> = list
        .lines()
        .map(str::trim)
        .filter(|applet| !applet.is_empty() && !applet.contains('/') && *applet != "busybox")
        .map(str::to_owned)
        .collect();
    applets.sort();
    applets.dedup();
    ensure!(!applets.is_empty(), "`{} --list` listed no applets", busybox.display());
    Ok(applets)
}

/// The base image's root filesystem as a tar, in memory (about 2 MB).
fn base_rootfs(busybox: &Path) -> Result<Vec<u8>> {
    let binary = std::fs::read(busybox).with_context(|| format!("cannot read {}", busybox.display()))?;
    let applets = busybox_applets(busybox)?;
    let mut rootfs = Rootfs(tar::Builder::new(Vec::new()));

    const APP_USER: u64 = 1001;
    for (dir, mode, owner) in [
        ("bin", 0o755, 0),
        ("dev", 0o755, 0),
        ("etc", 0o755, 0),
        ("opt", 0o755, 0),
        ("opt/app-root", 0o775, APP_USER),
        ("opt/app-root/src", 0o775, APP_USER),
        ("proc", 0o755, 0),
        ("root", 0o700, 0),
        ("sys", 0o755, 0),
        ("tmp", 0o1777, 0),
        ("usr", 0o755, 0),
        ("usr/bin", 0o755, 0),
    ] {
        rootfs.dir(dir, mode, owner)?;
    }
    rootfs.file("bin/busybox", 0o755, &binary)?;
    for applet in &applets {
        rootfs.symlink(&format!("bin/{applet}"), "busybox")?;
    }
    rootfs.symlink("usr/bin/env", "/bin/busybox")?;
    rootfs.file(
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\n\
          default:x:1001:0:Default Application User:/opt/app-root/src:/bin/sh\n\
          builder:x:1002:0:Builder User:/opt/app-root/src:/bin/sh\n",
    )?;
    rootfs.file("etc/group", 0o644, b"root:x:0:\n")?;
    Ok(rootfs.0.into_inner()?)
}

/// A tar of a root filesystem; everything is owned by root unless said.
struct Rootfs(tar::Builder<Vec<u8>>);

impl Rootfs {
    fn header(kind: tar::EntryType, mode: u32, owner: u64) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_uid(owner);
        header.set_gid(0);
        header.set_mtime(BASE_MTIME);
        header.set_size(0);
        header
    }

    fn dir(&mut self, path: &str, mode: u32, owner: u64) -> Result<()> {
        let mut header = Self::header(tar::EntryType::Directory, mode, owner);
        Ok(self.0.append_data(&mut header, format!("{path}/"), std::io::empty())?)
    }

    fn file(&mut self, path: &str, mode: u32, content: &[u8]) -> Result<()> {
        let mut header = Self::header(tar::EntryType::Regular, mode, 0);
        header.set_size(content.len() as u64);
        Ok(self.0.append_data(&mut header, path, content)?)
    }

    fn symlink(&mut self, path: &str, target: &str) -> Result<()> {
        let mut header = Self::header(tar::EntryType::Symlink, 0o777, 0);
        Ok(self.0.append_link(&mut header, path, target)?)
    }
}

/// `docker import` of the root filesystem, piped on stdin.
fn import_base(host: Option<&str>, rootfs: &[u8], hash: &str) -> Result<()> {
    let mut import = cmd::docker_at(host);
    import.arg("import");
    for change in BASE_CHANGES {
        import.args(["--change", change]);
    }
    import
        .args(["--change", &format!("LABEL {HASH_LABEL}={hash}")])
        .args(["-", &image(BASE)])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = cmd::display(&import);
    let mut child = import.spawn().with_context(|| format!("cannot run `{shown}`"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let written = stdin.write_all(rootfs);
    drop(stdin);
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("`{shown}` failed ({})\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    written.context("cannot send the root filesystem to `docker import`")
}

/// Programs of this machine a fixture copies in: the paths listed in its
/// `host-files` (one per line, `#` comments), each followed by the shared
/// libraries it loads (from `ldd`). They reach the build context under `host/`.
fn host_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let list = dir.join("host-files");
    if !list.exists() {
        return Ok(Vec::new());
    }
    let text = std::fs::read_to_string(&list).with_context(|| format!("cannot read {}", list.display()))?;
    let mut out = BTreeSet::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let path = PathBuf::from(line);
        ensure!(path.is_absolute() && path.is_file(), "{}: {line} is not a file of this machine", list.display());
        let ldd = Command::new("ldd").arg(&path).output().with_context(|| format!("cannot run ldd {line}"))?;
        for dep in String::from_utf8_lossy(&ldd.stdout).lines() {
            // "libc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x…)" or "/lib64/ld-linux-x86-64.so.2 (0x…)"
            let candidate = dep.split("=>").last().unwrap_or_default().split_whitespace().next().unwrap_or_default();
            if candidate.starts_with('/') {
                out.insert(PathBuf::from(candidate));
            }
        }
        out.insert(path);
    }
    Ok(out.into_iter().collect())
}

/// `docker build` of one fixture directory with the classic builder (the
/// engine is offline and BuildKit may be unavailable to the CLI). A fixture
/// with `host-files` gets a context tar with those files under `host/`.
fn build_fixture(host: Option<&str>, fixture: &Fixture, hash: &str) -> Result<()> {
    let host_paths = host_files(&fixture.dir)?;
    let mut build = cmd::docker_at(host);
    build
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "--force-rm", "--label"])
        .arg(format!("{HASH_LABEL}={hash}"))
        .args(["--tag", &image(&fixture.name)]);
    if host_paths.is_empty() {
        cmd::output(build.arg(&fixture.dir))?;
        return Ok(());
    }
    let mut context = tar::Builder::new(Vec::new());
    context.follow_symlinks(true);
    context.append_dir_all(".", &fixture.dir)?;
    for path in &host_paths {
        let inside = Path::new("host").join(path.strip_prefix("/").expect("absolute"));
        context.append_path_with_name(path, inside)?;
    }
    let context = context.into_inner()?;
    build.arg("-").stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let shown = cmd::display(&build);
    let mut child = build.spawn().with_context(|| format!("cannot run `{shown}`"))?;
    let mut stdin = child.stdin.take().expect("stdin is piped");
    let written = stdin.write_all(&context);
    drop(stdin);
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("`{shown}` failed ({})\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    }
    written.context("cannot send the build context to `docker build`")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str, dockerfile: &str) -> Fixture {
        Fixture { name: name.to_owned(), dir: PathBuf::from(name), parents: parents_in_dockerfile(dockerfile) }
    }

    #[test]
    fn parents_come_from_from_and_copy_from() {
        let parents = parents_in_dockerfile(
            "# FROM s2i-fixtures/commented\n\
             FROM --platform=linux/amd64 s2i-fixtures/busybox-builder:latest AS b\n\
             from s2i-fixtures/base\n\
             COPY --chown=1001:0 --from=s2i-fixtures/httpd-demo@sha256:abc /a /b\n\
             FROM other/image:1\n\
             RUN echo s2i-fixtures/not-a-parent\n",
        );
        let parents: Vec<&str> = parents.iter().map(String::as_str).collect();
        assert_eq!(parents, ["base", "busybox-builder", "httpd-demo"]);
    }

    #[test]
    fn parents_are_built_first() {
        let order = build_order(vec![
            fixture("a-child", "FROM s2i-fixtures/z-parent"),
            fixture("m-grandchild", "FROM s2i-fixtures/base\nCOPY --from=s2i-fixtures/a-child / /"),
            fixture("z-parent", "FROM s2i-fixtures/base:latest"),
        ])
        .unwrap();
        let names: Vec<&str> = order.iter().map(|fixture| fixture.name.as_str()).collect();
        assert_eq!(names, ["z-parent", "a-child", "m-grandchild"]);
    }

    #[test]
    fn cycles_and_missing_parents_are_errors() {
        let cycle = build_order(vec![fixture("a", "FROM s2i-fixtures/b"), fixture("b", "FROM s2i-fixtures/a")]);
        assert!(cycle.unwrap_err().to_string().contains("cycle"));
        let missing = build_order(vec![fixture("a", "FROM s2i-fixtures/nope")]);
        assert!(missing.unwrap_err().to_string().contains("fixtures/images/nope"));
    }

    #[test]
    fn the_fixture_directories_are_consistent() {
        let fixtures = build_order(load_fixtures(&images_dir()).unwrap()).unwrap();
        assert!(fixtures.iter().any(|fixture| fixture.name == "busybox-builder"));
        for fixture in &fixtures {
            assert!(
                !fixture.parents.is_empty(),
                "{} must be built from s2i-fixtures/base or another fixture",
                fixture.name
            );
            hash_fixture(&fixture.dir, &[]).unwrap();
        }
    }

    /// A little-endian ELF64 header with one program header of type `p_type`.
    fn elf64(p_type: u32) -> Vec<u8> {
        let mut elf = vec![0u8; 0x40 + 0x38];
        elf[..4].copy_from_slice(b"\x7fELF");
        elf[4] = 2; // ELFCLASS64
        elf[5] = 1; // little endian
        elf[0x20..0x28].copy_from_slice(&0x40u64.to_le_bytes()); // e_phoff
        elf[0x36..0x38].copy_from_slice(&0x38u16.to_le_bytes()); // e_phentsize
        elf[0x38..0x3a].copy_from_slice(&1u16.to_le_bytes()); // e_phnum
        elf[0x40..0x44].copy_from_slice(&p_type.to_le_bytes());
        elf
    }

    #[test]
    fn static_executables_have_no_interpreter() {
        assert!(is_static_elf(&elf64(1))); // PT_LOAD only
        assert!(!is_static_elf(&elf64(3))); // PT_INTERP
        assert!(!is_static_elf(b"#!/bin/sh\n"));
        if cfg!(target_env = "gnu") {
            // This test program is linked dynamically against glibc.
            let this = std::fs::read("/proc/self/exe").unwrap();
            assert!(!is_static_elf(&this));
        }
    }
}
