//! The `v1` (core group) kinds that are generic, used by several crates:
//! [`Secret`] and [`ConfigMap`], field for field as Kubernetes has them,
//! with the API server's rules — `stringData` merged into `data` on write,
//! the keys each Secret type needs, key names, sizes, immutability — and,
//! with the `sqlite` feature, their writes as store [`Strategy`](crate::Strategy)s.
//!
//! **Values never show.** [`SecretBytes`] prints as its length in `Debug`,
//! and no error of this module quotes a value; a Secret's values leave only
//! as the object itself (serialised, base64 in `data`, as kubectl prints it
//! when asked for it).

use std::collections::BTreeMap;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::error::{Error, Result};
use crate::meta::{ObjectMeta, ServerOwned};
use crate::resource::{KindInfo, Resource};

/// `type` of a Secret with any keys (the default).
pub const SECRET_TYPE_OPAQUE: &str = "Opaque";
/// `type` of a Secret with `username` and/or `password`.
pub const SECRET_TYPE_BASIC_AUTH: &str = "kubernetes.io/basic-auth";
/// `type` of a Secret with `ssh-privatekey` (and optionally `known_hosts`).
pub const SECRET_TYPE_SSH_AUTH: &str = "kubernetes.io/ssh-auth";
/// `type` of a Secret with `.dockerconfigjson` (a `config.json` of `docker login`).
pub const SECRET_TYPE_DOCKER_CONFIG_JSON: &str = "kubernetes.io/dockerconfigjson";
/// `type` of a Secret with `.dockercfg` (the legacy `~/.dockercfg` layout).
pub const SECRET_TYPE_DOCKERCFG: &str = "kubernetes.io/dockercfg";
/// `type` of a Secret with `tls.crt` and `tls.key`.
pub const SECRET_TYPE_TLS: &str = "kubernetes.io/tls";

/// The user name of a basic-auth Secret.
pub const BASIC_AUTH_USERNAME: &str = "username";
/// The password (or token) of a basic-auth Secret.
pub const BASIC_AUTH_PASSWORD: &str = "password";
/// The private key of an ssh-auth Secret.
pub const SSH_AUTH_PRIVATE_KEY: &str = "ssh-privatekey";
/// Host keys to trust, in `known_hosts` form, of an ssh-auth Secret (OpenShift's builds read it).
pub const SSH_KNOWN_HOSTS: &str = "known_hosts";
/// The key of a `kubernetes.io/dockerconfigjson` Secret.
pub const DOCKER_CONFIG_JSON_KEY: &str = ".dockerconfigjson";
/// The key of a `kubernetes.io/dockercfg` Secret.
pub const DOCKERCFG_KEY: &str = ".dockercfg";

/// The most a Secret's or ConfigMap's data may hold, as the API server counts it.
pub const MAX_DATA_BYTES: usize = 1024 * 1024;

/// What a Secret's values say in messages instead of themselves.
const REDACTED: &str = "<secret contents redacted>";

/// The bytes of a value: base64 in JSON and YAML, as Kubernetes writes
/// them; shown as their length by `Debug`.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SecretBytes(pub Vec<u8>);

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes>", self.0.len())
    }
}

impl Serialize for SecretBytes {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for SecretBytes {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        // The API server takes base64 with its padding, and no line breaks.
        STANDARD
            .decode(text.trim_end_matches(['\n']).as_bytes())
            .map(SecretBytes)
            .map_err(|e| serde::de::Error::custom(format!("illegal base64 data: {e}")))
    }
}

impl From<&str> for SecretBytes {
    fn from(text: &str) -> Self {
        SecretBytes(text.as_bytes().to_vec())
    }
}

// ---------------------------------------------------------------------------
// Secret.

/// A `v1` Secret: named values for builds and other consumers.
#[derive(Clone, Default, PartialEq)]
pub struct Secret {
    /// Name, namespace, labels, annotations.
    pub metadata: ObjectMeta,
    /// `true`: the data can no longer change (nor this flag be unset).
    pub immutable: Option<bool>,
    /// The values, by key.
    pub data: BTreeMap<String, SecretBytes>,
    /// Values given as text; a write merges them into `data` (winning over
    /// a key of the same name) and keeps none: a stored Secret has none.
    pub string_data: BTreeMap<String, String>,
    /// What the Secret holds: `Opaque` (the default), `kubernetes.io/basic-auth`, …
    pub secret_type: String,
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Secret")
            .field("metadata", &self.metadata)
            .field("type", &self.secret_type)
            .field("data", &self.data)
            .field("string_data", &self.string_data.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Resource for Secret {
    const INFO: KindInfo =
        KindInfo { group: "", version: "v1", kind: "Secret", plural: "secrets", short_names: &[], namespaced: true };
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SecretOut<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: &'a ObjectMeta,
    #[serde(skip_serializing_if = "Option::is_none")]
    immutable: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    data: &'a BTreeMap<String, SecretBytes>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    string_data: &'a BTreeMap<String, String>,
    #[serde(rename = "type", skip_serializing_if = "str::is_empty")]
    secret_type: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SecretIn {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    immutable: Option<bool>,
    #[serde(default)]
    data: Option<BTreeMap<String, SecretBytes>>,
    #[serde(default)]
    string_data: Option<BTreeMap<String, String>>,
    #[serde(default, rename = "type")]
    secret_type: String,
}

impl Serialize for Secret {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        SecretOut {
            api_version: "v1",
            kind: "Secret",
            metadata: &self.metadata,
            immutable: self.immutable,
            data: &self.data,
            string_data: &self.string_data,
            secret_type: &self.secret_type,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let wire = SecretIn::deserialize(deserializer)?;
        check_type_meta(&Secret::INFO, &wire.api_version, &wire.kind).map_err(serde::de::Error::custom)?;
        Ok(Secret {
            metadata: wire.metadata,
            immutable: wire.immutable,
            data: wire.data.unwrap_or_default(),
            string_data: wire.string_data.unwrap_or_default(),
            secret_type: wire.secret_type,
        })
    }
}

fn check_type_meta(info: &KindInfo, api_version: &str, kind: &str) -> std::result::Result<(), String> {
    info.check_api_version(api_version)?;
    if !kind.is_empty() && kind != info.kind {
        return Err(format!("kind is {kind:?}, expected {:?}", info.kind));
    }
    Ok(())
}

impl Secret {
    /// An empty `Opaque` Secret `namespace/name`.
    pub fn new(namespace: &str, name: &str) -> Self {
        Self { metadata: ObjectMeta::named(namespace, name), secret_type: SECRET_TYPE_OPAQUE.into(), ..Self::default() }
    }

    /// The type, `Opaque` when unset.
    pub fn type_name(&self) -> &str {
        if self.secret_type.is_empty() { SECRET_TYPE_OPAQUE } else { &self.secret_type }
    }

    /// The value of `key` (from `data`, or `stringData` before a write merged it).
    pub fn value(&self, key: &str) -> Option<&[u8]> {
        self.string_data.get(key).map(String::as_bytes).or_else(|| self.data.get(key).map(|v| v.0.as_slice()))
    }

    /// Add a value; a key given twice, or not a valid key, is refused (as
    /// `kubectl create secret` refuses it).
    pub fn insert(&mut self, key: &str, value: Vec<u8>) -> Result<()> {
        insert_value(Self::INFO.kind, &self.metadata.name, &mut self.data, key, SecretBytes(value))
    }

    /// A `kubernetes.io/dockerconfigjson` Secret with credentials for one
    /// registry, as `kubectl create secret docker-registry` writes it
    /// (`auths.<server>` with `username`, `password`, `email` and `auth`).
    pub fn docker_registry(
        namespace: &str,
        name: &str,
        server: &str,
        username: &str,
        password: &str,
        email: Option<&str>,
    ) -> Self {
        let mut entry = serde_json::Map::new();
        entry.insert("username".into(), username.into());
        entry.insert("password".into(), password.into());
        if let Some(email) = email {
            entry.insert("email".into(), email.into());
        }
        entry.insert("auth".into(), STANDARD.encode(format!("{username}:{password}")).into());
        let config = serde_json::json!({ "auths": { server: entry } });
        let mut secret = Self::new(namespace, name);
        secret.secret_type = SECRET_TYPE_DOCKER_CONFIG_JSON.into();
        secret.data.insert(DOCKER_CONFIG_JSON_KEY.into(), SecretBytes(config.to_string().into_bytes()));
        secret
    }

    /// What an API server does to a Secret it is given: `stringData` merged
    /// into `data`, the type defaulted to `Opaque`.
    pub fn apply_defaults(&mut self) {
        for (key, value) in std::mem::take(&mut self.string_data) {
            self.data.insert(key, SecretBytes(value.into_bytes()));
        }
        if self.secret_type.is_empty() {
            self.secret_type = SECRET_TYPE_OPAQUE.into();
        }
    }

    /// The API server's validation of a Secret (defaults applied): its
    /// name, its keys and size, and the keys its type needs. Values are
    /// never quoted.
    pub fn validate(&self) -> Result<()> {
        let invalid = |message: String| invalid(Self::INFO.kind, &self.metadata.name, message);
        validate_name(Self::INFO.kind, &self.metadata)?;
        let mut size = 0;
        for (key, value) in &self.data {
            check_key(Self::INFO.kind, &self.metadata.name, "data", key)?;
            size += value.0.len();
        }
        if size > MAX_DATA_BYTES {
            return Err(invalid(format!("data: Too long: must have at most {MAX_DATA_BYTES} bytes")));
        }
        let required = |key: &str| invalid(format!("data[{key}]: Required value"));
        match self.type_name() {
            SECRET_TYPE_BASIC_AUTH
                if !self.data.contains_key(BASIC_AUTH_USERNAME) && !self.data.contains_key(BASIC_AUTH_PASSWORD) =>
            {
                return Err(invalid(format!(
                    "data[{BASIC_AUTH_USERNAME}]: Required value, data[{BASIC_AUTH_PASSWORD}]: Required value"
                )));
            }
            SECRET_TYPE_SSH_AUTH if self.data.get(SSH_AUTH_PRIVATE_KEY).is_none_or(|key| key.0.is_empty()) => {
                return Err(required(SSH_AUTH_PRIVATE_KEY));
            }
            SECRET_TYPE_TLS => {
                for key in ["tls.crt", "tls.key"] {
                    if !self.data.contains_key(key) {
                        return Err(required(key));
                    }
                }
            }
            kind @ (SECRET_TYPE_DOCKER_CONFIG_JSON | SECRET_TYPE_DOCKERCFG) => {
                let key = if kind == SECRET_TYPE_DOCKERCFG { DOCKERCFG_KEY } else { DOCKER_CONFIG_JSON_KEY };
                let Some(value) = self.data.get(key) else { return Err(required(key)) };
                if let Err(e) = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&value.0) {
                    // serde_json's message names a place, never the text.
                    return Err(invalid(format!("data[{key}]: Invalid value: {REDACTED:?}: {e}")));
                }
            }
            "kubernetes.io/service-account-token"
                if !self.metadata.annotations.contains_key("kubernetes.io/service-account.name") =>
            {
                return Err(invalid("metadata.annotations[kubernetes.io/service-account.name]: Required value".into()));
            }
            _ => {}
        }
        Ok(())
    }

    /// The API server's rules for an update of `old` to `self` (both with
    /// defaults applied): the type never changes; an immutable Secret's
    /// data never changes, nor does it become mutable again.
    pub fn validate_update(&self, old: &Secret) -> Result<()> {
        let invalid = |message: String| invalid(Self::INFO.kind, &self.metadata.name, message);
        if self.type_name() != old.type_name() {
            return Err(invalid(format!("type: Invalid value: {:?}: field is immutable", self.type_name())));
        }
        check_immutable(old.immutable, self.immutable, old.data == self.data).map_err(invalid)
    }
}

// ---------------------------------------------------------------------------
// ConfigMap.

/// A `v1` ConfigMap: named text (`data`) and bytes (`binaryData`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigMap {
    /// Name, namespace, labels, annotations.
    pub metadata: ObjectMeta,
    /// `true`: the data can no longer change (nor this flag be unset).
    pub immutable: Option<bool>,
    /// Text values, by key.
    pub data: BTreeMap<String, String>,
    /// Binary values, by key (base64 when written).
    pub binary_data: BTreeMap<String, SecretBytes>,
}

impl Resource for ConfigMap {
    const INFO: KindInfo = KindInfo {
        group: "",
        version: "v1",
        kind: "ConfigMap",
        plural: "configmaps",
        short_names: &["cm"],
        namespaced: true,
    };
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfigMapOut<'a> {
    api_version: &'static str,
    kind: &'static str,
    metadata: &'a ObjectMeta,
    #[serde(skip_serializing_if = "Option::is_none")]
    immutable: Option<bool>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    data: &'a BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    binary_data: &'a BTreeMap<String, SecretBytes>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigMapIn {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    metadata: ObjectMeta,
    #[serde(default)]
    immutable: Option<bool>,
    #[serde(default)]
    data: Option<BTreeMap<String, String>>,
    #[serde(default)]
    binary_data: Option<BTreeMap<String, SecretBytes>>,
    /// A ConfigMap has no status; one in input is a server's, read and dropped.
    #[serde(default)]
    #[allow(dead_code)]
    status: ServerOwned,
}

impl Serialize for ConfigMap {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        ConfigMapOut {
            api_version: "v1",
            kind: "ConfigMap",
            metadata: &self.metadata,
            immutable: self.immutable,
            data: &self.data,
            binary_data: &self.binary_data,
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ConfigMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        let wire = ConfigMapIn::deserialize(deserializer)?;
        check_type_meta(&ConfigMap::INFO, &wire.api_version, &wire.kind).map_err(serde::de::Error::custom)?;
        Ok(ConfigMap {
            metadata: wire.metadata,
            immutable: wire.immutable,
            data: wire.data.unwrap_or_default(),
            binary_data: wire.binary_data.unwrap_or_default(),
        })
    }
}

impl ConfigMap {
    /// An empty ConfigMap `namespace/name`.
    pub fn new(namespace: &str, name: &str) -> Self {
        Self { metadata: ObjectMeta::named(namespace, name), ..Self::default() }
    }

    /// Add a value: text when it is UTF-8, else binary (as
    /// `kubectl create configmap` does); a key given twice, or not a valid
    /// key, is refused.
    pub fn insert(&mut self, key: &str, value: Vec<u8>) -> Result<()> {
        let name = self.metadata.name.clone();
        check_key(Self::INFO.kind, &name, "data", key)?;
        if self.data.contains_key(key) || self.binary_data.contains_key(key) {
            return Err(duplicate_key(Self::INFO.kind, &name, key));
        }
        match String::from_utf8(value) {
            Ok(text) => {
                self.data.insert(key.to_owned(), text);
            }
            Err(bytes) => {
                self.binary_data.insert(key.to_owned(), SecretBytes(bytes.into_bytes()));
            }
        }
        Ok(())
    }

    /// Every value, text and binary, by key.
    pub fn values(&self) -> BTreeMap<&str, &[u8]> {
        let mut all: BTreeMap<&str, &[u8]> = self.data.iter().map(|(k, v)| (k.as_str(), v.as_bytes())).collect();
        all.extend(self.binary_data.iter().map(|(k, v)| (k.as_str(), v.0.as_slice())));
        all
    }

    /// The API server's validation: name, keys (no key in both `data` and
    /// `binaryData`), size.
    pub fn validate(&self) -> Result<()> {
        let name = &self.metadata.name;
        validate_name(Self::INFO.kind, &self.metadata)?;
        let mut size = 0;
        for (key, value) in &self.data {
            check_key(Self::INFO.kind, name, "data", key)?;
            size += value.len();
        }
        for (key, value) in &self.binary_data {
            check_key(Self::INFO.kind, name, "binaryData", key)?;
            if self.data.contains_key(key) {
                return Err(invalid(
                    Self::INFO.kind,
                    name,
                    format!("binaryData[{key}]: Invalid value: {key:?}: duplicate of key present in data"),
                ));
            }
            size += value.0.len();
        }
        if size > MAX_DATA_BYTES {
            return Err(invalid(Self::INFO.kind, name, format!("Too long: must have at most {MAX_DATA_BYTES} bytes")));
        }
        Ok(())
    }

    /// The API server's rules for an update of `old` to `self`: an immutable
    /// ConfigMap's data never changes, nor does it become mutable again.
    pub fn validate_update(&self, old: &ConfigMap) -> Result<()> {
        let same = old.data == self.data && old.binary_data == self.binary_data;
        check_immutable(old.immutable, self.immutable, same)
            .map_err(|message| invalid(Self::INFO.kind, &self.metadata.name, message))
    }
}

// ---------------------------------------------------------------------------
// Rules both kinds share.

fn invalid(kind: &str, name: &str, message: String) -> Error {
    Error::InvalidObject {
        kind: kind.into(),
        name: name.into(),
        message,
        help: format!("fix the {kind} as the message says (the API server's rules for {kind}s)"),
    }
}

fn duplicate_key(kind: &str, name: &str, key: &str) -> Error {
    Error::InvalidObject {
        kind: kind.into(),
        name: name.into(),
        message: format!("cannot add key {key}, another key by that name already exists"),
        help: "give each value its own key (--from-file=KEY=PATH names a file's key)".into(),
    }
}

fn insert_value(
    kind: &str,
    name: &str,
    data: &mut BTreeMap<String, SecretBytes>,
    key: &str,
    value: SecretBytes,
) -> Result<()> {
    check_key(kind, name, "data", key)?;
    if data.contains_key(key) {
        return Err(duplicate_key(kind, name, key));
    }
    data.insert(key.to_owned(), value);
    Ok(())
}

/// Whether `key` may name a value: 1-253 of `[-._a-zA-Z0-9]`, not `.` or `..`.
pub fn is_valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 253
        && key != "."
        && key != ".."
        && key.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
}

fn check_key(kind: &str, name: &str, field: &str, key: &str) -> Result<()> {
    if is_valid_key(key) {
        return Ok(());
    }
    Err(invalid(
        kind,
        name,
        format!(
            "{field}[{key}]: Invalid value: {key:?}: a valid config key must consist of alphanumeric characters, \
             '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is \
             '[-._a-zA-Z0-9]+')"
        ),
    ))
}

/// A Secret's or ConfigMap's name: a DNS-1123 subdomain; `apply` needs one.
fn validate_name(kind: &str, meta: &ObjectMeta) -> Result<()> {
    let name = meta.name.as_str();
    if name.is_empty() {
        let message = if meta.generate_name.is_empty() {
            "metadata.name: Required value: name or generateName is required".to_owned()
        } else {
            "metadata.name: Required value: cannot use generate name with apply".to_owned()
        };
        return Err(invalid(kind, name, message));
    }
    let edge = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    let bytes = name.as_bytes();
    let ok = bytes.len() <= 253
        && edge(bytes[0])
        && edge(bytes[bytes.len() - 1])
        && bytes.iter().all(|&c| edge(c) || c == b'-' || c == b'.');
    if !ok {
        return Err(Error::InvalidName {
            what: format!("{kind} name"),
            value: name.into(),
            reason: "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', \
                     and must start and end with an alphanumeric character"
                .into(),
            help: "use a name like `git-credentials` or `app-config`".into(),
        });
    }
    crate::meta::validate_namespace(&meta.namespace)
}

fn check_immutable(old: Option<bool>, new: Option<bool>, same_data: bool) -> std::result::Result<(), String> {
    if old != Some(true) {
        return Ok(());
    }
    if new != Some(true) {
        return Err("immutable: Forbidden: field is immutable when `immutable` is set".into());
    }
    if !same_data {
        return Err("data: Forbidden: field is immutable when `immutable` is set".into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// In the store.

#[cfg(feature = "sqlite")]
mod store {
    use super::{ConfigMap, Secret};
    use crate::error::{Error, Result};
    use crate::resource::{Resource, WriteAction};
    use crate::sqlite::{Strategy, Tx};

    /// The API server's write rules for Secrets.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct SecretRules;

    impl Strategy<Secret> for SecretRules {
        type Error = Error;

        fn prepare_create(&self, _tx: &Tx<'_>, secret: &mut Secret) -> Result<()> {
            secret.apply_defaults();
            secret.validate()
        }

        fn prepare_update(&self, _tx: &Tx<'_>, secret: &mut Secret, old: &Secret) -> Result<()> {
            secret.apply_defaults();
            secret.validate()?;
            secret.validate_update(old)
        }
    }

    /// The API server's write rules for ConfigMaps.
    #[derive(Debug, Clone, Copy, Default)]
    pub struct ConfigMapRules;

    impl Strategy<ConfigMap> for ConfigMapRules {
        type Error = Error;

        fn prepare_create(&self, _tx: &Tx<'_>, config_map: &mut ConfigMap) -> Result<()> {
            config_map.validate()
        }

        fn prepare_update(&self, _tx: &Tx<'_>, config_map: &mut ConfigMap, old: &ConfigMap) -> Result<()> {
            config_map.validate()?;
            config_map.validate_update(old)
        }
    }

    /// Create or update a Secret (`kubectl apply`): defaults, validation, the
    /// store's `resourceVersion` check.
    pub fn apply_secret(tx: &Tx<'_>, secret: Secret) -> Result<(Secret, WriteAction)> {
        tx.apply_with(secret, &SecretRules)
    }

    /// Create or update a ConfigMap (`kubectl apply`).
    pub fn apply_config_map(tx: &Tx<'_>, config_map: ConfigMap) -> Result<(ConfigMap, WriteAction)> {
        tx.apply_with(config_map, &ConfigMapRules)
    }

    /// Create a Secret; one of that name is [`Error::AlreadyExists`] (`kubectl create secret`).
    pub fn create_secret(tx: &Tx<'_>, secret: Secret) -> Result<Secret> {
        let meta = secret.metadata();
        if tx.get(Secret::KIND, &meta.namespace, &meta.name)?.is_some() {
            return Err(Error::AlreadyExists {
                kind: Secret::KIND.into(),
                namespace: meta.namespace.clone(),
                name: meta.name.clone(),
            });
        }
        tx.create_with(secret, &SecretRules)
    }

    /// Create a ConfigMap; one of that name is [`Error::AlreadyExists`].
    pub fn create_config_map(tx: &Tx<'_>, config_map: ConfigMap) -> Result<ConfigMap> {
        let meta = config_map.metadata();
        if tx.get(ConfigMap::KIND, &meta.namespace, &meta.name)?.is_some() {
            return Err(Error::AlreadyExists {
                kind: ConfigMap::KIND.into(),
                namespace: meta.namespace.clone(),
                name: meta.name.clone(),
            });
        }
        tx.create_with(config_map, &ConfigMapRules)
    }

    /// The Secret `namespace/name`, or [`Error::NotFound`] naming it.
    pub fn get_secret(tx: &Tx<'_>, namespace: &str, name: &str) -> Result<Secret> {
        tx.get_as(namespace, name)?.ok_or_else(|| not_found(Secret::KIND, namespace, name))
    }

    /// The ConfigMap `namespace/name`, or [`Error::NotFound`] naming it.
    pub fn get_config_map(tx: &Tx<'_>, namespace: &str, name: &str) -> Result<ConfigMap> {
        tx.get_as(namespace, name)?.ok_or_else(|| not_found(ConfigMap::KIND, namespace, name))
    }

    fn not_found(kind: &str, namespace: &str, name: &str) -> Error {
        Error::NotFound {
            kind: kind.into(),
            namespace: namespace.into(),
            name: name.into(),
            help: format!("create the {kind} in namespace {namespace:?} first, or name one that exists"),
        }
    }
}

#[cfg(feature = "sqlite")]
pub use store::{
    ConfigMapRules, SecretRules, apply_config_map, apply_secret, create_config_map, create_secret, get_config_map,
    get_secret,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(yaml: &str) -> Secret {
        let mut secret: Secret = serde_norway::from_str(yaml).unwrap();
        secret.metadata.namespace = "default".into();
        secret.apply_defaults();
        secret
    }

    #[test]
    fn string_data_is_merged_and_values_never_show() {
        let secret = secret(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: git}\ntype: kubernetes.io/basic-auth\n\
             data: {username: b2xk}\nstringData: {username: alice, password: s3cr3t}\n",
        );
        assert_eq!(secret.value("username"), Some(&b"alice"[..]), "stringData wins");
        assert!(secret.string_data.is_empty());
        secret.validate().unwrap();
        let json = serde_json::to_value(&secret).unwrap();
        assert_eq!(json["data"]["password"], "czNjcjN0");
        assert!(json.get("stringData").is_none());
        let debug = format!("{secret:?}");
        assert!(!debug.contains("s3cr3t") && !debug.contains("czNjcjN0"), "{debug}");
        assert!(debug.contains("<6 bytes>"), "{debug}");
    }

    #[test]
    fn each_type_needs_its_keys() {
        // (type, data, message)
        let table = [
            ("kubernetes.io/basic-auth", "{}", "data[username]: Required value, data[password]: Required value"),
            ("kubernetes.io/ssh-auth", "{}", "data[ssh-privatekey]: Required value"),
            ("kubernetes.io/dockerconfigjson", "{}", "data[.dockerconfigjson]: Required value"),
            (
                "kubernetes.io/dockercfg",
                "{.dockercfg: bm90IGpzb24=}",
                "data[.dockercfg]: Invalid value: \"<secret contents redacted>\"",
            ),
            ("kubernetes.io/tls", "{tls.crt: eA==}", "data[tls.key]: Required value"),
        ];
        for (kind, data, message) in table {
            let error = secret(&format!("metadata: {{name: s}}\ntype: {kind}\ndata: {data}\n")).validate().unwrap_err();
            assert!(error.to_string().contains(message), "{kind}: {error}");
            assert!(!error.to_string().contains("not json"));
        }
        secret("metadata: {name: s}\ntype: kubernetes.io/basic-auth\nstringData: {password: x}\n").validate().unwrap();
        secret("metadata: {name: s}\ntype: example.com/custom\n").validate().unwrap();
        let error = secret("metadata: {name: s}\ndata: {'bad/key': eA==}\n").validate().unwrap_err();
        assert!(error.to_string().contains("data[bad/key]: Invalid value"), "{error}");
        assert!(serde_norway::from_str::<Secret>("data: {a: '!!!'}").unwrap_err().to_string().contains("base64"));
        let error = secret("metadata: {generateName: s-}\n").validate().unwrap_err();
        assert!(error.to_string().contains("cannot use generate name with apply"), "{error}");
    }

    #[test]
    fn updates_keep_the_type_and_immutable_data() {
        let old = secret("metadata: {name: s}\nimmutable: true\nstringData: {a: b}\n");
        let mut new = old.clone();
        new.secret_type = SECRET_TYPE_BASIC_AUTH.into();
        assert!(new.validate_update(&old).unwrap_err().to_string().contains("type: Invalid value"));
        let mut new = old.clone();
        new.data.insert("a".into(), "c".into());
        assert!(new.validate_update(&old).unwrap_err().to_string().contains("field is immutable"));
        old.validate_update(&old).unwrap();
    }

    #[test]
    fn config_maps_keep_text_and_bytes_apart() {
        let mut map = ConfigMap::new("default", "app");
        map.insert("app.properties", b"a=b\n".to_vec()).unwrap();
        map.insert("logo.png", vec![0x89, b'P', 0xff]).unwrap();
        assert!(map.insert("logo.png", vec![]).unwrap_err().to_string().contains("another key by that name"));
        assert_eq!(map.data.len(), 1);
        assert_eq!(map.binary_data.len(), 1);
        map.validate().unwrap();
        let json = serde_json::to_value(&map).unwrap();
        assert_eq!(json["binaryData"]["logo.png"], "iVD/");
        let back: ConfigMap = serde_json::from_value(json).unwrap();
        assert_eq!(back, map);
        let mut clash = map.clone();
        clash.binary_data.insert("app.properties".into(), "x".into());
        assert!(clash.validate().unwrap_err().to_string().contains("duplicate of key present in data"));
    }

    #[test]
    fn docker_registry_secrets_are_what_kubectl_writes() {
        let secret = Secret::docker_registry("default", "pull", "quay.io", "bot", "t0ken", Some("bot@example.com"));
        secret.validate().unwrap();
        let config: serde_json::Value = serde_json::from_slice(secret.value(DOCKER_CONFIG_JSON_KEY).unwrap()).unwrap();
        assert_eq!(config["auths"]["quay.io"]["auth"], STANDARD.encode("bot:t0ken"));
        assert_eq!(config["auths"]["quay.io"]["email"], "bot@example.com");
    }
}
