//! Promotion by digest, as `s2i tag` and `oc tag` do it, with no engine or
//! registry: the bookkeeping of a pipeline that pushed its images itself.
//!
//! ```sh
//! cargo run -p s2i-imagestream --example tag [-- STORE_DIR]
//! ```
//!
//! Records three builds of `app:dev`, makes `app:latest` track `dev` (an
//! alias), promotes `dev` to `prod` (a snapshot by digest), rolls `prod` back
//! to the first build by a prefix of its digest, and prints every tag's
//! history and the stream as `oc get is app -o yaml` would show it. Without
//! `STORE_DIR` the store is a temporary directory, removed at the end.

// An example shows its result on the terminal.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;

use s2i_imagestream::streams::{self, ResolvedImage, StreamTag, TagRequest, TagSource};
use s2i_imagestream::{Image, ImageStream};
use s2i_store::codec::to_yaml;
use s2i_store::{ObjectMeta, Store};

const NAMESPACE: &str = "pipeline";

/// An image the pipeline pushed: named by its manifest digest.
fn pushed(build: u8) -> ResolvedImage {
    let digest = format!("sha256:{}", format!("{build:02x}").repeat(32));
    let image = Image { metadata: ObjectMeta::named("", digest.clone()), ..Image::default() };
    ResolvedImage { image, docker_image_reference: format!("registry.example.com/team/app@{digest}") }
}

/// `s2i tag SOURCE DESTINATION`, or with `alias`, `s2i tag --alias`.
fn tag_request(source: &str, destination: &str, alias: bool) -> s2i_imagestream::Result<TagRequest> {
    let mut request =
        TagRequest::new(TagSource::parse(source, None, NAMESPACE)?, vec![StreamTag::parse(destination, NAMESPACE)?]);
    request.alias = alias;
    Ok(request)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let temporary = tempfile::tempdir()?;
    let dir = std::env::args_os().nth(1).map_or_else(|| temporary.path().to_owned(), Into::into);
    let store = Store::open(&dir)?;
    let dev = StreamTag::parse("app:dev", NAMESPACE)?;
    let tag = |source: &str, destination: &str, alias: bool| -> Result<(), Box<dyn std::error::Error>> {
        let request = tag_request(source, destination, alias)?;
        // One transaction: the tag change and its event commit together.
        for outcome in store.write(|tx| streams::tag(tx, &request, &BTreeMap::new()))? {
            println!("{}", outcome.message);
        }
        Ok(())
    };

    // The first build, recorded as a push records it (status only); `latest` tracks `dev`.
    store.write(|tx| streams::record_image(tx, &dev, &pushed(1)))?;
    tag("app:dev", "app:latest", true)?;

    // Two more builds; `prod` gets a snapshot of the second.
    store.write(|tx| streams::record_image(tx, &dev, &pushed(2)))?;
    tag("app:dev", "app:prod", false)?;
    store.write(|tx| streams::record_image(tx, &dev, &pushed(3)))?;

    // The second build is bad: roll prod back to the first, by a digest prefix.
    tag("app@sha256:0101010101", "app:prod", false)?;

    let stream: ImageStream = store.read(|tx| tx.get_as(NAMESPACE, "app"))?.expect("the stream was created");
    for list in &stream.status.tags {
        println!("{}:", list.tag);
        for (index, item) in list.items.iter().enumerate() {
            let current = if index == 0 { '*' } else { ' ' };
            println!("  {current} {} (generation {})", item.docker_image_reference, item.generation);
        }
    }
    // What a consumer (a deployment, a build) pulls for prod.
    println!("prod resolves to {}", stream.resolve_pull_spec("prod").unwrap_or_default());
    print!("---\n{}", to_yaml(&stream)?);
    Ok(())
}
