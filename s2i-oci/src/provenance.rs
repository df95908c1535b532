//! How the image was made, as an in-toto Statement v1 with a SLSA
//! provenance v1 predicate, from plain data.
//!
//! The statement's subject is the image (name and manifest digest). The
//! build definition names our build type ([`BUILD_TYPE`]), the external
//! parameters (builder image, source, and the options that change the
//! result, as the caller lists them — never secret values), the internal
//! ones, and the resolved dependencies: the builder image by digest and the
//! source by commit or content digest (a remote repository also by its URL;
//! never a path of the building machine, so that the same content gives the
//! same statement wherever it lies).
//!
//! Run times: a reproducible build (one with an epoch) must give the same
//! statement every time, so its `runDetails.metadata` has no
//! `invocationId`, `startedOn` or `finishedOn`; [`RunMetadata`] is accepted
//! only for builds without an epoch, and refused otherwise.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::sbom::{ImageRef, SourceRef, oci_purl, whole_seconds};

/// The in-toto statement type.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The SLSA provenance predicate type.
pub const PREDICATE_TYPE: &str = "https://slsa.dev/provenance/v1";
/// Our build type: what the parameters mean.
pub const BUILD_TYPE: &str = "https://github.com/s2i-rs/s2i/build/v1";

/// When and as what a build that is not reproducible ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunMetadata {
    /// An id of this run (a build name), if any.
    pub invocation_id: Option<String>,
    /// Start, seconds since the Unix epoch.
    pub started_on: u64,
    /// End, seconds since the Unix epoch.
    pub finished_on: u64,
}

/// The inputs of [`statement`].
#[derive(Debug, Clone)]
pub struct ProvenanceInputs<'a> {
    /// The image made; its digest is required.
    pub image: &'a ImageRef,
    /// The builder image.
    pub builder: &'a ImageRef,
    /// The source.
    pub source: &'a SourceRef,
    /// Options that change the result (scripts URL, environment names,
    /// incremental, …), by name. Never secret values.
    pub parameters: BTreeMap<String, Value>,
    /// Parameters of the tool that do not change the result as such.
    pub internal_parameters: BTreeMap<String, Value>,
    /// The builder id (`https://github.com/s2i-rs/s2i@v0.1.0`).
    pub builder_id: &'a str,
    /// The build's epoch; `Some` makes the statement reproducible.
    pub epoch: Option<u64>,
    /// Run times, only for builds without an epoch.
    pub run: Option<RunMetadata>,
}

/// The in-toto statement JSON; see the [module docs](self).
pub fn statement(inputs: &ProvenanceInputs<'_>) -> Result<Vec<u8>> {
    let Some(image_digest) = &inputs.image.digest else {
        return Err(Error::InvalidImage {
            reason: "the provenance's subject needs the image's digest".to_owned(),
            help: "write the image first and give its manifest digest".to_owned(),
        });
    };
    if inputs.epoch.is_some() && inputs.run.is_some() {
        return Err(Error::InvalidImage {
            reason: "a reproducible build (one with an epoch) records no run times".to_owned(),
            help: "leave RunMetadata out when an epoch is given".to_owned(),
        });
    }
    let builder_uri = oci_purl(inputs.builder).unwrap_or_else(|| inputs.builder.name.clone());
    let mut builder_dependency = json!({"uri": builder_uri, "name": "builder-image"});
    if let Some(digest) = &inputs.builder.digest {
        builder_dependency["digest"] = json!({"sha256": digest.hex()});
    }
    let (source_parameter, source_digest) = match inputs.source {
        SourceRef::Git { url: Some(url), commit } => {
            (json!({"url": url, "commit": commit}), json!({"gitCommit": commit}))
        }
        SourceRef::Git { url: None, commit } => (json!({"commit": commit}), json!({"gitCommit": commit})),
        SourceRef::Directory { digest } => (json!({"digest": digest.to_string()}), json!({"sha256": digest.hex()})),
    };
    // A source of the building machine has no `uri`: its commit or content
    // digest says all, and its path would make the statement differ by place.
    let mut source_dependency = serde_json::Map::new();
    if let Some(uri) = inputs.source.download_location() {
        source_dependency.insert("uri".to_owned(), json!(uri));
    }
    source_dependency.insert("digest".to_owned(), source_digest);
    source_dependency.insert("name".to_owned(), json!("source"));
    let mut external = serde_json::Map::new();
    external.insert("builderImage".to_owned(), json!(inputs.builder.name));
    external.insert("source".to_owned(), source_parameter);
    for (name, value) in &inputs.parameters {
        if external.contains_key(name) {
            return Err(Error::InvalidImage {
                reason: format!("the parameter {name:?} is one the statement sets itself"),
                help: "name build options other than builderImage and source".to_owned(),
            });
        }
        external.insert(name.clone(), value.clone());
    }
    let mut build_definition = json!({
        "buildType": BUILD_TYPE,
        "externalParameters": external,
    });
    if !inputs.internal_parameters.is_empty() {
        build_definition["internalParameters"] = json!(inputs.internal_parameters);
    }
    build_definition["resolvedDependencies"] = json!([builder_dependency, source_dependency]);
    let mut run_details = json!({"builder": {"id": inputs.builder_id}});
    if let Some(run) = &inputs.run {
        let mut metadata = serde_json::Map::new();
        if let Some(id) = &run.invocation_id {
            metadata.insert("invocationId".to_owned(), json!(id));
        }
        metadata.insert("startedOn".to_owned(), json!(whole_seconds(Some(run.started_on))?));
        metadata.insert("finishedOn".to_owned(), json!(whole_seconds(Some(run.finished_on))?));
        run_details["metadata"] = Value::Object(metadata);
    }
    let statement = json!({
        "_type": STATEMENT_TYPE,
        "subject": [{"name": inputs.image.name, "digest": {"sha256": image_digest.hex()}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {"buildDefinition": build_definition, "runDetails": run_details},
    });
    Ok(serde_json::to_vec(&statement).expect("JSON values serialise"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::Digest;

    fn inputs<'a>(image: &'a ImageRef, builder: &'a ImageRef, source: &'a SourceRef) -> ProvenanceInputs<'a> {
        ProvenanceInputs {
            image,
            builder,
            source,
            parameters: BTreeMap::from([("incremental".to_owned(), json!(false))]),
            internal_parameters: BTreeMap::new(),
            builder_id: "https://github.com/s2i-rs/s2i@v0.1.0",
            epoch: Some(1_700_000_000),
            run: None,
        }
    }

    #[test]
    fn statement_names_subject_and_dependencies() {
        let image = ImageRef { name: "app:latest".into(), digest: Some(Digest::of(b"manifest")) };
        let builder = ImageRef { name: "s2i-fixtures/base:latest".into(), digest: Some(Digest::of(b"base")) };
        let source = SourceRef::Git { url: Some("https://example.com/app.git".into()), commit: "abc123".into() };
        let bytes = statement(&inputs(&image, &builder, &source)).unwrap();
        assert_eq!(bytes, statement(&inputs(&image, &builder, &source)).unwrap());
        let value: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(value["_type"], STATEMENT_TYPE);
        assert_eq!(value["predicateType"], PREDICATE_TYPE);
        assert_eq!(value["subject"][0]["digest"]["sha256"], Digest::of(b"manifest").hex());
        let definition = &value["predicate"]["buildDefinition"];
        assert_eq!(definition["buildType"], BUILD_TYPE);
        assert_eq!(definition["externalParameters"]["incremental"], false);
        assert_eq!(definition["resolvedDependencies"][0]["digest"]["sha256"], Digest::of(b"base").hex());
        assert_eq!(definition["resolvedDependencies"][1]["digest"]["gitCommit"], "abc123");
        assert_eq!(definition["resolvedDependencies"][1]["uri"], "git+https://example.com/app.git@abc123");
        assert!(value["predicate"]["runDetails"].get("metadata").is_none(), "reproducible: no run times");
    }

    #[test]
    fn run_times_only_without_epoch_and_digest_required() {
        let image = ImageRef { name: "app".into(), digest: Some(Digest::of(b"m")) };
        let builder = ImageRef { name: "b".into(), digest: None };
        let source = SourceRef::Directory { digest: Digest::of(b"t") };
        let run = RunMetadata { invocation_id: Some("app-1".into()), started_on: 10, finished_on: 20 };
        let mut with_epoch = inputs(&image, &builder, &source);
        with_epoch.run = Some(run.clone());
        assert!(statement(&with_epoch).is_err());
        let without = ProvenanceInputs { epoch: None, ..with_epoch };
        let value: Value = serde_json::from_slice(&statement(&without).unwrap()).unwrap();
        assert_eq!(value["predicate"]["runDetails"]["metadata"]["startedOn"], "1970-01-01T00:00:10Z");
        assert_eq!(value["predicate"]["runDetails"]["metadata"]["invocationId"], "app-1");
        let no_digest = ImageRef { name: "app".into(), digest: None };
        assert!(statement(&inputs(&no_digest, &builder, &source)).is_err());
    }

    /// A source of the building machine is named by its commit or content only.
    #[test]
    fn local_sources_have_no_uri() {
        let image = ImageRef { name: "app".into(), digest: Some(Digest::of(b"m")) };
        let builder = ImageRef { name: "b".into(), digest: None };
        let sources =
            [SourceRef::Git { url: None, commit: "abc123".into() }, SourceRef::Directory { digest: Digest::of(b"t") }];
        for source in &sources {
            let value: Value = serde_json::from_slice(&statement(&inputs(&image, &builder, source)).unwrap()).unwrap();
            let definition = &value["predicate"]["buildDefinition"];
            let dependency = &definition["resolvedDependencies"][1];
            assert!(dependency.get("uri").is_none(), "{dependency}");
            assert_eq!(dependency["name"], "source");
            let parameter = definition["externalParameters"]["source"].as_object().unwrap();
            assert!(parameter.keys().all(|k| k == "commit" || k == "digest"), "{parameter:?}");
        }
    }
}
