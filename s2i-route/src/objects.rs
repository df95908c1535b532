//! Routes and services read from YAML (or JSON) text: one object per
//! document, or `List`s of them, as `oc get -o yaml` writes them.

use serde::de::Deserialize;

use crate::error::Error;
use crate::route::{ROUTE_API_VERSION, ROUTE_KIND, Route};
use crate::service::{SERVICE_API_VERSION, Service};

/// The objects of a set of documents.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Objects {
    /// The routes, in the order read.
    pub routes: Vec<Route>,
    /// The services, in the order read.
    pub services: Vec<Service>,
    /// Where each object came from (`file`, document index), parallel to
    /// routes then services, for messages.
    origins: Vec<(String, String)>,
}

impl Objects {
    /// Reads every document of `text`; `source_name` names the text in errors.
    /// Objects without a namespace get `default_namespace`. An object defined
    /// twice (in this text or an earlier one) is an error.
    pub fn read(&mut self, text: &str, source_name: &str, default_namespace: &str) -> Result<(), Error> {
        for (index, document) in serde_norway::Deserializer::from_str(text).enumerate() {
            let index = index + 1;
            let document_error =
                |message: String| Error::Document { source_name: source_name.to_owned(), index, message };
            let value = serde_norway::Value::deserialize(document).map_err(|err| document_error(err.to_string()))?;
            if value.is_null() {
                continue;
            }
            let origin = format!("{source_name} document {index}");
            self.read_value(value, &origin, default_namespace).map_err(document_error)?;
        }
        Ok(())
    }

    fn read_value(&mut self, value: serde_norway::Value, origin: &str, default_namespace: &str) -> Result<(), String> {
        let text = |key: &str| value.get(key).and_then(serde_norway::Value::as_str).unwrap_or("").to_owned();
        let (api_version, kind) = (text("apiVersion"), text("kind"));
        match (api_version.as_str(), kind.as_str()) {
            (_, "List" | "RouteList" | "ServiceList") => {
                let items = value.get("items").and_then(serde_norway::Value::as_sequence).cloned().unwrap_or_default();
                for (position, item) in items.into_iter().enumerate() {
                    self.read_value(item, &format!("{origin} item {}", position + 1), default_namespace)
                        .map_err(|message| format!("items[{position}]: {message}"))?;
                }
                Ok(())
            }
            (ROUTE_API_VERSION, ROUTE_KIND) => {
                let mut route: Route = serde_norway::from_value(value).map_err(|err| format!("Route: {err}"))?;
                if route.metadata.namespace.is_empty() {
                    route.metadata.namespace = default_namespace.to_owned();
                }
                self.check_unique("Route", &route.key().to_string(), origin)?;
                self.routes.push(route);
                Ok(())
            }
            (SERVICE_API_VERSION, "Service") => {
                let mut service: Service = serde_norway::from_value(value).map_err(|err| format!("Service: {err}"))?;
                if service.metadata.namespace.is_empty() {
                    service.metadata.namespace = default_namespace.to_owned();
                }
                self.check_unique("Service", &service.key().to_string(), origin)?;
                self.services.push(service);
                Ok(())
            }
            ("", "") => Err("apiVersion and kind are missing".to_owned()),
            (api_version, kind) => Err(format!(
                "apiVersion {api_version:?} kind {kind:?} is neither a Route ({ROUTE_API_VERSION}) nor a Service ({SERVICE_API_VERSION})"
            )),
        }
    }

    fn check_unique(&mut self, kind: &'static str, key: &str, origin: &str) -> Result<(), String> {
        let id = format!("{kind} {key}");
        if let Some((_, first)) = self.origins.iter().find(|(existing, _)| *existing == id) {
            return Err(Error::DuplicateObject {
                kind,
                key: key.to_owned(),
                first: first.clone(),
                second: origin.to_owned(),
            }
            .to_string());
        }
        self.origins.push((id, origin.to_owned()));
        Ok(())
    }

    /// A route by namespace and name.
    pub fn route(&self, namespace: &str, name: &str) -> Option<&Route> {
        self.routes.iter().find(|route| route.metadata.namespace == namespace && route.metadata.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_lists_and_defaults() {
        let text = r#"
apiVersion: route.openshift.io/v1
kind: Route
metadata: {name: web}
spec: {to: {name: web}}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: web, namespace: shop}
  spec:
    endpoints: ["127.0.0.1:8080"]
---
"#;
        let mut objects = Objects::default();
        objects.read(text, "app.yaml", "dev").unwrap();
        assert_eq!(objects.routes.len(), 1);
        assert_eq!(objects.routes[0].metadata.namespace, "dev");
        assert_eq!(objects.routes[0].spec.to.weight, 100, "defaulted on read");
        assert_eq!(objects.services[0].spec.endpoints[0].to_string(), "127.0.0.1:8080");
        assert!(objects.route("dev", "web").is_some());
    }

    #[test]
    fn errors_name_the_file_the_document_and_the_field() {
        // (text, part of the message)
        let table = [
            (
                "kind: Deployment\napiVersion: apps/v1\n",
                "document 1: apiVersion \"apps/v1\" kind \"Deployment\" is neither",
            ),
            ("metadata: {name: x}\n", "document 1: apiVersion and kind are missing"),
            (
                "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: x}\nspec: {to: {name: a}, tls: {termination: bogus}}\n",
                "Unsupported value: \"bogus\": supported values: \"edge\", \"passthrough\", \"reencrypt\"",
            ),
            (
                "apiVersion: route.openshift.io/v1\nkind: Route\nmetadata: {name: x}\nspec: {to: {name: a}, hots: a.b}\n",
                "unknown field `hots`",
            ),
            (
                "apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {endpoints: [\"nowhere\"]}\n",
                "invalid endpoint \"nowhere\": it has no :PORT",
            ),
            ("---\n---\na: [\n", "document 2: did not find expected node content at line 4"),
        ];
        for (text, needle) in table {
            let error = Objects::default().read(text, "in.yaml", "default").unwrap_err().to_string();
            assert!(error.starts_with("in.yaml: document"), "{error}");
            assert!(error.contains(needle), "{needle}: {error}");
        }
    }

    #[test]
    fn an_object_defined_twice_is_an_error() {
        let text = "apiVersion: v1\nkind: Service\nmetadata: {name: x}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: x}\n";
        let error = Objects::default().read(text, "s.yaml", "default").unwrap_err().to_string();
        assert!(
            error.contains("Service default/x is defined twice (in s.yaml document 1 and in s.yaml document 2)"),
            "{error}"
        );
    }
}
