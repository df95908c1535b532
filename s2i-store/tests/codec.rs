//! Objects as text without the embedded store (`--no-default-features`):
//! metadata, a kind's documents read back from the YAML this crate writes.

use s2i_store::codec::{read_documents, to_json, to_yaml, to_yaml_documents};
use s2i_store::{KindInfo, KindRegistry, ObjectMeta, OwnerReference};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Note {
    api_version: String,
    kind: String,
    metadata: ObjectMeta,
    text: String,
}

const NOTE: KindInfo = KindInfo {
    group: "notes.example.com",
    version: "v1",
    kind: "Note",
    plural: "notes",
    short_names: &[],
    namespaced: true,
};

fn note(name: &str, text: &str) -> Note {
    let mut metadata = ObjectMeta::named("desk", name);
    metadata.creation_timestamp = Some("2026-01-02T03:04:05Z".parse().unwrap());
    metadata.labels.insert("color".into(), "yes".into());
    metadata.owner_references.push(OwnerReference { kind: "Pad".into(), name: "p".into(), ..Default::default() });
    Note { api_version: NOTE.api_version(), kind: NOTE.kind.into(), metadata, text: text.into() }
}

#[test]
fn yaml_round_trip() {
    let notes = [note("a", "on"), note("b", "line one\nline two\n")];
    let text = to_yaml_documents(&notes).unwrap();
    assert!(text.contains("color: 'yes'") && text.contains("creationTimestamp: '2026-01-02T03:04:05Z'"), "{text}");
    let kinds = KindRegistry::of([NOTE]).unwrap();
    let back: Vec<Note> = read_documents("notes.yaml", &text)
        .unwrap()
        .into_iter()
        .map(|document| {
            assert_eq!(kinds.by_type(Some(&document.api_version), &document.kind), Some(&NOTE));
            document.decode().unwrap()
        })
        .collect();
    assert_eq!(back, notes);
    assert_eq!(to_yaml(&notes[0]).unwrap(), text.split("---\n").next().unwrap());
    let json = to_json(&notes[0]).unwrap();
    assert!(json.ends_with("}\n"));
    let from_json: Vec<Note> =
        read_documents("n.json", &json).unwrap().into_iter().map(|d| d.decode().unwrap()).collect();
    assert_eq!(from_json[0], notes[0]);
}

#[test]
fn a_bad_field_is_located() {
    let text = "apiVersion: notes.example.com/v1\nkind: Note\nmetadata: {name: a}\ntext: hi\ncolour: red\n";
    let error = read_documents("n.yaml", text).unwrap().pop().unwrap().decode::<Note>().unwrap_err();
    assert_eq!(error.location().map(|(line, _)| line), Some(5), "{error}");
    assert!(error.message().contains("unknown field `colour`"), "{error}");
}
