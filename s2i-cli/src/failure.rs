//! How a command fails: a report to print and the exit code it maps to.
//! Library errors become failures in `hints`, which words their help for
//! this command line.

use miette::Diagnostic;

/// A failure, with the process exit code it maps to.
pub(crate) struct Failure {
    pub(crate) report: miette::Report,
    pub(crate) code: i32,
}

impl Failure {
    /// `error` as it is, exiting with `code`.
    pub(crate) fn new<E: Diagnostic + Send + Sync + 'static>(error: E, code: i32) -> Self {
        Self { report: miette::Report::new(error), code }
    }

    /// A failure that is a bug of s2i.
    pub(crate) fn internal(message: &str) -> Self {
        Self { report: miette::miette!(help = "this is a bug in s2i; please report it", "{message}"), code: 1 }
    }

    /// A failure of the command line itself (exit code 1): what is wrong and what to do.
    pub(crate) fn message(message: String, help: String) -> Self {
        Self::new(CommandError { message, help }, 1)
    }

    /// Whether a library said the object asked for does not exist (by the
    /// stable codes of their "not found" errors).
    pub(crate) fn is_not_found(&self) -> bool {
        const NOT_FOUND: [&str; 3] = ["s2i::not_found", "s2i_buildconfig::not_found", "s2i::route::not_found"];
        self.report.code().is_some_and(|code| NOT_FOUND.contains(&code.to_string().as_str()))
    }

    /// `error` with this command line's `help` in place of its own, exiting with `code`.
    pub(crate) fn with_help<E: Diagnostic + Send + Sync + 'static>(error: E, help: String, code: i32) -> Self {
        Self::new(WithHelp { error, help }, code)
    }
}

/// A request the command line refuses before any library is involved.
#[derive(Debug, thiserror::Error, Diagnostic)]
#[error("{message}")]
#[diagnostic(code(s2i::command), help("{help}"))]
struct CommandError {
    message: String,
    help: String,
}

/// A library's error with the command line's own help line.
#[derive(Debug)]
struct WithHelp<E> {
    error: E,
    help: String,
}

impl<E: std::fmt::Display> std::fmt::Display for WithHelp<E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.error.fmt(f)
    }
}

impl<E: std::error::Error + 'static> std::error::Error for WithHelp<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.source()
    }
}

impl<E: Diagnostic + 'static> Diagnostic for WithHelp<E> {
    fn code<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        self.error.code()
    }

    fn help<'a>(&'a self) -> Option<Box<dyn std::fmt::Display + 'a>> {
        Some(Box::new(&self.help))
    }

    fn source_code(&self) -> Option<&dyn miette::SourceCode> {
        self.error.source_code()
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = miette::LabeledSpan> + '_>> {
        self.error.labels()
    }
}
