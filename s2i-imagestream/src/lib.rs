//! Image streams (filled in by the image-streams issue).
