//! `s2i create`.

use crate::cli::CreateArgs;
use crate::failure::Failure;

pub(crate) fn create(args: CreateArgs) -> Result<i32, Failure> {
    let files = s2i_core::skeleton::create(&args.image_name, &args.from, &args.destination)?;
    for file in files {
        eprintln!("created {}", file.display());
    }
    Ok(0)
}
