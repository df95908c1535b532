//! `s2i route serve`: HAProxy on loopback for the routes of the store,
//! following their changes and the containers of selector services until
//! SIGINT or SIGTERM.

use std::sync::Arc;
use std::time::Duration;

use s2i_core::{CancellationToken, ContainerRuntime};
use s2i_route::haproxy::load_or_generate_default_certificate;
use s2i_route::router::{ReconcileAction, Router, RouterEvent, RouterOptions};
use s2i_route::serve::{StoreRouter, SyncReason, Synced};
use s2i_route::{InsecureEdgeTerminationPolicy, host};

use super::router::{check_ports, router_admission, router_config};
use crate::cli::{GlobalArgs, RouteServeArgs};
use crate::commands::engine::connect_engine;
use crate::commands::session::Context;
use crate::failure::Failure;
use crate::signals;

/// How often `s2i route serve` looks at the store and the containers.
const POLL_INTERVAL: Duration = Duration::from_millis(500);

/// `s2i route serve`: HAProxy on loopback following the store until SIGINT/SIGTERM.
pub(super) async fn serve(global: &GlobalArgs, args: RouteServeArgs) -> Result<i32, Failure> {
    check_ports(&args.ports)?;
    let context = Context::open(global)?;
    let domain = host::router_domain_from_env()?;
    let temporary = match &args.dir {
        Some(_) => None,
        None => Some(tempfile_dir()?),
    };
    let dir = args.dir.clone().unwrap_or_else(|| temporary.as_ref().expect("made above").path().to_owned());
    let config = router_config(&args.ports, load_or_generate_default_certificate(&dir, &domain)?);
    let (http, https, stats) = (config.http_port, config.https_port, args.ports.stats_port);
    let loglevel = global.loglevel;
    let events: s2i_route::router::RouterEvents = Arc::new(move |event| match event {
        RouterEvent::Output(line) if loglevel > 0 => eprintln!("haproxy: {line}"),
        RouterEvent::Output(_) => {}
        RouterEvent::Started { pid } => eprintln!("HAProxy started (pid {pid})"),
        RouterEvent::Reloaded => {}
        RouterEvent::Restarted { exit } => eprintln!("HAProxy had exited ({exit}); starting it again"),
        RouterEvent::Stopped => eprintln!("HAProxy stopped"),
    });
    let mut options = RouterOptions::new(dir.clone(), config);
    options.admission = router_admission(domain, &args.ports);
    let router = Router::new(options, events)?;
    // The engine is only needed for services with a selector; without one they have no endpoints.
    let runtime: Option<Arc<dyn ContainerRuntime>> = match connect_engine(global, None).await {
        Ok(runtime) => Some(runtime),
        Err(e) => {
            if loglevel > 0 {
                eprintln!("I: no container engine ({e}); services with a selector have no endpoints");
            }
            None
        }
    };
    let token = CancellationToken::new();
    let _signals = signals::install_for_server(token.clone(), "\nStopping the router...");
    let mut router = StoreRouter::new(router);
    eprintln!(
        "Serving the routes of {} on http://127.0.0.1:{http} and https://127.0.0.1:{https} (stats: http://127.0.0.1:{stats}/); Ctrl-C stops",
        context.store.dir().display()
    );
    eprintln!("Router directory: {}", dir.display());
    let result = serve_loop(&context, &mut router, runtime.as_deref(), &token, http, https).await;
    router.stop();
    drop(temporary);
    result.map(|()| {
        eprintln!("Stopped.");
        0
    })
}

fn tempfile_dir() -> Result<tempfile::TempDir, Failure> {
    tempfile::Builder::new().prefix("s2i-router-").tempdir().map_err(|e| {
        Failure::message(
            format!("cannot create a temporary router directory: {e}"),
            "give one with --dir DIR, or free space in the temporary directory ($TMPDIR)".into(),
        )
    })
}

async fn serve_loop(
    context: &Context,
    router: &mut StoreRouter,
    runtime: Option<&dyn ContainerRuntime>,
    token: &CancellationToken,
    http: u16,
    https: u16,
) -> Result<(), Failure> {
    let mut last_error: Option<String> = None;
    let mut last_endpoint_warnings: Vec<String> = Vec::new();
    let mut started = false;
    while !token.is_cancelled() {
        match router.sync(&context.store, runtime).await {
            Ok(Some(synced)) => {
                started = true;
                last_error = None;
                report_sync(&synced, http, https);
            }
            Ok(None) => {}
            // HAProxy never started: nothing to serve with, so say why and stop.
            Err(error) if !started => return Err(error.into()),
            Err(error) => {
                let text = error.to_string();
                if last_error.as_ref() != Some(&text) {
                    eprintln!("{:?}", miette::Report::new(error));
                    eprintln!("The previous configuration stays in effect.");
                    last_error = Some(text);
                }
            }
        }
        if router.endpoint_warnings() != last_endpoint_warnings {
            for warning in router.endpoint_warnings() {
                eprintln!("warning: {warning}");
            }
            last_endpoint_warnings = router.endpoint_warnings().to_vec();
        }
        tokio::select! {
            _ = token.cancelled() => {}
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
        }
    }
    Ok(())
}

/// What changed, the routes served with their URLs, and those not admitted.
fn report_sync(synced: &Synced, http: u16, https: u16) {
    let reconciled = &synced.reconciled;
    match reconciled.action {
        ReconcileAction::Unchanged if synced.statuses_written == 0 => return,
        ReconcileAction::Started => {}
        ReconcileAction::Reloaded => {
            let why = match synced.reason {
                SyncReason::EndpointsChanged => "endpoints changed",
                _ => "routes or services changed",
            };
            eprintln!("HAProxy reloaded: {why}");
        }
        ReconcileAction::Unchanged => {}
    }
    let admission = &reconciled.admission;
    eprintln!("Serving {} of {} route(s):", admission.admitted.len(), admission.outcomes.len());
    for admitted in &admission.admitted {
        let route = &admitted.route;
        let host = if route.is_wildcard() {
            format!("*.{}", host::wildcard_key(&admitted.host))
        } else {
            admitted.host.clone()
        };
        let path = if route.spec.path.is_empty() { "/" } else { route.spec.path.as_str() };
        let backends: Vec<&str> = route.backends().map(|b| b.name.as_str()).collect();
        let tls = route.termination().map(|t| format!(" ({t})")).unwrap_or_default();
        let url = match route.termination() {
            None => format!("http://{host}:{http}{path}"),
            Some(_) if route.insecure_policy() == InsecureEdgeTerminationPolicy::Allow => {
                format!("http(s)://{host}:{http}|{https}{path}")
            }
            Some(_) => format!("https://{host}:{https}{path}"),
        };
        eprintln!("  {url}  {} -> {}{tls}", route.key(), backends.join(", "));
    }
    for (key, outcome) in &admission.outcomes {
        if let Some(rejection) = &outcome.rejection {
            eprintln!("  not admitted: {key}: {}: {}", rejection.reason, rejection.message);
        }
    }
    for warning in &reconciled.warnings {
        eprintln!("warning: {warning}");
    }
}
