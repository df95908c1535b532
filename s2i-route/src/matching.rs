//! Which route serves a request, answered from data rather than by HAProxy:
//! the same decisions the map files encode (docs/compatibility.md#map-files-and-matching).
//!
//! On the HTTP port the redirect map is consulted first (every route, `1` for
//! `insecureEdgeTerminationPolicy: Redirect`), then the HTTP map (plain
//! routes, and edge/reencrypt routes that `Allow` HTTP). On the HTTPS port a
//! passthrough route is chosen by SNI; otherwise TLS is terminated and an
//! edge or reencrypt route is chosen by the `Host` header. In each map exact
//! hosts come before wildcard hosts, and for one host the longest matching
//! path prefix wins, on segment boundaries (`/foo` serves `/foo` and
//! `/foo/bar`, not `/foobar`; `/foo/` does not serve `/foo`).

use std::collections::HashMap;

use crate::admission::AdmittedRoute;
use crate::haproxy::backend_name;
use crate::haproxy::maps::path_regex;
use crate::host::normalize_request_host;
use crate::route::{InsecureEdgeTerminationPolicy, TlsTermination};
use s2i_store::ObjectKey;

/// A route as the matcher sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteEntry {
    /// `namespace/name`.
    pub key: ObjectKey,
    /// The host it is served at.
    pub host: String,
    /// Its path prefix.
    pub path: String,
    /// Whether it serves sibling hosts too.
    pub wildcard: bool,
    /// Its TLS termination.
    pub termination: Option<TlsTermination>,
    /// Its plain-HTTP policy.
    pub insecure_policy: InsecureEdgeTerminationPolicy,
    /// Its services and their weights (`to` first).
    pub backends: Vec<WeightedBackend>,
}

/// A service of a route and its weight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WeightedBackend {
    /// Service name (in the route's namespace).
    pub service: String,
    /// Weight, 0 to 256.
    pub weight: i32,
}

impl RouteEntry {
    /// Each service's share of new traffic (weight over the sum of weights);
    /// all zero when every weight is 0 (the route answers 503).
    pub fn traffic_shares(&self) -> Vec<(String, f64)> {
        let total: i32 = self.backends.iter().map(|backend| backend.weight.max(0)).sum();
        self.backends
            .iter()
            .map(|backend| {
                let share = if total == 0 { 0.0 } else { f64::from(backend.weight.max(0)) / f64::from(total) };
                (backend.service.clone(), share)
            })
            .collect()
    }
}

/// What the HTTP port does with a request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HttpOutcome<'a> {
    /// A route serves it.
    Serve(&'a RouteEntry),
    /// `302` to the `https` URL (the route's policy is `Redirect`).
    Redirect(&'a RouteEntry),
    /// No route: `503`.
    NotFound,
}

/// What the HTTPS port does with a connection or request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum HttpsOutcome<'a> {
    /// The TLS stream goes to a passthrough route's endpoints, chosen by SNI.
    Passthrough(&'a RouteEntry),
    /// TLS ends at the router; an edge or reencrypt route serves the request.
    Terminate(&'a RouteEntry),
    /// No route: `503` after termination.
    NotFound,
}

/// How a route's path decides whether it matches a request path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum PathPattern {
    /// Empty or only slashes: every path.
    Any,
    /// Ends in `/`: paths that start with it.
    Directory(String),
    /// The path itself, or the path and more after a `/`.
    Segment(String),
}

impl PathPattern {
    fn new(path: &str) -> Self {
        if path.bytes().all(|byte| byte == b'/') {
            PathPattern::Any
        } else if path.ends_with('/') {
            PathPattern::Directory(path.to_owned())
        } else {
            PathPattern::Segment(path.to_owned())
        }
    }

    fn matches(&self, path: &str) -> bool {
        match self {
            PathPattern::Any => path.is_empty() || path.starts_with('/'),
            PathPattern::Directory(prefix) => path.starts_with(prefix.as_str()),
            PathPattern::Segment(prefix) => {
                path.strip_prefix(prefix.as_str()).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
            }
        }
    }
}

/// A line of a map: the path part of its key and its value (what orders
/// lines of one host), how the path matches, and the route.
type MapLine = (String, PathPattern, usize);

/// One map: per host, the routes in the map's order.
#[derive(Debug, Default)]
struct HostPathIndex {
    exact: HashMap<String, Vec<MapLine>>,
    wildcard: HashMap<String, Vec<MapLine>>,
}

impl HostPathIndex {
    /// Adds a route's line; `value` is what the map file says for it (two
    /// routes of a host with the same key, such as paths `""` and `/`, are
    /// ordered by it, as in the file).
    fn insert(&mut self, entry: &RouteEntry, value: &str, index: usize) {
        let (table, host) = if entry.wildcard {
            (&mut self.wildcard, crate::host::wildcard_key(&entry.host).to_owned())
        } else {
            (&mut self.exact, entry.host.clone())
        };
        let line = format!("{} {value}", path_regex(&entry.path));
        table.entry(host).or_default().push((line, PathPattern::new(&entry.path), index));
    }

    /// Puts each host's routes in the map files' order (reverse lexicographic by line).
    fn finish(&mut self) {
        for list in self.exact.values_mut().chain(self.wildcard.values_mut()) {
            list.sort_by(|a, b| b.0.cmp(&a.0));
        }
    }

    fn find(&self, host: &str, path: &str) -> Option<usize> {
        let first =
            |list: &Vec<MapLine>| list.iter().find(|(_, pattern, _)| pattern.matches(path)).map(|(_, _, index)| *index);
        if let Some(found) = self.exact.get(host).and_then(first) {
            return Some(found);
        }
        let (_, key) = host.split_once('.')?;
        self.wildcard.get(key).and_then(first)
    }
}

/// The admitted routes, indexed for lookups.
#[derive(Debug, Default)]
pub struct RouteTable {
    entries: Vec<RouteEntry>,
    redirect: HostPathIndex,
    http: HostPathIndex,
    terminated: HostPathIndex,
    passthrough: HostPathIndex,
}

impl RouteTable {
    /// Indexes admitted routes.
    pub fn new(admitted: &[AdmittedRoute]) -> Self {
        let mut table = RouteTable::default();
        for admitted in admitted {
            let route = &admitted.route;
            let entry = RouteEntry {
                key: route.key(),
                host: admitted.host.clone(),
                path: route.spec.path.clone(),
                wildcard: route.is_wildcard(),
                termination: route.termination(),
                insecure_policy: route.insecure_policy(),
                backends: route
                    .backends()
                    .map(|backend| WeightedBackend { service: backend.name.clone(), weight: backend.weight })
                    .collect(),
            };
            let index = table.entries.len();
            let backend = backend_name(admitted);
            let redirect = if entry.insecure_policy == InsecureEdgeTerminationPolicy::Redirect { "1" } else { "0" };
            table.redirect.insert(&entry, redirect, index);
            match entry.termination {
                None => table.http.insert(&entry, &backend, index),
                Some(TlsTermination::Edge | TlsTermination::Reencrypt) => {
                    table.terminated.insert(&entry, &backend, index);
                    if entry.insecure_policy == InsecureEdgeTerminationPolicy::Allow {
                        table.http.insert(&entry, &backend, index);
                    }
                }
                Some(TlsTermination::Passthrough) => table.passthrough.insert(&entry, &backend, index),
            }
            table.entries.push(entry);
        }
        for index in [&mut table.redirect, &mut table.http, &mut table.terminated, &mut table.passthrough] {
            index.finish();
        }
        table
    }

    /// The routes, in the order they were given.
    pub fn entries(&self) -> &[RouteEntry] {
        &self.entries
    }

    /// A request on the HTTP port: `host` as in the `Host` header (any case,
    /// with or without port), `path` with or without a query.
    pub fn http(&self, host: &str, path: &str) -> HttpOutcome<'_> {
        let host = normalize_request_host(host);
        let path = path.split_once('?').map_or(path, |(path, _)| path);
        if let Some(index) = self.redirect.find(&host, path)
            && self.entries[index].insecure_policy == InsecureEdgeTerminationPolicy::Redirect
        {
            return HttpOutcome::Redirect(&self.entries[index]);
        }
        match self.http.find(&host, path) {
            Some(index) => HttpOutcome::Serve(&self.entries[index]),
            None => HttpOutcome::NotFound,
        }
    }

    /// A connection on the HTTPS port with an SNI (if the client sent one)
    /// and, once terminated, a request with a `Host` header and a path.
    pub fn https(&self, sni: Option<&str>, host: &str, path: &str) -> HttpsOutcome<'_> {
        if let Some(sni) = sni.filter(|sni| !sni.is_empty())
            && let Some(index) = self.passthrough.find(&sni.to_ascii_lowercase(), "")
        {
            return HttpsOutcome::Passthrough(&self.entries[index]);
        }
        let host = normalize_request_host(host);
        let path = path.split_once('?').map_or(path, |(path, _)| path);
        match self.terminated.find(&host, path) {
            Some(index) => HttpsOutcome::Terminate(&self.entries[index]),
            None => HttpsOutcome::NotFound,
        }
    }
}
