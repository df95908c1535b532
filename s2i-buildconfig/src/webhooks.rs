//! Webhooks: what a POST to a BuildConfig's webhook URL means, decided as
//! OpenShift's API server decides it — plain functions, a request in and a
//! decision out. Serving HTTP is the front end's; it hands each request to
//! [`crate::Builds::webhook`], which starts the build a [`Decision::Start`] asks for.
//!
//! The URL is OpenShift's:
//! `POST /apis/build.openshift.io/v1/namespaces/NS/buildconfigs/NAME/webhooks/SECRET/TYPE`
//! with `TYPE` one of `generic`, `github`, `gitlab`, `bitbucket`. The rules:
//!
//! - only `POST` (405 otherwise); an unknown path or type is 404, an
//!   unknown config 404;
//! - the secret must be that of one of the config's triggers of that type
//!   (`secret`, or the `WebHookSecretKey` of the Secret its
//!   `secretReference` names); otherwise 401 "did not accept your secret",
//!   also when the config has no trigger of that type;
//! - GitHub: `Content-Type: application/json`, `X-GitHub-Event` (or
//!   `X-Gogs-Event`) `push` or `ping` (a ping starts nothing); when the
//!   request carries `X-Hub-Signature-256`, it must be the HMAC-SHA256 of
//!   the body with the secret. GitLab: `X-Gitlab-Event: Push Hook`; when
//!   `X-Gitlab-Token` is sent, it must be the secret. Bitbucket:
//!   `X-Event-Key: repo:push` (Cloud: `push.changes[].new`) or
//!   `repo:refs_changed` (Server and Data Center: `changes[].ref.displayId`,
//!   `toHash`; deleted branches and tags are no pushes to build);
//! - the pushed branch must be the config's `source.git.ref` (`master` when
//!   empty; `refs/heads/` ignored on both sides): a push to another branch
//!   answers 200 and starts nothing;
//! - generic: the body is optional (JSON or YAML); a body that cannot be
//!   read is a warning and the build still starts; with `git`, its `ref` (or
//!   one of `refs`) must match as above; its `env` is used only when the
//!   trigger has `allowEnv`;
//! - the build builds the pushed commit, and records the webhook in
//!   `triggeredBy` (message `GitHub WebHook`, …, the secret `<redacted>`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::{Value, json};

use crate::types::*;

/// The key of a Secret that holds a webhook's secret (`secretReference`).
pub const SECRET_KEY: &str = "WebHookSecretKey";

/// How `triggeredBy[].*WebHook.secret` is written: never the secret itself.
const REDACTED: &str = "<redacted>";

/// The branch a config without `source.git.ref` builds, for webhooks.
const DEFAULT_REF: &str = "master";

/// What a front end received: method, path, headers and body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WebhookRequest {
    /// `POST`, `GET`, …
    pub method: String,
    /// The path of the URL (a query is ignored).
    pub path: String,
    /// Headers, by lower-case name.
    pub headers: BTreeMap<String, String>,
    /// The body.
    pub body: Vec<u8>,
}

impl WebhookRequest {
    /// A request with no headers and no body.
    pub fn new(method: impl Into<String>, path: impl Into<String>) -> Self {
        Self { method: method.into(), path: path.into(), ..Self::default() }
    }

    /// With a header (names are case-insensitive; a repeated one keeps the last).
    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.insert(name.to_ascii_lowercase(), value.into());
        self
    }

    /// With a body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    fn get(&self, name: &str) -> &str {
        self.headers.get(name).map(String::as_str).unwrap_or_default()
    }
}

/// The four kinds of webhook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum HookKind {
    /// `generic`: any client.
    Generic,
    /// `github`.
    GitHub,
    /// `gitlab`.
    GitLab,
    /// `bitbucket`.
    Bitbucket,
}

impl HookKind {
    /// All of them, in the order `oc describe bc` lists them.
    pub const ALL: [HookKind; 4] = [Self::Generic, Self::GitHub, Self::GitLab, Self::Bitbucket];

    /// The last segment of the URL.
    pub fn segment(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::GitHub => "github",
            Self::GitLab => "gitlab",
            Self::Bitbucket => "bitbucket",
        }
    }

    /// The trigger type (`spec.triggers[].type`).
    pub fn trigger_type(self) -> &'static str {
        match self {
            Self::Generic => "Generic",
            Self::GitHub => "GitHub",
            Self::GitLab => "GitLab",
            Self::Bitbucket => "Bitbucket",
        }
    }

    fn from_segment(segment: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.segment() == segment)
    }

    /// Whether a trigger is of this kind (its type as written, or the deprecated lower-case spelling).
    pub fn is_kind_of(self, trigger: &BuildTriggerPolicy) -> bool {
        trigger.kind == self.trigger_type() || trigger.kind == self.segment()
    }

    /// A trigger's settings for this kind of webhook.
    pub fn settings(self, trigger: &BuildTriggerPolicy) -> Option<&WebHookTrigger> {
        if !self.is_kind_of(trigger) {
            return None;
        }
        match self {
            Self::Generic => trigger.generic.as_ref(),
            Self::GitHub => trigger.github.as_ref(),
            Self::GitLab => trigger.gitlab.as_ref(),
            Self::Bitbucket => trigger.bitbucket.as_ref(),
        }
    }

    fn cause(self, revision: Option<SourceRevision>) -> Box<BuildTriggerCause> {
        let hook = Some(WebHookCause { revision, secret: REDACTED.into() });
        let mut cause =
            BuildTriggerCause { message: format!("{} WebHook", self.trigger_type()), ..BuildTriggerCause::default() };
        match self {
            Self::Generic => cause.generic_web_hook = hook,
            Self::GitHub => cause.github_web_hook = hook,
            Self::GitLab => cause.gitlab_web_hook = hook,
            Self::Bitbucket => cause.bitbucket_web_hook = hook,
        }
        Box::new(cause)
    }
}

/// What a webhook URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct HookPath {
    /// The config's namespace.
    pub namespace: String,
    /// The config.
    pub config: String,
    /// The secret the URL carries.
    pub secret: String,
    /// The kind of webhook.
    pub kind: HookKind,
}

const PREFIX: &str = "/apis/build.openshift.io/v1/namespaces/";

/// The path of a config's webhook URL (`secret` may be a placeholder such as `<secret>`).
pub fn url_path(namespace: &str, config: &str, secret: &str, kind: HookKind) -> String {
    format!("{PREFIX}{namespace}/buildconfigs/{config}/webhooks/{secret}/{}", kind.segment())
}

/// Read a webhook URL's path. `Err` is the answer for a path that names
/// no webhook (404), with what is wrong.
pub fn parse_path(path: &str) -> Result<HookPath, Rejection> {
    let path = path.split(['?', '#']).next().unwrap_or_default();
    let not_found = || Rejection::not_found("the server could not find the requested resource".into());
    let rest = path.strip_prefix(PREFIX).ok_or_else(not_found)?;
    let parts: Vec<&str> = rest.split('/').collect();
    let [namespace, "buildconfigs", config, "webhooks", secret, kind] = parts.as_slice() else {
        return Err(not_found());
    };
    if [namespace, config, secret, kind].iter().any(|part| part.is_empty()) {
        return Err(not_found());
    }
    let kind = HookKind::from_segment(kind).ok_or_else(|| {
        Rejection::not_found(format!("buildconfighooks.{GROUP} {:?} not found", percent_decode(kind)))
    })?;
    Ok(HookPath {
        namespace: percent_decode(namespace),
        config: percent_decode(config),
        secret: percent_decode(secret),
        kind,
    })
}

/// `%XX` escapes of a path segment decoded (a secret may hold any character).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && let (Some(Some(high)), Some(Some(low))) =
                (bytes.get(i + 1).map(|b| hex(*b)), bytes.get(i + 2).map(|b| hex(*b)))
        {
            out.push((high * 16 + low) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A request refused: the HTTP status, the Kubernetes reason, the message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// HTTP status: 400, 401, 404, 405, 500.
    pub code: u16,
    /// The `reason` of the Kubernetes `Status` (`Unauthorized`, `NotFound`, …).
    pub reason: &'static str,
    /// What is wrong.
    pub message: String,
}

impl Rejection {
    fn new(code: u16, reason: &'static str, message: String) -> Self {
        Self { code, reason, message }
    }

    pub(crate) fn not_found(message: String) -> Self {
        Self::new(404, "NotFound", message)
    }

    fn bad_request(message: String) -> Self {
        Self::new(400, "BadRequest", message)
    }

    fn unauthorized(hook: &HookPath) -> Self {
        Self::new(
            401,
            "Unauthorized",
            format!("the webhook {:?} for {:?} did not accept your secret", hook.kind.segment(), hook.config),
        )
    }

    pub(crate) fn method_not_allowed(method: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!("{method} is not supported on resources of kind \"buildconfighooks.{GROUP}\""),
        )
    }

    pub(crate) fn internal(message: String) -> Self {
        Self::new(500, "InternalError", message)
    }
}

/// What a webhook request asks for.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Decision {
    /// Start a build.
    Start {
        /// Its `triggeredBy` entry.
        cause: Box<BuildTriggerCause>,
        /// The pushed commit, when the request names one.
        revision: Option<SourceRevision>,
        /// Extra environment (a generic webhook's, with `allowEnv`).
        env: Vec<EnvVar>,
        /// What was ignored in the request (answered, the build still starts).
        warnings: Vec<String>,
    },
    /// Accepted, and nothing to build: a ping, or a push to another branch.
    Skip {
        /// Why.
        message: String,
    },
    /// Refused; nothing starts.
    Reject(Rejection),
}

/// The secret of a trigger: its `secretReference`'s `WebHookSecretKey`
/// (looked up by Secret name with `secret_of`), else the inline `secret`.
fn trigger_secret(trigger: &WebHookTrigger, secret_of: &dyn Fn(&str) -> Option<Vec<u8>>) -> Option<Vec<u8>> {
    match &trigger.secret_reference {
        Some(reference) if !reference.name.is_empty() => secret_of(&reference.name),
        _ => (!trigger.secret.is_empty()).then(|| trigger.secret.as_bytes().to_vec()),
    }
}

/// Compares without stopping at the first difference, so that timing does not tell how much of a secret matched.
fn same_secret(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Whether a pushed ref is the branch the config builds.
pub fn ref_matches(pushed: &str, source: &BuildSource) -> bool {
    let configured = source.git.as_ref().map(|git| git.git_ref.as_str()).filter(|r| !r.is_empty());
    let strip = |r: &str| r.strip_prefix("refs/heads/").unwrap_or(r).to_owned();
    strip(pushed) == strip(configured.unwrap_or(DEFAULT_REF))
}

fn configured_ref(source: &BuildSource) -> &str {
    source.git.as_ref().map(|git| git.git_ref.as_str()).filter(|r| !r.is_empty()).unwrap_or(DEFAULT_REF)
}

fn skip_branch(pushed: &str, source: &BuildSource) -> Decision {
    Decision::Skip {
        message: format!(
            "no build started: the push is to {pushed:?}, and the BuildConfig builds {:?}",
            configured_ref(source)
        ),
    }
}

/// Decide what a webhook request for `config` means (see the module doc).
/// `secret_of` reads the `WebHookSecretKey` of a Secret of the config's
/// namespace by name. The method and path are the caller's to have checked
/// ([`parse_path`], only `POST`).
pub fn decide(
    config: &BuildConfig,
    hook: &HookPath,
    secret_of: &dyn Fn(&str) -> Option<Vec<u8>>,
    request: &WebhookRequest,
) -> Decision {
    let matched = config
        .spec
        .triggers
        .iter()
        .filter_map(|trigger| {
            let settings = hook.kind.settings(trigger)?;
            let secret = trigger_secret(settings, secret_of)?;
            same_secret(&secret, hook.secret.as_bytes()).then_some((settings, secret))
        })
        .next();
    let Some((trigger, secret)) = matched else { return Decision::Reject(Rejection::unauthorized(hook)) };
    let source = &config.spec.source;
    match hook.kind {
        HookKind::GitHub => github(hook, &secret, source, request),
        HookKind::GitLab => gitlab(hook, &secret, source, request),
        HookKind::Bitbucket => bitbucket(hook, source, request),
        HookKind::Generic => generic(trigger.allow_env, source, request),
    }
}

fn require_json(request: &WebhookRequest) -> Result<(), Rejection> {
    let content_type = request.get("content-type");
    if content_type.starts_with("application/json") {
        Ok(())
    } else {
        Err(Rejection::bad_request(format!("non-json Content-Type {content_type}")))
    }
}

/// A git host's JSON push: the content type, and the event header `header` saying `push`.
fn require_push(request: &WebhookRequest, header: &str, push: &str) -> Result<(), Rejection> {
    require_json(request)?;
    match request.get(&header.to_ascii_lowercase()) {
        "" => Err(Rejection::bad_request(format!("missing {header}"))),
        event if event == push => Ok(()),
        other => Err(Rejection::bad_request(format!("Unknown {header} {other}"))),
    }
}

fn parse_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, Rejection> {
    serde_json::from_slice(body).map_err(|e| Rejection::bad_request(e.to_string()))
}

/// A person of a push payload.
#[derive(Debug, Default, Deserialize)]
struct Person {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
}

impl From<Person> for SourceControlUser {
    fn from(person: Person) -> Self {
        Self { name: person.name, email: person.email }
    }
}

fn git_revision(
    commit: String,
    author: SourceControlUser,
    committer: SourceControlUser,
    message: String,
) -> SourceRevision {
    SourceRevision { kind: "Git".into(), git: Some(GitSourceRevision { commit, author, committer, message }) }
}

#[derive(Debug, Deserialize)]
struct GitHubPush {
    #[serde(default, rename = "ref")]
    git_ref: String,
    #[serde(default)]
    head_commit: Option<PushedCommit>,
}

/// A commit of a GitHub or GitLab push (GitLab names no committer: the author is).
#[derive(Debug, Deserialize)]
struct PushedCommit {
    #[serde(default)]
    id: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    author: Person,
    #[serde(default)]
    committer: Option<Person>,
}

impl PushedCommit {
    fn revision(self, id: Option<String>) -> SourceRevision {
        let author = SourceControlUser::from(self.author);
        let committer = self.committer.map_or_else(|| author.clone(), SourceControlUser::from);
        git_revision(id.unwrap_or(self.id), author, committer, self.message)
    }
}

/// `X-Hub-Signature-256: sha256=HEX`, the HMAC-SHA256 of the body with the secret.
fn signature_matches(header: &str, secret: &[u8], body: &[u8]) -> bool {
    let Some(signature) = header.strip_prefix("sha256=").and_then(|hex| hex::decode(hex.trim()).ok()) else {
        return false;
    };
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, secret);
    ring::hmac::verify(&key, body, &signature).is_ok()
}

fn github(hook: &HookPath, secret: &[u8], source: &BuildSource, request: &WebhookRequest) -> Decision {
    if let Err(rejection) = require_json(request) {
        return Decision::Reject(rejection);
    }
    let event = match request.get("x-github-event") {
        "" => request.get("x-gogs-event"),
        event => event,
    };
    if event.is_empty() {
        return Decision::Reject(Rejection::bad_request("missing X-GitHub-Event or X-Gogs-Event".into()));
    }
    if let Some(signature) = request.headers.get("x-hub-signature-256")
        && !signature_matches(signature, secret, &request.body)
    {
        return Decision::Reject(Rejection::new(
            401,
            "Unauthorized",
            format!(
                "the webhook {:?} for {:?} did not accept the payload's signature (X-Hub-Signature-256)",
                hook.kind.segment(),
                hook.config
            ),
        ));
    }
    match event {
        "ping" => return Decision::Skip { message: "ping received; no build started".into() },
        "push" => {}
        other => {
            return Decision::Reject(Rejection::bad_request(format!("Unknown X-GitHub-Event or X-Gogs-Event {other}")));
        }
    }
    let push: GitHubPush = match parse_json(&request.body) {
        Ok(push) => push,
        Err(rejection) => return Decision::Reject(rejection),
    };
    if !ref_matches(&push.git_ref, source) {
        return skip_branch(&push.git_ref, source);
    }
    let revision = push.head_commit.map(|commit| commit.revision(None));
    Decision::Start { cause: hook.kind.cause(revision.clone()), revision, env: Vec::new(), warnings: Vec::new() }
}

#[derive(Debug, Deserialize)]
struct GitLabPush {
    #[serde(default, rename = "ref")]
    git_ref: String,
    #[serde(default)]
    checkout_sha: Option<String>,
    #[serde(default)]
    commits: Vec<PushedCommit>,
}

fn gitlab(hook: &HookPath, secret: &[u8], source: &BuildSource, request: &WebhookRequest) -> Decision {
    if let Err(rejection) = require_push(request, "X-Gitlab-Event", "Push Hook") {
        return Decision::Reject(rejection);
    }
    if let Some(token) = request.headers.get("x-gitlab-token")
        && !same_secret(token.as_bytes(), secret)
    {
        return Decision::Reject(Rejection::new(
            401,
            "Unauthorized",
            format!("the webhook \"gitlab\" for {:?} did not accept the X-Gitlab-Token header", hook.config),
        ));
    }
    let push: GitLabPush = match parse_json(&request.body) {
        Ok(push) => push,
        Err(rejection) => return Decision::Reject(rejection),
    };
    if !ref_matches(&push.git_ref, source) {
        return skip_branch(&push.git_ref, source);
    }
    // The head of the push is its last commit (GitLab lists them oldest first).
    let checkout = push.checkout_sha.filter(|sha| !sha.is_empty());
    let revision = match push.commits.into_iter().last() {
        Some(commit) => Some(commit.revision(checkout)),
        None => checkout
            .map(|sha| git_revision(sha, SourceControlUser::default(), SourceControlUser::default(), String::new())),
    };
    Decision::Start { cause: hook.kind.cause(revision.clone()), revision, env: Vec::new(), warnings: Vec::new() }
}

#[derive(Debug, Deserialize)]
struct BitbucketPush {
    push: BitbucketChanges,
}

#[derive(Debug, Deserialize)]
struct BitbucketChanges {
    #[serde(default)]
    changes: Vec<BitbucketChange>,
}

#[derive(Debug, Deserialize)]
struct BitbucketChange {
    /// `null` when the branch was deleted.
    #[serde(default)]
    new: Option<BitbucketRef>,
}

#[derive(Debug, Deserialize)]
struct BitbucketRef {
    #[serde(default)]
    name: String,
    #[serde(default)]
    target: BitbucketTarget,
}

#[derive(Debug, Default, Deserialize)]
struct BitbucketTarget {
    #[serde(default)]
    hash: String,
    #[serde(default)]
    message: String,
    #[serde(default)]
    author: BitbucketAuthor,
}

#[derive(Debug, Default, Deserialize)]
struct BitbucketAuthor {
    /// `Name <email>`.
    #[serde(default)]
    raw: String,
}

impl BitbucketAuthor {
    fn user(&self) -> SourceControlUser {
        match self.raw.split_once('<') {
            Some((name, email)) => SourceControlUser {
                name: name.trim().to_owned(),
                email: email.trim_end().trim_end_matches('>').to_owned(),
            },
            None => SourceControlUser { name: self.raw.trim().to_owned(), email: String::new() },
        }
    }
}

/// A Bitbucket Server (Data Center) push: `X-Event-Key: repo:refs_changed`.
#[derive(Debug, Deserialize)]
struct BitbucketServerPush {
    #[serde(default)]
    actor: BitbucketServerUser,
    #[serde(default)]
    changes: Vec<BitbucketServerChange>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BitbucketServerUser {
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    email_address: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BitbucketServerChange {
    #[serde(default)]
    r#ref: BitbucketServerRef,
    /// The commit the ref points to now.
    #[serde(default)]
    to_hash: String,
    /// `ADD`, `UPDATE` or `DELETE`.
    #[serde(default, rename = "type")]
    change: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct BitbucketServerRef {
    /// The branch's name (`main`); `id` is the full ref (`refs/heads/main`).
    #[serde(default)]
    display_id: String,
    /// `BRANCH` or `TAG`.
    #[serde(default, rename = "type")]
    kind: String,
}

fn bitbucket(hook: &HookPath, source: &BuildSource, request: &WebhookRequest) -> Decision {
    if let Err(rejection) = require_json(request) {
        return Decision::Reject(rejection);
    }
    // Bitbucket Cloud sends `repo:push`, Bitbucket Server and Data Center `repo:refs_changed`.
    match request.get("x-event-key") {
        "" => Decision::Reject(Rejection::bad_request("missing X-Event-Key".into())),
        "repo:push" => bitbucket_cloud(hook, source, request),
        "repo:refs_changed" => bitbucket_server(hook, source, request),
        other => Decision::Reject(Rejection::bad_request(format!("Unknown X-Event-Key {other}"))),
    }
}

fn bitbucket_cloud(hook: &HookPath, source: &BuildSource, request: &WebhookRequest) -> Decision {
    let push: BitbucketPush = match parse_json(&request.body) {
        Ok(push) => push,
        Err(rejection) => return Decision::Reject(rejection),
    };
    let pushed: Vec<BitbucketRef> = push.push.changes.into_iter().filter_map(|change| change.new).collect();
    let Some(change) = pushed.iter().find(|new| ref_matches(&new.name, source)) else {
        let names: Vec<&str> = pushed.iter().map(|new| new.name.as_str()).collect();
        return skip_branch(&names.join(", "), source);
    };
    let author = change.target.author.user();
    let revision =
        Some(git_revision(change.target.hash.clone(), author.clone(), author, change.target.message.clone()));
    Decision::Start { cause: hook.kind.cause(revision.clone()), revision, env: Vec::new(), warnings: Vec::new() }
}

/// A Server push names the branches that moved (not deleted ones, not
/// tags) and their new commits; the pusher is the commit's author as far
/// as the payload knows (it carries no commit details).
fn bitbucket_server(hook: &HookPath, source: &BuildSource, request: &WebhookRequest) -> Decision {
    let push: BitbucketServerPush = match parse_json(&request.body) {
        Ok(push) => push,
        Err(rejection) => return Decision::Reject(rejection),
    };
    let pushed: Vec<&BitbucketServerChange> =
        push.changes.iter().filter(|change| change.change != "DELETE" && change.r#ref.kind != "TAG").collect();
    let Some(change) = pushed.iter().find(|change| ref_matches(&change.r#ref.display_id, source)) else {
        let names: Vec<&str> = pushed.iter().map(|change| change.r#ref.display_id.as_str()).collect();
        return skip_branch(&names.join(", "), source);
    };
    let actor = &push.actor;
    let name = if actor.display_name.is_empty() { &actor.name } else { &actor.display_name };
    let user = SourceControlUser { name: name.clone(), email: actor.email_address.clone() };
    let revision = Some(git_revision(change.to_hash.clone(), user.clone(), user, String::new()));
    Decision::Start { cause: hook.kind.cause(revision.clone()), revision, env: Vec::new(), warnings: Vec::new() }
}

/// `GenericWebHookEvent`.
#[derive(Debug, Default, Deserialize)]
struct GenericEvent {
    #[serde(default)]
    git: Option<GenericGit>,
    #[serde(default)]
    env: Vec<EnvVar>,
}

#[derive(Debug, Default, Deserialize)]
struct GenericGit {
    #[serde(default, rename = "ref")]
    git_ref: String,
    #[serde(flatten)]
    revision: GitSourceRevision,
    #[serde(default)]
    refs: Vec<GenericRef>,
}

#[derive(Debug, Default, Deserialize)]
struct GenericRef {
    #[serde(default, rename = "ref")]
    git_ref: String,
    #[serde(flatten)]
    revision: GitSourceRevision,
}

/// A generic payload, JSON or YAML (YAML is a superset of JSON: the store's
/// one YAML reader reads both); fields it does not use are ignored.
fn read_generic(body: &[u8]) -> Result<GenericEvent, String> {
    let text = std::str::from_utf8(body).map_err(|_| "it is not UTF-8 text".to_owned())?;
    let mut documents = s2i_store::codec::read_documents("payload", text).map_err(|e| e.message().to_owned())?;
    if documents.len() != 1 {
        return Err(format!("it holds {} documents, not one", documents.len()));
    }
    documents
        .remove(0)
        .with_validation(s2i_store::codec::FieldValidation::Ignore)
        .decode()
        .map_err(|e| e.message().to_owned())
}

fn generic(allow_env: bool, source: &BuildSource, request: &WebhookRequest) -> Decision {
    let mut warnings = Vec::new();
    let content_type = request.get("content-type");
    let event: GenericEvent = if request.body.iter().all(u8::is_ascii_whitespace) {
        GenericEvent::default()
    } else if content_type.starts_with("application/json") || content_type.starts_with("application/yaml") {
        match read_generic(&request.body) {
            Ok(event) => event,
            Err(e) => {
                warnings.push(format!("the payload could not be read ({e}); it is ignored and the build starts"));
                GenericEvent::default()
            }
        }
    } else {
        warnings.push(format!(
            "invalid Content-Type {content_type:?} on the payload (application/json or application/yaml); it is \
             ignored and the build starts"
        ));
        GenericEvent::default()
    };
    let mut env = Vec::new();
    if !event.env.is_empty() {
        if allow_env {
            // Values only: a webhook does not read Secrets or ConfigMaps.
            env = event
                .env
                .into_iter()
                .map(|var| EnvVar { name: var.name, value: var.value, value_from: None })
                .collect();
        } else {
            warnings.push("the payload's env is ignored: the Generic trigger does not set allowEnv".into());
        }
    }
    let cause = |revision: Option<SourceRevision>| HookKind::Generic.cause(revision);
    let (Some(git), Some(_)) = (event.git, source.git.as_ref()) else {
        return Decision::Start { cause: cause(None), revision: None, env, warnings };
    };
    let revision = if git.refs.is_empty() {
        if !ref_matches(&git.git_ref, source) {
            return skip_branch(&git.git_ref, source);
        }
        git.revision
    } else {
        match git.refs.iter().find(|r| ref_matches(&r.git_ref, source)) {
            Some(found) => found.revision.clone(),
            None => {
                let names: Vec<&str> = git.refs.iter().map(|r| r.git_ref.as_str()).collect();
                return skip_branch(&names.join(", "), source);
            }
        }
    };
    let revision =
        (revision != GitSourceRevision::default()).then(|| SourceRevision { kind: "Git".into(), git: Some(revision) });
    Decision::Start { cause: cause(revision.clone()), revision, env, warnings }
}

/// The answer to a webhook request: an HTTP status and a JSON body (the
/// Build started, or a Kubernetes `Status`).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct WebhookResponse {
    /// HTTP status.
    pub status: u16,
    /// The body, JSON.
    pub body: Value,
    /// The build started, if any.
    pub build: Option<String>,
    /// What was ignored in the request.
    pub warnings: Vec<String>,
}

impl WebhookResponse {
    pub(crate) fn rejected(rejection: Rejection) -> Self {
        let body = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": rejection.message,
            "reason": rejection.reason,
            "code": rejection.code,
        });
        Self { status: rejection.code, body, build: None, warnings: Vec::new() }
    }

    pub(crate) fn skipped(message: String) -> Self {
        let body = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "message": message, "code": 200});
        Self { status: 200, body, build: None, warnings: Vec::new() }
    }

    pub(crate) fn started(build: &Build, warnings: Vec<String>) -> Self {
        let body = serde_json::to_value(build).unwrap_or(Value::Null);
        Self { status: 200, body, build: Some(build.metadata.name.clone()), warnings }
    }

    /// The `message` of a `Status` body (empty for a Build).
    pub fn message(&self) -> &str {
        self.body.get("message").and_then(Value::as_str).unwrap_or_default()
    }
}

// ---------------------------------------------------------------------------
// Which process serves webhooks for a store.

/// The file in the store directory that says which process serves webhooks, on which port.
fn serving_file(store_dir: &Path) -> PathBuf {
    store_dir.join("webhooks.serving")
}

/// A webhook server's record in the store directory: while it exists,
/// [`serving`] finds the port; dropping it removes the record.
#[derive(Debug)]
pub struct ServingRecord {
    path: PathBuf,
    written: String,
}

/// Record that this process serves the webhooks of the store in
/// `store_dir` on `port` (127.0.0.1). Another process's live record is
/// replaced (the latest server is the one named).
pub fn record_serving(store_dir: &Path, port: u16) -> std::io::Result<ServingRecord> {
    let path = serving_file(store_dir);
    let written = format!("port={port} {}\n", s2i_store::ProcessIdentity::current());
    let temporary = path.with_extension(format!("{}.tmp", std::process::id()));
    std::fs::write(&temporary, &written)?;
    std::fs::rename(&temporary, &path)?;
    Ok(ServingRecord { path, written })
}

impl Drop for ServingRecord {
    fn drop(&mut self) {
        // Only our own record: a later server may have replaced it.
        if std::fs::read_to_string(&self.path).is_ok_and(|text| text == self.written) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// The port on which a running process serves the webhooks of the store
/// in `store_dir`; `None` when none does (or its record is of a process
/// this machine cannot see, as on another host).
pub fn serving(store_dir: &Path) -> Option<u16> {
    let text = std::fs::read_to_string(serving_file(store_dir)).ok()?;
    let port = text.split_whitespace().find_map(|word| word.strip_prefix("port="))?.parse().ok()?;
    let process = s2i_store::ProcessIdentity::parse(&text)?;
    (process.is_running_here() == Some(true)).then_some(port)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(yaml: &str) -> BuildConfig {
        s2i_store::codec::read_documents("test", yaml).unwrap().remove(0).decode().unwrap()
    }

    fn app() -> BuildConfig {
        config(
            "apiVersion: build.openshift.io/v1
kind: BuildConfig
metadata: {name: app, namespace: ns}
spec:
  source: {git: {uri: 'https://example.com/app.git', ref: main}}
  triggers:
  - {type: GitHub, github: {secret: gh-secret}}
  - {type: GitLab, gitlab: {secretReference: {name: hooks}}}
  - {type: Bitbucket, bitbucket: {secret: bb}}
  - {type: Generic, generic: {secret: gen, allowEnv: true}}
  - {type: Generic, generic: {secret: gen2}}",
        )
    }

    fn secrets(name: &str) -> Option<Vec<u8>> {
        (name == "hooks").then(|| b"from-secret".to_vec())
    }

    fn hook(kind: HookKind, secret: &str) -> HookPath {
        parse_path(&url_path("ns", "app", secret, kind)).unwrap()
    }

    fn decide_for(kind: HookKind, secret: &str, request: &WebhookRequest) -> Decision {
        decide(&app(), &hook(kind, secret), &secrets, request)
    }

    fn github_push(git_ref: &str) -> WebhookRequest {
        WebhookRequest::new("POST", "")
            .header("Content-Type", "application/json")
            .header("X-GitHub-Event", "push")
            .body(format!(
                r#"{{"ref":"{git_ref}","head_commit":{{"id":"abc123","message":"Fix","author":{{"name":"Ann","email":"ann@example.com"}},"committer":{{"name":"Bob"}}}}}}"#
            ))
    }

    fn code(decision: &Decision) -> u16 {
        match decision {
            Decision::Reject(rejection) => rejection.code,
            _ => 200,
        }
    }

    #[test]
    fn paths() {
        let hook =
            parse_path("/apis/build.openshift.io/v1/namespaces/ns/buildconfigs/app/webhooks/s%2Fx/github?x=1").unwrap();
        assert_eq!((hook.namespace.as_str(), hook.config.as_str(), hook.secret.as_str()), ("ns", "app", "s/x"));
        assert_eq!(hook.kind, HookKind::GitHub);
        for path in [
            "/apis/build.openshift.io/v1/namespaces/ns/buildconfigs/app/webhooks/s/gitea",
            "/apis/build.openshift.io/v1/namespaces/ns/buildconfigs/app/webhooks/github",
            "/apis/build.openshift.io/v1/namespaces/ns/buildconfigs/app/instantiate",
            "/healthz",
        ] {
            assert_eq!(parse_path(path).unwrap_err().code, 404, "{path}");
        }
        assert_eq!(
            url_path("ns", "app", "<secret>", HookKind::Bitbucket),
            "/apis/build.openshift.io/v1/namespaces/ns/buildconfigs/app/webhooks/<secret>/bitbucket"
        );
    }

    #[test]
    fn secrets_are_checked_per_type() {
        assert_eq!(code(&decide_for(HookKind::GitHub, "wrong", &github_push("refs/heads/main"))), 401);
        // The secret of another type's trigger is not this type's.
        assert_eq!(code(&decide_for(HookKind::GitHub, "gen", &github_push("refs/heads/main"))), 401);
        let Decision::Reject(rejection) = decide_for(HookKind::GitHub, "nope", &github_push("main")) else { panic!() };
        assert_eq!(rejection.message, "the webhook \"github\" for \"app\" did not accept your secret");
        assert!(!rejection.message.contains("gh-secret"));
        // secretReference: the Secret's WebHookSecretKey, not its name.
        let push = WebhookRequest::new("POST", "")
            .header("content-type", "application/json")
            .header("x-gitlab-event", "Push Hook")
            .body(r#"{"ref":"refs/heads/main","commits":[{"id":"1"},{"id":"2","message":"m","author":{"name":"A"}}]}"#);
        assert_eq!(code(&decide_for(HookKind::GitLab, "hooks", &push)), 401);
        let Decision::Start { revision, cause, .. } = decide_for(HookKind::GitLab, "from-secret", &push) else {
            panic!()
        };
        assert_eq!(revision.unwrap().git.unwrap().commit, "2");
        assert_eq!(cause.message, "GitLab WebHook");
        assert_eq!(cause.gitlab_web_hook.unwrap().secret, "<redacted>");
        // X-Gitlab-Token, when sent, is the secret too.
        let wrong_token = push.clone().header("X-Gitlab-Token", "other");
        assert_eq!(code(&decide_for(HookKind::GitLab, "from-secret", &wrong_token)), 401);
        let token = push.header("X-Gitlab-Token", "from-secret");
        assert_eq!(code(&decide_for(HookKind::GitLab, "from-secret", &token)), 200);
        // A secret that names a missing Secret accepts nothing.
        let missing = config(
            "metadata: {name: app}
spec: {triggers: [{type: Generic, generic: {secretReference: {name: gone}}}]}",
        );
        let request = WebhookRequest::new("POST", "");
        assert_eq!(code(&decide(&missing, &hook(HookKind::Generic, "gone"), &secrets, &request)), 401);
    }

    #[test]
    fn github_pushes() {
        let Decision::Start { revision, cause, .. } =
            decide_for(HookKind::GitHub, "gh-secret", &github_push("refs/heads/main"))
        else {
            panic!()
        };
        let git = revision.unwrap().git.unwrap();
        assert_eq!(
            (git.commit.as_str(), git.message.as_str(), git.author.email.as_str()),
            ("abc123", "Fix", "ann@example.com")
        );
        assert_eq!(cause.github_web_hook.unwrap().revision.unwrap().git.unwrap().commit, "abc123");
        let Decision::Skip { message } = decide_for(HookKind::GitHub, "gh-secret", &github_push("refs/heads/feature"))
        else {
            panic!()
        };
        assert!(message.contains("\"refs/heads/feature\"") && message.contains("\"main\""), "{message}");
        let ping =
            WebhookRequest::new("POST", "").header("content-type", "application/json").header("x-github-event", "ping");
        assert!(matches!(decide_for(HookKind::GitHub, "gh-secret", &ping), Decision::Skip { .. }));
        let no_json = github_push("main").header("content-type", "text/plain");
        assert_eq!(code(&decide_for(HookKind::GitHub, "gh-secret", &no_json)), 400);
        let issue = github_push("main").header("x-github-event", "issues");
        assert_eq!(code(&decide_for(HookKind::GitHub, "gh-secret", &issue)), 400);
        // Gogs and Gitea send X-Gogs-Event.
        let mut gogs = github_push("main");
        gogs.headers.remove("x-github-event");
        assert_eq!(code(&decide_for(HookKind::GitHub, "gh-secret", &gogs)), 400);
        let gogs = gogs.header("X-Gogs-Event", "push");
        assert!(matches!(decide_for(HookKind::GitHub, "gh-secret", &gogs), Decision::Start { .. }));
    }

    #[test]
    fn github_signatures() {
        let push = github_push("main");
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"gh-secret");
        let good = format!("sha256={}", hex::encode(ring::hmac::sign(&key, &push.body).as_ref()));
        let signed = push.clone().header("X-Hub-Signature-256", good.clone());
        assert!(matches!(decide_for(HookKind::GitHub, "gh-secret", &signed), Decision::Start { .. }));
        let other = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, b"other");
        let bad = format!("sha256={}", hex::encode(ring::hmac::sign(&other, &push.body).as_ref()));
        for header in [bad.as_str(), "sha256=zz", "sha1=00", ""] {
            let request = push.clone().header("X-Hub-Signature-256", header);
            assert_eq!(code(&decide_for(HookKind::GitHub, "gh-secret", &request)), 401, "{header}");
        }
        // The signature is of these exact bytes.
        let tampered = signed.body(github_push("main").body.iter().chain(b" ").copied().collect::<Vec<u8>>());
        assert_eq!(code(&decide_for(HookKind::GitHub, "gh-secret", &tampered)), 401);
    }

    #[test]
    fn bitbucket_pushes() {
        let push = |name: &str| {
            WebhookRequest::new("POST", "")
                .header("content-type", "application/json")
                .header("x-event-key", "repo:push")
                .body(format!(
                    r#"{{"push":{{"changes":[{{"new":null}},{{"new":{{"name":"{name}","target":{{"hash":"f00","message":"m","author":{{"raw":"Ann <ann@example.com>"}}}}}}}}]}}}}"#
                ))
        };
        let Decision::Start { revision, .. } = decide_for(HookKind::Bitbucket, "bb", &push("main")) else { panic!() };
        let git = revision.unwrap().git.unwrap();
        assert_eq!(
            (git.commit.as_str(), git.author.name.as_str(), git.author.email.as_str()),
            ("f00", "Ann", "ann@example.com")
        );
        assert!(matches!(decide_for(HookKind::Bitbucket, "bb", &push("dev")), Decision::Skip { .. }));
        let other = push("main").header("x-event-key", "pullrequest:created");
        assert_eq!(code(&decide_for(HookKind::Bitbucket, "bb", &other)), 400);
    }

    #[test]
    fn bitbucket_server_pushes() {
        let push = |changes: &str| {
            WebhookRequest::new("POST", "")
                .header("content-type", "application/json")
                .header("x-event-key", "repo:refs_changed")
                .body(format!(
                    r#"{{"eventKey":"repo:refs_changed","date":"2026-03-01T10:00:00+0000",
                       "actor":{{"name":"ann","emailAddress":"ann@example.com","displayName":"Ann Example"}},
                       "repository":{{"slug":"app","project":{{"key":"TEAM"}}}},
                       "changes":[{changes}]}}"#
                ))
        };
        let change = |display: &str, kind: &str, to: &str, change: &str| {
            format!(
                r#"{{"ref":{{"id":"refs/heads/{display}","displayId":"{display}","type":"{kind}"}},
                    "refId":"refs/heads/{display}","fromHash":"0000","toHash":"{to}","type":"{change}"}}"#
            )
        };
        let both =
            format!("{},{}", change("dev", "BRANCH", "d0d", "UPDATE"), change("main", "BRANCH", "f00", "UPDATE"));
        let Decision::Start { revision, cause, .. } = decide_for(HookKind::Bitbucket, "bb", &push(&both)) else {
            panic!()
        };
        let git = revision.unwrap().git.unwrap();
        assert_eq!(
            (git.commit.as_str(), git.author.name.as_str(), git.author.email.as_str()),
            ("f00", "Ann Example", "ann@example.com")
        );
        assert_eq!(cause.message, "Bitbucket WebHook");
        // Another branch, the branch deleted, a tag of the branch's name: nothing starts.
        for changes in [
            change("dev", "BRANCH", "d0d", "UPDATE"),
            change("main", "BRANCH", "0000", "DELETE"),
            change("main", "TAG", "f00", "ADD"),
        ] {
            let decision = decide_for(HookKind::Bitbucket, "bb", &push(&changes));
            assert!(matches!(decision, Decision::Skip { .. }), "{changes}: {decision:?}");
        }
        let created = change("main", "BRANCH", "f00", "ADD");
        assert!(matches!(decide_for(HookKind::Bitbucket, "bb", &push(&created)), Decision::Start { .. }));
        // Other Server events are refused, as other Cloud ones are; the secret still comes first.
        let opened = push(&both).header("x-event-key", "pr:opened");
        assert_eq!(code(&decide_for(HookKind::Bitbucket, "bb", &opened)), 400);
        assert_eq!(code(&decide_for(HookKind::Bitbucket, "wrong", &push(&both))), 401);
    }

    #[test]
    fn generic_payloads() {
        let empty = WebhookRequest::new("POST", "");
        let Decision::Start { revision, env, warnings, cause } = decide_for(HookKind::Generic, "gen", &empty) else {
            panic!()
        };
        assert!(revision.is_none() && env.is_empty() && warnings.is_empty());
        assert_eq!(cause.message, "Generic WebHook");
        let json = |body: &str| WebhookRequest::new("POST", "").header("content-type", "application/json").body(body);
        let payload =
            r#"{"git":{"uri":"x","ref":"main","commit":"c0ffee","message":"m"},"env":[{"name":"A","value":"1"}]}"#;
        let Decision::Start { revision, env, .. } = decide_for(HookKind::Generic, "gen", &json(payload)) else {
            panic!()
        };
        assert_eq!(revision.unwrap().git.unwrap().commit, "c0ffee");
        assert_eq!((env[0].name.as_str(), env[0].value.as_str()), ("A", "1"));
        // The second trigger does not allow env: ignored, with a warning.
        let Decision::Start { env, warnings, .. } = decide_for(HookKind::Generic, "gen2", &json(payload)) else {
            panic!()
        };
        assert!(env.is_empty());
        assert!(warnings[0].contains("allowEnv"), "{warnings:?}");
        // Another branch starts nothing; refs[] may name the branch.
        assert!(matches!(
            decide_for(HookKind::Generic, "gen", &json(r#"{"git":{"ref":"refs/heads/dev"}}"#)),
            Decision::Skip { .. }
        ));
        let refs = r#"{"git":{"refs":[{"ref":"dev","commit":"1"},{"ref":"refs/heads/main","commit":"2"}]}}"#;
        let Decision::Start { revision, .. } = decide_for(HookKind::Generic, "gen", &json(refs)) else { panic!() };
        assert_eq!(revision.unwrap().git.unwrap().commit, "2");
        // YAML is read; a broken body or a foreign type is a warning, and the build starts.
        let yaml = WebhookRequest::new("POST", "")
            .header("content-type", "application/yaml")
            .body("git:\n  ref: main\n  commit: abc\n");
        let Decision::Start { revision, .. } = decide_for(HookKind::Generic, "gen", &yaml) else { panic!() };
        assert_eq!(revision.unwrap().git.unwrap().commit, "abc");
        for request in
            [json("{not json"), WebhookRequest::new("POST", "").header("content-type", "text/plain").body("x")]
        {
            let Decision::Start { warnings, .. } = decide_for(HookKind::Generic, "gen", &request) else { panic!() };
            assert_eq!(warnings.len(), 1, "{warnings:?}");
        }
    }

    #[test]
    fn refs_default_to_master() {
        let source = BuildSource::default();
        assert!(ref_matches("refs/heads/master", &source) && ref_matches("master", &source));
        assert!(!ref_matches("refs/heads/main", &source));
        let source = app().spec.source;
        assert!(ref_matches("main", &source) && !ref_matches("refs/tags/main", &source));
    }

    #[test]
    fn serving_records() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(serving(dir.path()), None);
        let record = record_serving(dir.path(), 9123).unwrap();
        assert_eq!(serving(dir.path()), Some(9123));
        drop(record);
        assert_eq!(serving(dir.path()), None);
        // A record of a process that is gone names no server.
        std::fs::write(serving_file(dir.path()), "port=1 pid=999999999 host=x boot=y start=1\n").unwrap();
        assert_eq!(serving(dir.path()), None);
    }
}
