//! The one writer of tables and descriptions: every kind's `get` table and
//! `describe` text, and the other tables commands print, are made here.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use s2i_store::ObjectMeta;

/// A time of an object as Kubernetes writes it, empty when there is none.
pub(crate) fn time_text(time: Option<jiff::Timestamp>) -> String {
    time.map(|time| s2i_store::timestamp::format(&time)).unwrap_or_default()
}

/// `text`, or `<none>` when it is empty (as `oc describe` shows it).
pub(crate) fn or_none(text: &str) -> String {
    if text.is_empty() { "<none>".into() } else { text.to_owned() }
}

/// `key=value` pairs joined by `separator`, or `<none>`.
pub(crate) fn pairs(map: &BTreeMap<String, String>, separator: &str) -> String {
    or_none(&map.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(separator))
}

/// Rows under a header, each column as wide as its widest cell plus a gap;
/// the last cell is not padded and no line ends in spaces.
#[derive(Debug)]
pub(crate) struct Table {
    gap: usize,
    rows: Vec<Vec<String>>,
}

impl Table {
    /// A table whose columns are `gap` spaces apart, with `header` as its first row.
    pub(crate) fn new<S: Into<String>>(gap: usize, header: impl IntoIterator<Item = S>) -> Self {
        Self { gap, rows: vec![header.into_iter().map(Into::into).collect()] }
    }

    /// Add a row.
    pub(crate) fn row(&mut self, row: Vec<String>) {
        self.rows.push(row);
    }

    /// The table's text, one line per row.
    pub(crate) fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| self.rows.iter().map(|r| r.get(c).map_or(0, |cell| cell.chars().count())).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                line.push_str(cell);
                if c + 1 < row.len() {
                    line.push_str(&" ".repeat(widths[c] - cell.chars().count() + self.gap));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// A description as `oc describe` writes one: `Name:` padded to a column,
/// then the value; the lines of a value of several lines start at that
/// column. Build kinds use a wider column than the others, as `oc` does.
#[derive(Debug)]
pub(crate) struct Description {
    width: usize,
    out: String,
}

impl Description {
    /// A description whose values start at column `width`.
    pub(crate) fn new(width: usize) -> Self {
        Self { width, out: String::new() }
    }

    /// `name:` and its value.
    pub(crate) fn field(&mut self, name: &str, value: &str) {
        let _ = writeln!(self.out, "{:<width$}{value}", format!("{name}:"), width = self.width);
    }

    /// A value under the previous field, at the values' column.
    pub(crate) fn continued(&mut self, value: &str) {
        let _ = writeln!(self.out, "{:<width$}{value}", "", width = self.width);
    }

    /// A line as it is.
    pub(crate) fn line(&mut self, text: &str) {
        let _ = writeln!(self.out, "{text}");
    }

    /// `items` as one value of several lines, or `<none>`.
    pub(crate) fn lines<S: AsRef<str>>(&self, items: &[S]) -> String {
        let items: Vec<&str> = items.iter().map(AsRef::as_ref).collect();
        or_none(&items.join(&self.separator()))
    }

    /// `key=value` pairs as one value of several lines, or `<none>`.
    pub(crate) fn pairs(&self, map: &BTreeMap<String, String>) -> String {
        pairs(map, &self.separator())
    }

    /// Name, namespace, creation time, labels and annotations.
    pub(crate) fn metadata(&mut self, meta: &ObjectMeta) {
        self.field("Name", &meta.name);
        self.field("Namespace", &meta.namespace);
        self.field("Created", &or_none(&time_text(meta.creation_timestamp)));
        let (labels, annotations) = (self.pairs(&meta.labels), self.pairs(&meta.annotations));
        self.field("Labels", &labels);
        self.field("Annotations", &annotations);
    }

    /// The text.
    pub(crate) fn finish(self) -> String {
        self.out
    }

    fn separator(&self) -> String {
        format!("\n{}", " ".repeat(self.width))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_pad_to_the_widest_cell() {
        let mut table = Table::new(3, ["NAME", "HOST"]);
        table.row(vec!["a-long-name".into(), "x".into()]);
        table.row(vec!["b".into(), String::new()]);
        assert_eq!(table.render(), "NAME          HOST\na-long-name   x\nb\n");
        let mut table = Table::new(2, ["A", "B", "C"]);
        table.row(vec!["1".into(), "22".into(), "3".into()]);
        assert_eq!(table.render(), "A  B   C\n1  22  3\n");
    }

    #[test]
    fn descriptions_align_values_at_their_column() {
        let mut description = Description::new(8);
        description.field("Name", "web");
        let labels = description.pairs(&BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]));
        description.field("Labels", &labels);
        description.continued("more");
        let none = description.lines::<&str>(&[]);
        description.field("Env", &none);
        assert_eq!(description.finish(), "Name:   web\nLabels: a=1\n        b=2\n        more\nEnv:    <none>\n");
    }
}
