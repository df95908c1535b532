//! Scenarios of `s2i tag`: one process on a big store, and tagging a 1 GB
//! image against a 1 KB one (a tag is metadata: the image's size must not
//! matter).
//!
//! The store is seeded through the library in one transaction: 1,000 streams
//! of 100 history items each (and their 100,000 image records), so seeding
//! takes seconds, not 100,000 processes.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use s2i_imagestream::types::{
    API_VERSION, Image, ImageStream, ImageStreamStatus, NamedTagEventList, TagEvent, TagReference,
};
use s2i_store::{ObjectMeta, STORE_FILE, Store};

use super::{Bench, Figure, Unit, median};
use crate::cmd;

/// Streams in the seeded store.
const STREAMS: usize = 1_000;
/// History items per stream.
const ITEMS: usize = 100;
/// The namespace of the bench's streams (and of the engine tags it makes).
const NAMESPACE: &str = "xtask-bench";
/// Target for one `s2i tag` process.
const TAG_TARGET_SECONDS: f64 = 0.030;
/// The images of the size scenario.
const BIG_IMAGE: &str = "bench/tag-1gb:latest";
const SMALL_IMAGE: &str = "bench/tag-1kb:latest";
const GIB: u64 = 1 << 30;

fn digest(stream: usize, item: usize) -> String {
    format!("sha256:{:0>64}", format!("{stream:x}{item:04x}"))
}

/// Seed a fresh store in `dir`: STREAMS streams × ITEMS history items, in one transaction.
fn seed(dir: &Path) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    let started = Instant::now();
    let store = Store::open(dir)?;
    let now = s2i_store::timestamp::format(&s2i_store::timestamp::now());
    store.write(|tx| {
        for s in 0..STREAMS {
            let name = format!("s-{s:04}");
            let mut stream = ImageStream::new(NAMESPACE, &name);
            stream.metadata.generation = 1;
            stream.spec.tags =
                vec![TagReference { name: "dev".into(), generation: Some(1), ..TagReference::default() }];
            let repository = stream.repository();
            let items = (0..ITEMS)
                .rev()
                .map(|i| TagEvent {
                    created: now.clone(),
                    docker_image_reference: format!("{repository}@{}", digest(s, i)),
                    image: digest(s, i),
                    generation: 1,
                })
                .collect();
            stream.status = ImageStreamStatus {
                docker_image_repository: repository.clone(),
                tags: vec![NamedTagEventList { tag: "dev".into(), items, conditions: Vec::new() }],
                ..ImageStreamStatus::default()
            };
            tx.put_as(&stream)?;
            for i in 0..ITEMS {
                let image = Image {
                    api_version: API_VERSION.into(),
                    kind: "Image".into(),
                    metadata: ObjectMeta::named("", digest(s, i)),
                    docker_image_reference: format!("{repository}@{}", digest(s, i)),
                    ..Image::default()
                };
                tx.create("Image", "", &image.metadata.name, serde_json::to_value(&image).expect("plain data"))?;
            }
        }
        Ok::<_, s2i_imagestream::Error>(())
    })?;
    let size = std::fs::metadata(dir.join(STORE_FILE))?.len();
    println!(
        "bench: seeded {STREAMS} streams x {ITEMS} history items ({} objects, {:.1} MB) in {}",
        STREAMS * (ITEMS + 1),
        size as f64 / 1e6,
        cmd::human(started.elapsed())
    );
    Ok(())
}

/// Run `s2i tag ARGS` on the store; its wall time in seconds.
fn time_tag(bench: &Bench, store: &Path, args: &[&str]) -> Result<f64> {
    let mut tag = Command::new(bench.s2i.as_ref().context("the release s2i was not built")?);
    tag.arg("tag").args(args).env("S2I_STORE", store).env("S2I_NAMESPACE", NAMESPACE);
    tag.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::piped());
    let shown = cmd::display(&tag);
    let started = Instant::now();
    let output = tag.output().with_context(|| format!("cannot run `{shown}`"))?;
    let wall = started.elapsed().as_secs_f64();
    if !output.status.success() {
        bail!("`{shown}` failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    if !output.stderr.is_empty() {
        bail!("`{shown}` warned, so it did not do the whole job: {}", String::from_utf8_lossy(&output.stderr));
    }
    Ok(wall)
}

/// Removes the engine tags and images of the tag scenarios, however they end.
struct TagCleanup {
    images: Vec<String>,
}

impl Drop for TagCleanup {
    fn drop(&mut self) {
        let prefix = format!("{NAMESPACE}/");
        if let Ok(listed) = cmd::stdout(cmd::docker().args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}"])) {
            for tag in listed.lines().filter(|line| line.starts_with(&prefix)) {
                cmd::succeeds(cmd::docker().args(["image", "rm", tag]));
            }
        }
        for image in &self.images {
            cmd::succeeds(cmd::docker().args(["image", "rm", image]));
        }
    }
}

/// One `s2i tag` process on the seeded store: promote/roll back between two
/// real images of a stream, so every run changes the tag, writes its event
/// and moves the engine tag.
pub(super) fn store(bench: &Bench) -> Result<Vec<Figure>> {
    let store = bench.dir.join("tag-store");
    seed(&store)?;
    let _cleanup = TagCleanup { images: Vec::new() };
    let a = "s2i-fixtures/base:latest";
    let b = "s2i-fixtures/busybox-builder:latest";
    time_tag(bench, &store, &["--source=docker", a, "target:a"])?;
    time_tag(bench, &store, &["--source=docker", b, "target:b"])?;
    let measured = if bench.quick { 5 } else { 21 };
    let mut walls = Vec::new();
    for run in 0..=measured {
        let source = if run % 2 == 0 { "target:a" } else { "target:b" };
        let wall = time_tag(bench, &store, &[source, "target:prod"])?;
        let warm_up = if run == 0 { " (warm-up, discarded)" } else { "" };
        println!("bench: tag-store run {run}{warm_up}: s2i tag {source} target:prod {:.1} ms", wall * 1e3);
        if run > 0 {
            walls.push(wall);
        }
    }
    let prod = cmd::stdout(cmd::docker().args([
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        &format!("{NAMESPACE}/target:prod"),
    ]))?;
    let expected = cmd::stdout(cmd::docker().args([
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        if measured % 2 == 0 { a } else { b },
    ]))?;
    if prod.trim() != expected.trim() {
        bail!("the engine tag {NAMESPACE}/target:prod is {}, the stream says {}", prod.trim(), expected.trim());
    }
    Ok(vec![Figure::new(
        format!("tag-store: one s2i tag, {STREAMS} streams x {ITEMS} items, median"),
        median(walls),
        Unit::Seconds,
        Some(TAG_TARGET_SECONDS),
    )])
}

/// Import an image with one file of `size` bytes (zeros) into the engine as `name`.
fn make_image(name: &str, size: u64) -> Result<()> {
    let started = Instant::now();
    let mut import = cmd::docker();
    import.args(["import", "-", name]).stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = import.spawn().context("cannot run `docker import`")?;
    {
        let stdin = child.stdin.take().context("docker import has no stdin")?;
        let mut builder = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, stdin));
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        builder.append_data(&mut header, "payload", std::io::repeat(0).take(size))?;
        builder.into_inner()?.flush()?;
    }
    let output = child.wait_with_output()?;
    if !output.status.success() {
        bail!("`docker import - {name}` failed: {}", String::from_utf8_lossy(&output.stderr));
    }
    println!("bench: made {name} ({:.1} MB) in {}", size as f64 / 1e6, cmd::human(started.elapsed()));
    Ok(())
}

/// Tag a 1 GB image and a 1 KB one, alternately, on the seeded store: the medians and their ratio.
pub(super) fn image_size(bench: &Bench) -> Result<Vec<Figure>> {
    let store = bench.dir.join("tag-store");
    if !store.join(STORE_FILE).is_file() {
        seed(&store)?;
    }
    let _cleanup = TagCleanup { images: vec![BIG_IMAGE.to_owned(), SMALL_IMAGE.to_owned()] };
    make_image(BIG_IMAGE, GIB)?;
    make_image(SMALL_IMAGE, 1024)?;
    let measured = if bench.quick { 5 } else { 15 };
    let (mut big, mut small) = (Vec::new(), Vec::new());
    for run in 0..=measured {
        let big_wall = time_tag(bench, &store, &["--source=docker", BIG_IMAGE, &format!("sizes:big-{run}")])?;
        let small_wall = time_tag(bench, &store, &["--source=docker", SMALL_IMAGE, &format!("sizes:small-{run}")])?;
        let warm_up = if run == 0 { " (warm-up, discarded)" } else { "" };
        println!("bench: tag-size run {run}{warm_up}: 1 GB {:.1} ms, 1 KB {:.1} ms", big_wall * 1e3, small_wall * 1e3);
        if run > 0 {
            big.push(big_wall);
            small.push(small_wall);
        }
    }
    let (big, small) = (median(big), median(small));
    Ok(vec![
        Figure::new("tag-size: s2i tag of a 1 GB image, median".into(), big, Unit::Seconds, Some(TAG_TARGET_SECONDS)),
        Figure::new("tag-size: s2i tag of a 1 KB image, median".into(), small, Unit::Seconds, Some(TAG_TARGET_SECONDS)),
        Figure::new("tag-size: time ratio 1 GB / 1 KB".into(), big / small, Unit::Ratio, Some(1.5)),
    ])
}
