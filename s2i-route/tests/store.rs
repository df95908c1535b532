//! Routes and services in the object store: the API server's create and
//! update rules, status writes, and admission from stored metadata.

#![cfg(feature = "store")]

use s2i_route::admission::AdmissionConfig;
use s2i_route::route::ConditionStatus;
use s2i_route::store::*;
use s2i_route::*;
use s2i_store::{Error as StoreError, Store};

fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    (dir, store)
}

fn route(name: &str, host: &str) -> Route {
    Route::new(
        ObjectMeta::named("shop", name),
        RouteSpec { host: host.into(), to: RouteTargetReference::service("web", 100), ..Default::default() },
    )
}

fn now() -> jiff::Timestamp {
    "2026-03-01T00:00:00Z".parse().unwrap()
}

fn admitted(route: &Route) -> (ConditionStatus, String, String) {
    let condition = route.status.for_router("default").and_then(|i| i.condition("Admitted")).expect("a status");
    (condition.status, condition.reason.clone(), condition.message.clone())
}

fn get(store: &Store, name: &str) -> Route {
    store.read(|tx| get_route(tx, "shop", name)).unwrap().unwrap()
}

#[test]
fn create_generates_the_host_and_the_store_fills_the_metadata() {
    let (_dir, store) = store();
    let mut asked = route("web.v2", "");
    asked.metadata.uid = "forged".into();
    asked.metadata.generation = 7;
    asked.status.ingress.push(Default::default());
    let created = store.write(|tx| create_route(tx, asked.clone(), "apps.test")).unwrap();
    assert_eq!(created.spec.host, "web-v2-shop.apps.test");
    assert_eq!(created.metadata.annotations.get("openshift.io/host.generated").map(String::as_str), Some("true"));
    assert_eq!(created.metadata.generation, 1);
    assert_ne!(created.metadata.uid, "forged");
    assert!(created.metadata.creation_timestamp.is_some());
    assert!(!created.metadata.resource_version.is_empty());
    assert!(created.status.ingress.is_empty(), "creation clears the status");
    assert_eq!(get(&store, "web.v2"), created);

    // A host given is kept, and not marked generated.
    let given = store.write(|tx| create_route(tx, route("given", "www.example.com"), "apps.test")).unwrap();
    assert_eq!(given.spec.host, "www.example.com");
    assert!(given.metadata.annotations.is_empty());

    let again = store.write(|tx| create_route(tx, route("given", "x.example.com"), "apps.test"));
    assert!(matches!(again, Err(StoreError::AlreadyExists { .. })), "{again:?}");
}

#[test]
fn invalid_routes_are_refused_with_every_problem_and_nothing_is_kept() {
    let (_dir, store) = store();
    let mut bad = route("bad", "");
    bad.spec.path = "api".into();
    bad.spec.to.weight = 300;
    let error = store.write(|tx| create_route(tx, bad.clone(), "apps.test")).unwrap_err();
    let text = error.to_string();
    assert!(matches!(error, StoreError::InvalidObject { .. }), "{error:?}");
    assert!(text.starts_with("invalid Route \"shop/bad\": ["), "{text}");
    assert!(text.contains("spec.path: Invalid value: \"api\": path must begin with /"), "{text}");
    assert!(text.contains("spec.to.weight: Invalid value: 300"), "{text}");
    assert_eq!(store.read(|tx| list_routes(tx, None)).unwrap(), vec![]);
    assert_eq!(store.read(|tx| tx.revision()).unwrap(), 0, "nothing was written");
}

#[test]
fn updates_follow_the_api_servers_rules() {
    let (_dir, store) = store();
    let created = store.write(|tx| create_route(tx, route("web", ""), "apps.test")).unwrap();
    store.write(|tx| admit_routes(tx, &AdmissionConfig::default(), now())).unwrap();
    let admitted_once = get(&store, "web");

    // The same object again: nothing is written.
    let (same, action) = store.write(|tx| update_route(tx, route("web", ""))).unwrap();
    assert_eq!(action, WriteAction::Unchanged);
    assert_eq!(same, admitted_once);

    // An empty host keeps the generated one; a path changes the spec: generation 2; status kept.
    let mut with_path = route("web", "");
    with_path.spec.path = "/api".into();
    let (updated, action) = store.write(|tx| update_route(tx, with_path.clone())).unwrap();
    assert_eq!(action, WriteAction::Configured);
    assert_eq!(updated.spec.host, created.spec.host);
    assert_eq!(updated.metadata.annotations.get("openshift.io/host.generated").map(String::as_str), Some("true"));
    assert_eq!(updated.metadata.generation, 2);
    assert_eq!(updated.metadata.uid, created.metadata.uid);
    assert_eq!(updated.metadata.creation_timestamp, created.metadata.creation_timestamp);
    assert_eq!(updated.status, admitted_once.status, "an update keeps the router's status");

    // A label changes the object, not the spec: generation stays.
    let mut labelled = with_path.clone();
    labelled.metadata.labels.insert("team".into(), "a".into());
    let (labelled, _) = store.write(|tx| update_route(tx, labelled.clone())).unwrap();
    assert_eq!(labelled.metadata.generation, 2);

    // A new host is the user's: no longer marked generated.
    let mut moved = with_path.clone();
    moved.spec.host = "www.example.com".into();
    let (moved, _) = store.write(|tx| update_route(tx, moved.clone())).unwrap();
    assert!(!moved.metadata.annotations.contains_key("openshift.io/host.generated"));
    assert_eq!(moved.metadata.generation, 3);

    // The update rules: wildcardPolicy is immutable.
    let mut wildcard = moved.clone();
    wildcard.spec.wildcard_policy = WildcardPolicy::Subdomain;
    let error = store.write(|tx| update_route(tx, wildcard.clone())).unwrap_err().to_string();
    assert!(error.contains("spec.wildcardPolicy: Invalid value: \"Subdomain\": field is immutable"), "{error}");

    // A stale resourceVersion is a conflict.
    let mut stale = moved.clone();
    stale.metadata.resource_version = created.metadata.resource_version.clone();
    stale.spec.path = "/other".into();
    let error = store.write(|tx| update_route(tx, stale.clone())).unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
    assert_eq!(get(&store, "web"), moved);
}

#[test]
fn a_status_write_touches_nothing_else() {
    let (_dir, store) = store();
    let created = store.write(|tx| create_route(tx, route("web", "www.example.com"), "apps.test")).unwrap();
    let mut sent = created.clone();
    sent.spec.path = "/sneaky".into();
    sent.metadata.generation = 9;
    sent.metadata.labels.insert("sneaky".into(), "yes".into());
    sent.status.ingress.push(s2i_route::route::RouteIngress {
        host: "www.example.com".into(),
        router_name: "default".into(),
        ..Default::default()
    });
    let written = store.write(|tx| write_route_status(tx, &sent)).unwrap();
    assert_eq!(written.status, sent.status);
    assert_eq!(written.spec, created.spec);
    assert_eq!(written.metadata.generation, 1);
    assert!(written.metadata.labels.is_empty());
    assert_ne!(written.metadata.resource_version, created.metadata.resource_version);

    // Based on an old version: a conflict.
    let error = store.write(|tx| write_route_status(tx, &sent)).unwrap_err();
    assert!(matches!(error, StoreError::Conflict { .. }), "{error:?}");
}

#[test]
fn admission_reads_the_store_oldest_first_and_follows_deletes() {
    let (_dir, store) = store();
    let config = AdmissionConfig::default();
    // Created in this order within one second: the store's uids break the tie.
    for name in ["first", "second", "third"] {
        store.write(|tx| create_route(tx, route(name, "www.example.com"), "apps.test")).unwrap();
    }
    let mut other_path = route("api", "www.example.com");
    other_path.spec.path = "/api".into();
    store.write(|tx| create_route(tx, other_path.clone(), "apps.test")).unwrap();
    let admission = store.write(|tx| admit_routes(tx, &config, now())).unwrap();
    assert_eq!(admission.admitted.len(), 2);
    assert_eq!(admitted(&get(&store, "first")), (ConditionStatus::True, String::new(), String::new()));
    assert_eq!(admitted(&get(&store, "api")).0, ConditionStatus::True, "another path of the same host");
    for name in ["second", "third"] {
        assert_eq!(
            admitted(&get(&store, name)),
            (
                ConditionStatus::False,
                "HostAlreadyClaimed".into(),
                "route first already exposes www.example.com and is older".into()
            )
        );
    }

    // Unchanged outcomes are not written again.
    let revision = store.read(|tx| tx.revision()).unwrap();
    store.write(|tx| admit_routes(tx, &config, now())).unwrap();
    assert_eq!(store.read(|tx| tx.revision()).unwrap(), revision);

    // The holder goes away: the next oldest takes the host.
    store.write(|tx| delete_route(tx, "shop", "first")).unwrap();
    store.write(|tx| admit_routes(tx, &config, now())).unwrap();
    assert_eq!(admitted(&get(&store, "second")).0, ConditionStatus::True);
    assert_eq!(admitted(&get(&store, "third")).2, "route second already exposes www.example.com and is older");
    let error = store.write(|tx| delete_route(tx, "shop", "first")).unwrap_err();
    assert!(matches!(error, StoreError::NotFound { .. }), "{error:?}");
}

#[test]
fn services_are_validated_and_updated_in_place() {
    let (_dir, store) = store();
    let service = Service::new(
        ObjectMeta::named("shop", "web"),
        ServiceSpec { ports: vec![ServicePort::new("http", 80, Some(8080))], ..Default::default() },
    );
    let (created, action) = store.write(|tx| apply_service(tx, service.clone())).unwrap();
    assert_eq!(action, WriteAction::Created);
    assert!(!created.metadata.uid.is_empty());
    let (_, action) = store.write(|tx| apply_service(tx, service.clone())).unwrap();
    assert_eq!(action, WriteAction::Unchanged);
    let mut moved = service.clone();
    moved.spec.ports[0].target_port = Some(TargetPort::Number(9090));
    let (updated, action) = store.write(|tx| apply_service(tx, moved.clone())).unwrap();
    assert_eq!(action, WriteAction::Configured);
    assert_eq!(updated.metadata.uid, created.metadata.uid);
    assert_eq!(updated.spec.ports[0].target_number(), Some(9090));

    let mut both = service.clone();
    both.metadata.name = "both".into();
    both.spec.selector.insert("app".into(), "web".into());
    let error = store
        .write(|tx| create_service_with_endpoints(tx, both.clone(), &[Endpoint::new("127.0.0.1", 8080)]))
        .unwrap_err()
        .to_string();
    assert!(error.contains("a service with a selector takes its endpoints from its containers"), "{error}");

    let mut to_two = route("ab", "ab.example.com");
    to_two.spec.alternate_backends.push(RouteTargetReference::service("missing", 1));
    let missing = store.read(|tx| missing_services(tx, &to_two)).unwrap();
    assert_eq!(missing, ["missing"]);
    store.write(|tx| delete_service(tx, "shop", "web")).unwrap();
    assert_eq!(store.read(|tx| missing_services(tx, &to_two)).unwrap(), ["web", "missing"]);
}

#[test]
fn a_route_created_for_services_needs_them_and_is_admitted() {
    let (_dir, store) = store();
    let mut config = AdmissionConfig::default();
    config.router_domain = "apps.test".into();
    let mut asked = route("ab", "");
    asked.spec.alternate_backends.push(RouteTargetReference::service("web-v2", 50));
    let error = store.write(|tx| create_route_to_services(tx, asked.clone(), &config, now())).unwrap_err();
    let StoreError::NotFound { kind, name, .. } = &error else { panic!("{error:?}") };
    assert_eq!((kind.as_str(), name.as_str()), ("Service", "web"), "the first service that is missing");
    assert!(store.read(|tx| get_route(tx, "shop", "ab")).unwrap().is_none(), "nothing was written");

    for name in ["web", "web-v2"] {
        let service = Service::new(
            ObjectMeta::named("shop", name),
            ServiceSpec { ports: vec![ServicePort::new("http", 80, Some(8080))], ..Default::default() },
        );
        store.write(|tx| create_service(tx, service.clone())).unwrap();
    }
    let (created, admission) = store.write(|tx| create_route_to_services(tx, asked.clone(), &config, now())).unwrap();
    assert_eq!(created.spec.host, "ab-shop.apps.test");
    assert!(admission.outcome(&created.key()).is_some_and(|outcome| outcome.rejection.is_none()));
    assert_eq!(admitted(&get(&store, "ab")).0, ConditionStatus::True, "the admission is written");

    let web = store.read(|tx| get_service(tx, "shop", "web-v2")).unwrap().unwrap();
    let routes = store.read(|tx| routes_to_service(tx, &web)).unwrap();
    assert_eq!(routes.iter().map(|r| r.metadata.name.as_str()).collect::<Vec<_>>(), ["ab"], "alternates count");
}

#[test]
fn an_exposed_service_gets_the_route_oc_expose_makes() {
    let mut metadata = ObjectMeta::named("shop", "web");
    metadata.labels.insert("app".into(), "web".into());
    let named = Service::new(
        metadata.clone(),
        ServiceSpec { ports: vec![ServicePort::new("http", 80, Some(8080))], ..Default::default() },
    );
    let route = named.exposed_as("front");
    assert_eq!((route.metadata.namespace.as_str(), route.metadata.name.as_str()), ("shop", "front"));
    assert_eq!(route.metadata.labels, metadata.labels, "the service's labels");
    assert_eq!(route.spec.to, RouteTargetReference::service("web", 100));
    assert_eq!(route.spec.port, Some(RoutePort { target_port: TargetPort::Name("http".into()) }), "the port's name");

    let mut unnamed = named.clone();
    unnamed.spec.ports[0].name.clear();
    assert_eq!(unnamed.route_port(), Some(RoutePort { target_port: TargetPort::Number(8080) }), "the target port");
    unnamed.spec.ports[0].target_port = None;
    assert_eq!(unnamed.route_port(), Some(RoutePort { target_port: TargetPort::Number(80) }), "else the port");
    unnamed.spec.ports.clear();
    assert_eq!(unnamed.exposed_as("x").spec.port, None, "every port");
}
