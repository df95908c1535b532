//! Archives stream: 200 MB through stdin, upload and download stay far below
//! the project's 64 MiB RSS budget. Alone in its binary so the measurement is
//! not disturbed by other tests.

mod common;

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use s2i_core::runtime::{ByteStream, ContainerRuntime};

use common::{ContainerGuard, TestImage, generated_stream, run, runtime, shell_spec};

const SIZE: usize = 200 * 1024 * 1024;
const RSS_LIMIT_KIB: u64 = 64 * 1024;

/// Peak resident set size of this process, in KiB.
fn peak_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM in /proc/self/status")
}

/// A tar with one file `big` of `size` bytes, generated as it is read.
fn tar_stream(size: usize) -> ByteStream {
    let mut header = tar::Header::new_gnu();
    header.set_path("big").unwrap();
    header.set_size(size as u64);
    header.set_mode(0o644);
    header.set_cksum();
    let head = futures::stream::once(async move { Ok(Bytes::copy_from_slice(header.as_bytes())) });
    let padding = (512 - size % 512) % 512;
    let tail = futures::stream::once(async move { Ok(Bytes::from(vec![0u8; padding + 1024])) });
    Box::pin(head.chain(generated_stream(size)).chain(tail))
}

#[tokio::test(flavor = "multi_thread")]
async fn large_archives_stream_without_buffering() {
    let runtime = runtime().await;
    let image = TestImage::import();

    // Through attach stdin.
    let spec = shell_spec(&image.name, "wc -c", true);
    let (_container, status, stdout, _) =
        tokio::time::timeout(Duration::from_secs(300), run(&runtime, &spec, Some(generated_stream(SIZE))))
            .await
            .expect("wc -c ends");
    assert_eq!(status.code, 0);
    assert_eq!(String::from_utf8_lossy(&stdout).trim(), SIZE.to_string());

    // Upload, then download.
    let spec = shell_spec(&image.name, "true", false);
    let id = runtime.create_container(&spec).await.unwrap();
    let _container = ContainerGuard(id.clone());
    runtime.upload_archive(&id, "/tmp", tar_stream(SIZE)).await.unwrap();
    let mut archive = runtime.download_archive(&id, "/tmp/big").await.unwrap().expect("the uploaded file");
    let mut total = 0usize;
    while let Some(chunk) = archive.next().await {
        total += chunk.unwrap().len();
    }
    assert!(total > SIZE, "the archive holds the whole file: {total} bytes");

    let peak = peak_rss_kib();
    assert!(peak < RSS_LIMIT_KIB, "peak RSS {peak} KiB is over {RSS_LIMIT_KIB} KiB");
}
