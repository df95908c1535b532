//! Secrets and ConfigMaps: the `secret` and `configmap` (`cm`) kinds of the
//! object verbs, `s2i secret create generic|docker-registry` and
//! `s2i create configmap`, as kubectl has them. A Secret's values show only
//! in `get -o yaml|json` and `secret create -o yaml|json` (base64, as kubectl
//! prints them: the user asked for the object); tables show the type and how many values, descriptions the
//! keys and their sizes.

use std::fmt::Write as _;
use std::path::Path;

use s2i_store::codec::Document;
use s2i_store::core::{
    ConfigMap, Secret, apply_config_map, apply_secret, create_config_map, create_secret, get_config_map, get_secret,
};
use s2i_store::{Applied, Resource, Tx};
use serde_json::Value;

use super::kind::{ApplyOps, BoxFuture, DocumentError, Kind, LibResult, decode, parse_in_namespace, to_value};
use super::objects::create_one;
use super::session::{Context, Session};
use crate::cli::{CreateObject, DataArgs, GlobalArgs, SecretCommand, SecretCreateCommand};
use crate::failure::Failure;

// ---------------------------------------------------------------------------
// Ages, as kubectl shows them.

/// How old an object is, as kubectl's AGE column says it (`45s`, `3m12s`, `5h`, `2d3h`).
pub(crate) fn age(created: Option<jiff::Timestamp>, now: jiff::Timestamp) -> String {
    let Some(created) = created else { return "<unknown>".into() };
    let seconds = now.duration_since(created).as_secs();
    if seconds < 0 {
        return "0s".into();
    }
    let (minutes, hours, days) = (seconds / 60, seconds / 3600, seconds / 86400);
    let with = |big: i64, unit: &str, small: i64, small_unit: &str| {
        if small == 0 { format!("{big}{unit}") } else { format!("{big}{unit}{small}{small_unit}") }
    };
    match () {
        _ if seconds < 120 => format!("{seconds}s"),
        _ if minutes < 10 => with(minutes, "m", seconds % 60, "s"),
        _ if minutes < 180 => format!("{minutes}m"),
        _ if hours < 8 => with(hours, "h", minutes % 60, "m"),
        _ if hours < 48 => format!("{hours}h"),
        _ if hours < 24 * 8 => with(days, "d", hours % 24, "h"),
        _ if hours < 24 * 365 * 2 => format!("{days}d"),
        _ if hours < 24 * 365 * 8 => with(days / 365, "y", days % 365, "d"),
        _ => format!("{}y", days / 365),
    }
}

fn header(out: &mut String, meta: &s2i_store::ObjectMeta) {
    let pairs = |map: &std::collections::BTreeMap<String, String>| {
        if map.is_empty() {
            "<none>".to_owned()
        } else {
            map.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("\n              ")
        }
    };
    let _ = writeln!(out, "{:<14}{}", "Name:", meta.name);
    let _ = writeln!(out, "{:<14}{}", "Namespace:", meta.namespace);
    let _ = writeln!(out, "{:<14}{}", "Labels:", pairs(&meta.labels));
    let _ = writeln!(out, "{:<14}{}", "Annotations:", pairs(&meta.annotations));
}

// ---------------------------------------------------------------------------
// Secret.

pub(crate) const SECRET: Kind = Kind {
    info: Secret::INFO,
    columns: &["NAME", "TYPE", "DATA", "AGE"],
    get: |tx, namespace, name| Ok(to_value(&get_secret(tx, namespace, name)?)),
    list: Some(|tx, namespace| Ok(tx.list_as::<Secret>(namespace)?.iter().map(to_value).collect())),
    row: |value| {
        let Ok(secret) = decode::<Secret>(value) else { return Vec::new() };
        vec![
            secret.metadata.name.clone(),
            secret.type_name().to_owned(),
            secret.data.len().to_string(),
            age(secret.metadata.creation_timestamp, jiff::Timestamp::now()),
        ]
    },
    wide: None,
    describe: Some(|_, value| Ok(describe_secret(&decode(value)?))),
    apply: Some(ApplyOps { parse: parse_secret, write: write_secret, after: nothing_after }),
    delete: Ok(delete_secret),
    refresh: None,
    export: None,
};

/// Keys and sizes, never values (as `kubectl describe secret`).
fn describe_secret(secret: &Secret) -> String {
    let mut out = String::new();
    header(&mut out, &secret.metadata);
    let _ = writeln!(out, "\nType:  {}\n\nData\n====", secret.type_name());
    let width = secret.data.keys().map(|k| k.len() + 1).max().unwrap_or(0);
    for (key, value) in &secret.data {
        let _ = writeln!(out, "{:<width$}  {} bytes", format!("{key}:"), value.0.len());
    }
    out
}

fn parse_secret(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    let secret: Secret = parse_in_namespace(document, namespace)?;
    let value = to_value(&secret);
    let mut defaulted = secret;
    defaulted.apply_defaults();
    defaulted.validate().map_err(DocumentError::invalid)?;
    Ok(value)
}

fn write_secret(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let secret: Secret = decode(&value)?;
    let (stored, action) = apply_secret(tx, secret)?;
    Ok(Applied::of(&stored, action))
}

fn nothing_after<'a>(_: &'a Session, _: &'a [Applied]) -> BoxFuture<'a, Result<Vec<String>, Failure>> {
    Box::pin(async { Ok(Vec::new()) })
}

fn delete_secret<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        delete_object::<Secret>(&session.context, name)?;
        Ok(format!("secret \"{name}\" deleted"))
    })
}

fn delete_object<T: Resource>(context: &Context, name: &str) -> Result<(), Failure> {
    let namespace = &context.namespace;
    context.store.write(|tx| {
        tx.delete(T::KIND, namespace, name)?.ok_or_else(|| s2i_store::Error::NotFound {
            kind: T::KIND.into(),
            namespace: namespace.clone(),
            name: name.into(),
            help: format!("list them with `s2i get {} --namespace {namespace}`", T::INFO.plural),
        })?;
        Ok::<_, s2i_store::Error>(())
    })?;
    Ok(())
}

// ---------------------------------------------------------------------------
// ConfigMap.

pub(crate) const CONFIG_MAP: Kind = Kind {
    info: ConfigMap::INFO,
    columns: &["NAME", "DATA", "AGE"],
    get: |tx, namespace, name| Ok(to_value(&get_config_map(tx, namespace, name)?)),
    list: Some(|tx, namespace| Ok(tx.list_as::<ConfigMap>(namespace)?.iter().map(to_value).collect())),
    row: |value| {
        let Ok(map) = decode::<ConfigMap>(value) else { return Vec::new() };
        vec![
            map.metadata.name.clone(),
            (map.data.len() + map.binary_data.len()).to_string(),
            age(map.metadata.creation_timestamp, jiff::Timestamp::now()),
        ]
    },
    wide: None,
    describe: Some(|_, value| Ok(describe_config_map(&decode(value)?))),
    apply: Some(ApplyOps { parse: parse_config_map, write: write_config_map, after: nothing_after }),
    delete: Ok(delete_config_map),
    refresh: None,
    export: None,
};

/// Text values as they are, binary ones by size (as `kubectl describe configmap`).
fn describe_config_map(map: &ConfigMap) -> String {
    let mut out = String::new();
    header(&mut out, &map.metadata);
    let _ = writeln!(out, "\nData\n====");
    for (key, value) in &map.data {
        let _ = writeln!(out, "{key}:\n----\n{value}\n");
    }
    let _ = writeln!(out, "\nBinaryData\n====");
    for (key, value) in &map.binary_data {
        let _ = writeln!(out, "{key}: {} bytes", value.0.len());
    }
    out
}

fn parse_config_map(document: Document<'_>, namespace: &str) -> Result<Value, DocumentError> {
    let map: ConfigMap = parse_in_namespace(document, namespace)?;
    map.validate().map_err(DocumentError::invalid)?;
    Ok(to_value(&map))
}

fn write_config_map(tx: &Tx<'_>, value: Value) -> LibResult<Applied> {
    let map: ConfigMap = decode(&value)?;
    let (stored, action) = apply_config_map(tx, map)?;
    Ok(Applied::of(&stored, action))
}

fn delete_config_map<'a>(session: &'a Session, name: &'a str) -> BoxFuture<'a, Result<String, Failure>> {
    Box::pin(async move {
        delete_object::<ConfigMap>(&session.context, name)?;
        Ok(format!("configmap \"{name}\" deleted"))
    })
}

// ---------------------------------------------------------------------------
// s2i secret create, s2i create configmap.

/// The values of `--from-literal` and `--from-file`, as `(key, bytes)` in
/// the order given (a directory gives its regular files, by name).
fn data_values(data: &DataArgs) -> Result<Vec<(String, Vec<u8>)>, Failure> {
    let mut values = Vec::new();
    for literal in &data.literals {
        let Some((key, value)) = literal.split_once('=').filter(|(key, _)| !key.is_empty()) else {
            return Err(Failure::message(
                format!("invalid literal source {:?}, expected key=value", literal.split('=').next().unwrap_or("")),
                "write --from-literal=KEY=VALUE".into(),
            ));
        };
        values.push((key.to_owned(), value.as_bytes().to_vec()));
    }
    for source in &data.files {
        let (key, path) = match source.split_once('=') {
            Some((key, path)) if !key.is_empty() => (Some(key), Path::new(path)),
            Some(_) => {
                return Err(Failure::message(
                    format!("key names or file paths cannot be empty: {source:?}"),
                    "write --from-file=[KEY=]PATH".into(),
                ));
            }
            None => (None, Path::new(source.as_str())),
        };
        let read = |path: &Path| {
            std::fs::read(path).map_err(|e| {
                Failure::message(format!("cannot read {}: {e}", path.display()), "give a readable file".into())
            })
        };
        if path.is_dir() {
            if key.is_some() {
                return Err(Failure::message(
                    format!("cannot give a key name for a directory path: {}", path.display()),
                    "name files with KEY=FILE, or give the directory alone (each file is a key)".into(),
                ));
            }
            let mut entries: Vec<_> = std::fs::read_dir(path)
                .map_err(|e| {
                    Failure::message(format!("cannot read {}: {e}", path.display()), "give a readable directory".into())
                })?
                .filter_map(Result::ok)
                .filter(|entry| entry.file_type().is_ok_and(|t| t.is_file()))
                .collect();
            entries.sort_by_key(|entry| entry.file_name());
            for entry in entries {
                values.push((entry.file_name().to_string_lossy().into_owned(), read(&entry.path())?));
            }
        } else {
            let name = match key {
                Some(key) => key.to_owned(),
                None => path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
            };
            values.push((name, read(path)?));
        }
    }
    Ok(values)
}

/// `s2i secret …`.
pub(crate) async fn run(global: &GlobalArgs, command: SecretCommand) -> Result<i32, Failure> {
    let SecretCommand::Create(create) = command;
    let namespace = &global.namespace;
    s2i_store::validate_namespace(namespace)?;
    let (secret, print) = match create {
        SecretCreateCommand::Generic(args) => {
            let mut secret = Secret::new(namespace, &args.name);
            secret.secret_type = args.secret_type.clone();
            for (key, value) in data_values(&args.data)? {
                secret.insert(&key, value)?;
            }
            (secret, args.print)
        }
        SecretCreateCommand::DockerRegistry(args) => {
            let secret = Secret::docker_registry(
                namespace,
                &args.name,
                &args.docker_server,
                &args.docker_username,
                &args.docker_password,
                args.docker_email.as_deref(),
            );
            (secret, args.print)
        }
    };
    secret.validate()?;
    create_one(global, &SECRET, to_value(&secret), &print, |tx| Ok(to_value(&create_secret(tx, secret.clone())?)))
}

/// `s2i create configmap …`.
pub(crate) async fn create_object(global: &GlobalArgs, object: CreateObject) -> Result<i32, Failure> {
    let CreateObject::ConfigMap(args) = object;
    s2i_store::validate_namespace(&global.namespace)?;
    let mut map = ConfigMap::new(&global.namespace, &args.name);
    for (key, value) in data_values(&args.data)? {
        map.insert(&key, value)?;
    }
    map.validate()?;
    create_one(global, &CONFIG_MAP, to_value(&map), &args.print, |tx| {
        Ok(to_value(&create_config_map(tx, map.clone())?))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let now: jiff::Timestamp = "2026-01-10T12:00:00Z".parse().unwrap();
        let ago = |seconds: i64| age(Some(now - jiff::SignedDuration::from_secs(seconds)), now);
        assert_eq!(ago(5), "5s");
        assert_eq!(ago(119), "119s");
        assert_eq!(ago(192), "3m12s");
        assert_eq!(ago(600), "10m");
        assert_eq!(ago(3 * 3600 + 5 * 60), "3h5m");
        assert_eq!(ago(30 * 3600), "30h");
        assert_eq!(ago(2 * 86400 + 3 * 3600), "2d3h");
        assert_eq!(ago(40 * 86400), "40d");
        assert_eq!(age(None, now), "<unknown>");
    }
}
