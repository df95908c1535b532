//! `s2i create`.

use crate::cli::CreateArgs;
use crate::failure::Failure;

pub(crate) fn create(args: CreateArgs) -> Result<i32, Failure> {
    let (Some(image_name), Some(destination)) = (&args.image_name, &args.destination) else {
        return Err(Failure::message(
            "s2i create needs IMAGE_NAME and DESTINATION".into(),
            "write s2i create IMAGE_NAME DESTINATION, or s2i create configmap NAME".into(),
        ));
    };
    let files = s2i_core::skeleton::create(image_name, &args.from, destination)?;
    for file in files {
        eprintln!("created {}", file.display());
    }
    Ok(0)
}
