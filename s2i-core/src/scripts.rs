//! S2I scripts: where each of `assemble`, `run`, `save-artifacts`, … comes
//! from, and fetching the ones that are not inside the image.
//!
//! For each script, the first of these that has it wins:
//! 1. `--scripts-url`;
//! 2. `.s2i/bin/<script>` in the source (deprecated: `.sti/bin`);
//! 3. the image's `io.openshift.s2i.scripts-url` label (deprecated:
//!    `io.s2i.scripts-url`, env `STI_SCRIPTS_URL`).
//!
//! URLs are `image://` (the script is already in the image), `file://` or
//! `http(s)://` (fetched now and shipped in the input archive).

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::runtime::ImageInfo;
use crate::source::{SourceFile, source_file};

/// Label holding the default scripts URL of a builder image.
pub const SCRIPTS_URL_LABEL: &str = "io.openshift.s2i.scripts-url";
/// Deprecated form of [`SCRIPTS_URL_LABEL`].
pub const DEPRECATED_SCRIPTS_URL_LABEL: &str = "io.s2i.scripts-url";
/// Deprecated environment variable holding the scripts URL.
pub const DEPRECATED_SCRIPTS_URL_ENV: &str = "STI_SCRIPTS_URL";

/// One of the scripts of the S2I protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Script {
    /// Builds the application from `src/` (and `artifacts/`).
    Assemble,
    /// Starts the application; the output image's `CMD`.
    Run,
    /// Writes a tar of reusable build artifacts to stdout (incremental builds).
    SaveArtifacts,
    /// Prints how to use the builder image.
    Usage,
    /// Installs artifacts into a runtime image (chained builds).
    AssembleRuntime,
}

impl Script {
    /// The file name of the script.
    pub fn file_name(self) -> &'static str {
        match self {
            Script::Assemble => "assemble",
            Script::Run => "run",
            Script::SaveArtifacts => "save-artifacts",
            Script::Usage => "usage",
            Script::AssembleRuntime => "assemble-runtime",
        }
    }
}

impl fmt::Display for Script {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file_name())
    }
}

/// Where a resolved script lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum ScriptLocation {
    /// Already inside the image, at this absolute path.
    Image {
        /// Absolute path in the image.
        path: String,
    },
    /// Shipped in the input archive as `scripts/<name>`.
    Shipped {
        /// Contents of the script.
        #[serde(skip)]
        contents: Vec<u8>,
        /// Size of the script in bytes.
        size: usize,
    },
}

/// A script and where it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedScript {
    /// The script.
    pub script: Script,
    /// Where it lives for the build.
    pub location: ScriptLocation,
    /// Where it was found, for messages (a URL or a source path).
    pub origin: String,
}

impl ResolvedScript {
    /// Path of the script inside the build container, given the archive destination.
    pub(crate) fn container_path(&self, destination: &str) -> String {
        match &self.location {
            ScriptLocation::Image { path } => path.clone(),
            ScriptLocation::Shipped { .. } => join_unix(destination, &format!("scripts/{}", self.script)),
        }
    }
}

/// Where scripts may come from, in priority order.
#[derive(Debug, Clone, Default)]
pub struct ScriptSources {
    /// `--scripts-url`.
    pub scripts_url: Option<String>,
    /// The root of the source tree, for `.s2i/bin`.
    pub source_root: Option<PathBuf>,
    /// The image default: which label (or variable) and its value.
    pub image_default: Option<(String, String)>,
    /// Directory `file://relative` URLs are relative to.
    pub base_dir: PathBuf,
}

impl ScriptSources {
    /// The image default of a builder (or runtime) image, with a note when a deprecated form was used.
    pub(crate) fn image_default(image: &ImageInfo) -> (Option<(String, String)>, Option<String>) {
        let non_empty = |v: Option<&String>| v.filter(|v| !v.trim().is_empty()).cloned();
        if let Some(v) = non_empty(image.labels.get(SCRIPTS_URL_LABEL)) {
            return (Some((format!("label {SCRIPTS_URL_LABEL}"), v)), None);
        }
        if let Some(v) = non_empty(image.labels.get(DEPRECATED_SCRIPTS_URL_LABEL)) {
            let note =
                format!("the image uses the deprecated label {DEPRECATED_SCRIPTS_URL_LABEL}; use {SCRIPTS_URL_LABEL}");
            return (Some((format!("label {DEPRECATED_SCRIPTS_URL_LABEL}"), v)), Some(note));
        }
        if let Some(v) = image.env_var(DEPRECATED_SCRIPTS_URL_ENV).filter(|v| !v.trim().is_empty()) {
            let note = format!(
                "the image uses the deprecated variable {DEPRECATED_SCRIPTS_URL_ENV}; use the label {SCRIPTS_URL_LABEL}"
            );
            return (Some((format!("env {DEPRECATED_SCRIPTS_URL_ENV}"), v.to_owned())), Some(note));
        }
        (None, None)
    }
}

/// The outcome of resolving a set of scripts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResolvedScripts {
    /// Scripts found, by script.
    pub scripts: BTreeMap<Script, ResolvedScript>,
    /// Source paths (relative to the source root) installed as scripts, to leave out of `src/`.
    pub moved_from_source: Vec<String>,
    /// Warnings and notes for the user.
    pub notes: Vec<String>,
    /// For each optional script not found: where it was looked for.
    pub missing_optional: BTreeMap<Script, Vec<String>>,
}

impl ResolvedScripts {
    /// A script, if found.
    pub fn get(&self, script: Script) -> Option<&ResolvedScript> {
        self.scripts.get(&script)
    }
}

/// What fetching one script from one URL gave.
enum Fetched {
    Found(ScriptLocation),
    Missing(String),
}

/// Resolve `required` and `optional` scripts from `sources`.
pub(crate) fn resolve_scripts(
    required: &[Script],
    optional: &[Script],
    sources: &ScriptSources,
) -> Result<ResolvedScripts> {
    let mut out = ResolvedScripts::default();
    let mut missing_required = Vec::new();
    let mut looked_at_all = Vec::new();
    let mut user_url_found_any = false;
    let mut user_url_tried = Vec::new();
    for (script, is_required) in required.iter().map(|s| (*s, true)).chain(optional.iter().map(|s| (*s, false))) {
        let mut looked_at = Vec::new();
        let mut found = None;

        if let Some(url) = &sources.scripts_url {
            match fetch(url, script, &sources.base_dir)? {
                Fetched::Found(location) => {
                    user_url_found_any = true;
                    found = Some(ResolvedScript { script, location, origin: script_url(url, script) });
                }
                Fetched::Missing(why) => {
                    user_url_tried.push(format!("{}: {why}", script_url(url, script)));
                    looked_at.push(format!("--scripts-url {}: {why}", script_url(url, script)));
                }
            }
        } else {
            looked_at.push("--scripts-url: not given".to_owned());
        }

        if found.is_none() {
            if let Some(root) = &sources.source_root {
                for (dir, deprecated) in [(".s2i/bin", false), (".sti/bin", true)] {
                    let rel = format!("{dir}/{script}");
                    let path = root.join(&rel);
                    // A script that is a link out of the source is not read: it
                    // stays in src/ as the link it is, and the search goes on.
                    if let SourceFile::Outside(real) = source_file(root, &path) {
                        let why = format!("a symlink that points outside the source ({}), not used", real.display());
                        out.notes.push(format!("Not using {rel} of the source: it is {why}"));
                        looked_at.push(format!("source {rel}: {why}"));
                        continue;
                    }
                    match std::fs::metadata(&path) {
                        Ok(meta) if meta.is_file() => {
                            let contents = std::fs::read(&path)
                                .map_err(|e| Error::io("read the script", &path, "make the script readable", e))?;
                            if deprecated {
                                out.notes.push("DEPRECATED: Use .s2i/bin instead of .sti/bin".to_owned());
                            }
                            out.moved_from_source.push(rel.clone());
                            let size = contents.len();
                            found = Some(ResolvedScript {
                                script,
                                location: ScriptLocation::Shipped { contents, size },
                                origin: format!("source {rel}"),
                            });
                            break;
                        }
                        Ok(_) => looked_at.push(format!("source {rel}: not a regular file")),
                        Err(_) if deprecated => {}
                        Err(_) => looked_at.push(format!("source {rel}: not found")),
                    }
                }
            } else {
                looked_at.push("source .s2i/bin: no source".to_owned());
            }
        }

        if found.is_none() {
            match &sources.image_default {
                Some((what, url)) => match fetch(url, script, &sources.base_dir)? {
                    Fetched::Found(location) => {
                        found = Some(ResolvedScript { script, location, origin: script_url(url, script) })
                    }
                    Fetched::Missing(why) => looked_at.push(format!("image {what} = {url}: {why}")),
                },
                None => looked_at.push(format!("image label {SCRIPTS_URL_LABEL}: not set")),
            }
        }

        match found {
            Some(resolved) => {
                out.scripts.insert(script, resolved);
            }
            None if is_required => {
                missing_required.push(script.to_string());
                looked_at_all.extend(looked_at.into_iter().map(|l| format!("{script}: {l}")));
            }
            None => {
                out.missing_optional.insert(script, looked_at);
            }
        }
    }
    if let Some(url) = &sources.scripts_url
        && !user_url_found_any
    {
        return Err(Error::NoScriptsAtUrl { url: url.clone(), tried: user_url_tried });
    }
    if !missing_required.is_empty() {
        looked_at_all.push(format!(
            "put the scripts in the source's .s2i/bin, pass --scripts-url, or use a builder image with the {SCRIPTS_URL_LABEL} label"
        ));
        return Err(Error::ScriptsNotInstalled { scripts: missing_required, looked_at: looked_at_all });
    }
    Ok(out)
}

fn script_url(base: &str, script: Script) -> String {
    format!("{}/{script}", base.trim_end_matches('/'))
}

fn fetch(base: &str, script: Script, base_dir: &Path) -> Result<Fetched> {
    let url = script_url(base, script);
    if let Some(path) = base.strip_prefix("image://") {
        if !path.starts_with('/') {
            return Err(Error::option(
                "scripts URL",
                format!("{base:?} is not an absolute path in the image"),
                "write image:///absolute/path, with three slashes",
            ));
        }
        return Ok(Fetched::Found(ScriptLocation::Image { path: join_unix(path, script.file_name()) }));
    }
    if let Some(rest) = base.strip_prefix("file://") {
        // file:///abs is absolute; file://rel/dir is relative to the working directory.
        let dir = if rest.starts_with('/') { PathBuf::from(rest) } else { base_dir.join(rest) };
        let path = dir.join(script.file_name());
        return match std::fs::read(&path) {
            Ok(contents) => {
                let size = contents.len();
                Ok(Fetched::Found(ScriptLocation::Shipped { contents, size }))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Fetched::Missing("not found".into())),
            Err(e) => Ok(Fetched::Missing(e.to_string())),
        };
    }
    if base.starts_with("http://") || base.starts_with("https://") {
        return Ok(match http_get(&url) {
            Ok(contents) => {
                let size = contents.len();
                Fetched::Found(ScriptLocation::Shipped { contents, size })
            }
            Err(why) => Fetched::Missing(why),
        });
    }
    Err(Error::UnsupportedUrl { url: base.to_owned() })
}

/// Largest script accepted from a URL.
const MAX_SCRIPT_BYTES: u64 = 16 * 1024 * 1024;

fn http_get(url: &str) -> std::result::Result<Vec<u8>, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(10)))
        .timeout_global(Some(Duration::from_secs(120)))
        .http_status_as_error(false)
        .build()
        .into();
    let response = agent.get(url).call().map_err(|e| e.to_string())?;
    let status = response.status().as_u16();
    if status != 200 && status != 201 {
        return Err(format!("response code {status}"));
    }
    response.into_body().with_config().limit(MAX_SCRIPT_BYTES).read_to_vec().map_err(|e| e.to_string())
}

/// Join two POSIX paths and clean the result (`//`, `.`, `..`).
pub(crate) fn join_unix(base: &str, rest: &str) -> String {
    let joined = if rest.starts_with('/') { rest.to_owned() } else { format!("{base}/{rest}") };
    clean_unix(&joined)
}

/// Clean a POSIX path lexically, like Go's `path.Clean`.
pub fn clean_unix(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.last().is_some_and(|p| *p != "..") {
                    parts.pop();
                } else if !absolute {
                    parts.push("..");
                }
            }
            p => parts.push(p),
        }
    }
    let body = parts.join("/");
    match (absolute, body.is_empty()) {
        (true, _) => format!("/{body}"),
        (false, true) => ".".to_owned(),
        (false, false) => body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sources(scripts_url: Option<&str>, root: Option<&Path>, label: Option<&str>) -> ScriptSources {
        ScriptSources {
            scripts_url: scripts_url.map(str::to_owned),
            source_root: root.map(Path::to_owned),
            image_default: label.map(|l| (format!("label {SCRIPTS_URL_LABEL}"), l.to_owned())),
            base_dir: std::env::temp_dir(),
        }
    }

    #[test]
    fn image_label_scripts_are_inside_the_image() {
        let r = resolve_scripts(
            &[Script::Assemble, Script::Run],
            &[],
            &sources(None, None, Some("image:///usr/libexec/s2i/")),
        )
        .unwrap();
        assert_eq!(r.get(Script::Run).unwrap().container_path("/tmp"), "/usr/libexec/s2i/run");
        assert_eq!(r.get(Script::Assemble).unwrap().origin, "image:///usr/libexec/s2i/assemble");
    }

    #[test]
    fn source_scripts_override_the_image_and_are_moved() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".s2i/bin")).unwrap();
        std::fs::write(dir.path().join(".s2i/bin/assemble"), "echo custom").unwrap();
        let r = resolve_scripts(
            &[Script::Assemble, Script::Run],
            &[Script::SaveArtifacts],
            &sources(None, Some(dir.path()), Some("image:///s2i")),
        )
        .unwrap();
        assert_eq!(r.get(Script::Assemble).unwrap().container_path("/opt/dest"), "/opt/dest/scripts/assemble");
        assert_eq!(r.get(Script::Run).unwrap().container_path("/tmp"), "/s2i/run");
        assert_eq!(r.moved_from_source, vec![".s2i/bin/assemble".to_owned()]);
        assert_eq!(r.get(Script::SaveArtifacts).unwrap().container_path("/tmp"), "/s2i/save-artifacts");
    }

    #[test]
    fn source_scripts_that_lead_out_of_the_source_are_not_read() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret"), "the secret").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".s2i/bin")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("secret"), dir.path().join(".s2i/bin/assemble")).unwrap();
        std::fs::write(dir.path().join("real-run"), "echo run").unwrap();
        std::os::unix::fs::symlink("../../real-run", dir.path().join(".s2i/bin/run")).unwrap();
        let r = resolve_scripts(
            &[Script::Assemble, Script::Run],
            &[],
            &sources(None, Some(dir.path()), Some("image:///s2i")),
        )
        .unwrap();
        assert_eq!(r.get(Script::Assemble).unwrap().origin, "image:///s2i/assemble", "the image's assemble");
        assert!(matches!(r.get(Script::Run).unwrap().location, ScriptLocation::Shipped { size: 8, .. }));
        assert_eq!(r.moved_from_source, vec![".s2i/bin/run".to_owned()], "the escaping link stays in src/");
        assert!(
            r.notes.iter().any(|n| n.starts_with("Not using .s2i/bin/assemble of the source: it is a symlink")),
            "{:?}",
            r.notes
        );
    }

    #[test]
    fn scripts_url_wins_and_file_urls_are_read() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("assemble"), "a").unwrap();
        let url = format!("file://{}", dir.path().display());
        let r =
            resolve_scripts(&[Script::Assemble, Script::Run], &[], &sources(Some(&url), None, Some("image:///s2i")))
                .unwrap();
        assert!(matches!(r.get(Script::Assemble).unwrap().location, ScriptLocation::Shipped { size: 1, .. }));
        assert_eq!(r.get(Script::Run).unwrap().container_path("/tmp"), "/s2i/run");
    }

    #[test]
    fn a_scripts_url_with_nothing_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("file://{}", dir.path().display());
        let err =
            resolve_scripts(&[Script::Assemble], &[], &sources(Some(&url), None, Some("image:///s2i"))).unwrap_err();
        assert!(matches!(err, Error::NoScriptsAtUrl { .. }), "{err}");
    }

    #[test]
    fn missing_required_scripts_name_every_place() {
        let dir = tempfile::tempdir().unwrap();
        let err =
            resolve_scripts(&[Script::Assemble, Script::Run], &[], &sources(None, Some(dir.path()), None)).unwrap_err();
        match err {
            Error::ScriptsNotInstalled { scripts, looked_at } => {
                assert_eq!(scripts, ["assemble", "run"]);
                let text = looked_at.join("\n");
                assert!(text.contains("assemble: source .s2i/bin/assemble: not found"), "{text}");
                assert!(text.contains("assemble: image label io.openshift.s2i.scripts-url: not set"), "{text}");
                assert!(text.contains("assemble: --scripts-url: not given"), "{text}");
            }
            other => panic!("unexpected {other}"),
        }
    }

    #[test]
    fn unknown_schemes_are_refused() {
        let err = resolve_scripts(&[Script::Assemble], &[], &sources(Some("ftp://x/y"), None, None)).unwrap_err();
        assert_eq!(err.exit_code(), 12);
    }

    #[test]
    fn paths_are_cleaned() {
        assert_eq!(join_unix("/tmp/scripts/", "run"), "/tmp/scripts/run");
        assert_eq!(clean_unix("/a/../../b/./c//"), "/b/c");
        assert_eq!(clean_unix("a/../.."), "..");
        assert_eq!(join_unix("/tmp", "/abs"), "/abs");
    }
}
