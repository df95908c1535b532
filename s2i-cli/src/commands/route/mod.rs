//! Routes: the `route` kind of the object verbs (`kind`), `s2i route create`
//! and `s2i expose` (`create`), `s2i route render` and `export` (`files`),
//! `s2i route serve` (`serve`), and what they share about this machine's
//! router (`router`). The rules (host generation, validation, update rules,
//! admission, HAProxy) are `s2i-route`'s; these modules turn flags into
//! objects and results into lines.

mod create;
mod files;
pub(crate) mod kind;
mod router;
mod serve;

pub(crate) use create::expose;

use super::kind::Kinds;
use crate::cli::{GlobalArgs, RouteCommand};
use crate::failure::Failure;

/// `s2i route …`; files are read as documents of `kinds`.
pub(crate) async fn run(global: &GlobalArgs, command: RouteCommand, kinds: &Kinds) -> Result<i32, Failure> {
    match command {
        RouteCommand::Create(args) => create::create(global, args),
        RouteCommand::Serve(args) => serve::serve(global, args).await,
        RouteCommand::Render(args) => files::render_routes(global, args, kinds).await,
        RouteCommand::Export(args) => files::export(global, args, kinds),
    }
}
