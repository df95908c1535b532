//! The store as a downstream tool uses it, through its public API only: a
//! kind of its own, registered, created, updated (and refused on a stale
//! resourceVersion), applied with rules, listed, deleted, and its events
//! consumed both ways.

#![cfg(feature = "sqlite")]

use s2i_store::{
    ConsumerStart, Error, KindInfo, KindRegistry, NewEvent, NoRules, ObjectMeta, Resource, Store, Strategy, Tx,
    WriteAction,
};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Gadget {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    metadata: ObjectMeta,
    #[serde(default)]
    spec: GadgetSpec,
    #[serde(default)]
    status: GadgetStatus,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct GadgetSpec {
    size: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct GadgetStatus {
    #[serde(default)]
    built: bool,
}

impl Resource for Gadget {
    const INFO: KindInfo = KindInfo {
        group: "tools.example.com",
        version: "v1alpha1",
        kind: "Gadget",
        plural: "gadgets",
        short_names: &["gd"],
        namespaced: true,
    };
    fn metadata(&self) -> &ObjectMeta {
        &self.metadata
    }
    fn metadata_mut(&mut self) -> &mut ObjectMeta {
        &mut self.metadata
    }
}

fn gadget(name: &str, size: u32) -> Gadget {
    Gadget { metadata: ObjectMeta::named("lab", name), spec: GadgetSpec { size }, ..Gadget::default() }
}

/// The API-server rules of gadgets: the status is the controller's, the
/// generation counts spec changes, a size of 0 is refused.
struct GadgetRules;

impl Strategy<Gadget> for GadgetRules {
    type Error = Error;

    fn prepare_create(&self, _: &Tx<'_>, gadget: &mut Gadget) -> Result<(), Error> {
        gadget.status = GadgetStatus::default();
        gadget.metadata.generation = 1;
        validate(gadget)
    }

    fn prepare_update(&self, _: &Tx<'_>, gadget: &mut Gadget, old: &Gadget) -> Result<(), Error> {
        gadget.status = old.status.clone();
        gadget.metadata.generation = old.metadata.generation + i64::from(gadget.spec != old.spec);
        validate(gadget)
    }
}

fn validate(gadget: &Gadget) -> Result<(), Error> {
    if gadget.spec.size == 0 {
        return Err(Error::InvalidObject {
            kind: Gadget::KIND.into(),
            name: gadget.metadata.name.clone(),
            message: "spec.size: Required value".into(),
            help: "give the gadget a size".into(),
        });
    }
    Ok(())
}

#[test]
fn a_kind_of_its_own_through_the_public_api() {
    let mut kinds = KindRegistry::new();
    kinds.register_resource::<Gadget>().unwrap();
    for name in ["gd", "gadgets", "Gadget", "gadget.tools.example.com"] {
        assert_eq!(kinds.resolve(name).unwrap().kind, "Gadget", "{name}");
    }
    assert!(matches!(kinds.resolve("widgets"), Err(Error::UnknownKind { .. })));
    assert!(matches!(kinds.register_resource::<Gadget>(), Err(Error::KindRegistered { .. })));

    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();

    // Create: the store assigns identity; the type's kind and apiVersion are written.
    let created = store
        .write(|tx| {
            let created = tx.create_with(gadget("a", 1), &GadgetRules)?;
            tx.append_event(&NewEvent::new(Gadget::KIND, "lab", "a", "Created"))?;
            Ok::<_, Error>(created)
        })
        .unwrap();
    assert_eq!((created.api_version.as_str(), created.kind.as_str()), ("tools.example.com/v1alpha1", "Gadget"));
    assert_eq!(created.metadata.generation, 1);
    assert!(!created.metadata.uid.is_empty() && created.metadata.creation_timestamp.is_some());
    let refused = store.write(|tx| tx.create_with(gadget("zero", 0), &GadgetRules));
    assert!(matches!(refused, Err(Error::InvalidObject { .. })), "{refused:?}");

    // Update from what was read; then the same stale version again is a conflict.
    let mut bigger = created.clone();
    bigger.spec.size = 2;
    let (updated, action) = store.write(|tx| tx.update_with(bigger.clone(), &GadgetRules)).unwrap();
    assert_eq!(action, WriteAction::Configured);
    assert_eq!(updated.metadata.generation, 2);
    assert_eq!(updated.metadata.uid, created.metadata.uid);
    assert_eq!(updated.metadata.creation_timestamp, created.metadata.creation_timestamp);
    let stale = store.write(|tx| tx.update_with(bigger.clone(), &GadgetRules));
    assert!(
        matches!(&stale, Err(Error::Conflict { expected, .. }) if *expected == created.metadata.resource_version),
        "{stale:?}"
    );
    let stale = store.write(|tx| tx.update_as(&bigger));
    assert!(matches!(stale, Err(Error::Conflict { .. })), "the plain update checks the version too: {stale:?}");

    // The controller's status write, then apply: the status is kept, a same spec is unchanged.
    store
        .write(|tx| {
            let mut gadget: Gadget = tx.get_as("lab", "a")?.expect("a exists");
            gadget.status.built = true;
            tx.update_as(&gadget)
        })
        .unwrap();
    let (same, action) = store.write(|tx| tx.apply_with(gadget("a", 2), &GadgetRules)).unwrap();
    assert_eq!(action, WriteAction::Unchanged);
    assert!(same.status.built);
    let (_, action) = store.write(|tx| tx.apply_with(gadget("a", 3), &GadgetRules)).unwrap();
    assert_eq!(action, WriteAction::Configured);
    let (b, action) = store.write(|tx| tx.apply_with(gadget("b", 1), &NoRules)).unwrap();
    assert_eq!((action, b.metadata.generation), (WriteAction::Created, 0), "no rules, no generation");

    // List, delete.
    let names = |store: &Store| -> Vec<String> {
        store.read(|tx| tx.list_as::<Gadget>(Some("lab"))).unwrap().into_iter().map(|g| g.metadata.name).collect()
    };
    assert_eq!(names(&store), ["a", "b"]);
    let deleted = store.write(|tx| tx.delete_as::<Gadget>("lab", "b")).unwrap();
    assert_eq!(deleted.map(|g| g.metadata.name), Some("b".to_owned()));
    assert_eq!(names(&store), ["a"]);

    // Events: a transactional consumer, and a leased one that acts outside transactions.
    store.write(|tx| tx.append_event(&NewEvent::new(Gadget::KIND, "lab", "a", "Resized"))).unwrap();
    let mut audited = Vec::new();
    while let Some((event, ())) =
        store.consume_next("audit", ConsumerStart::Beginning, |_, _| Ok::<_, Error>(())).unwrap()
    {
        audited.push(event.action);
    }
    assert_eq!(audited, ["Created", "Resized"]);
    let lease = store.try_lease("builder", ConsumerStart::Beginning).unwrap().expect("free");
    let mut acted = Vec::new();
    while let Some(event) = lease.next().unwrap() {
        acted.push(event.seq); // the outside work happens here, with no transaction open
        lease.advance(&event).unwrap();
    }
    lease.release().unwrap();
    assert_eq!(acted, [1, 2]);
    assert_eq!(store.read(|tx| tx.cursor("builder")).unwrap(), Some(2));
    assert!(store.check().unwrap().is_empty());
}
