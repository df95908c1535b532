//! Routes (filled in by the routes issue).
