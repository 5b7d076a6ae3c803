//! Compatibility-table data kept in CSV files (`catalog/**/*.csv`). The `csv` crate reads the
//! values (fields trimmed, `#` comment lines and blank lines skipped, quoting as RFC 4180); a
//! small scan of our own places every record and field at its line and column, so that later
//! findings about a row point into the CSV file itself. The first record is the header.

use crate::diagnostic::Diagnostic;
use crate::source::to_u32;
use crate::spans::Pos;

/// One record of a CSV file: its trimmed values and where it and each value start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CsvRecord {
    pub values: Vec<String>,
    pub start: Pos,
    fields: Vec<Pos>,
}

impl CsvRecord {
    /// Where value `k` starts (the record's start when it cannot be placed).
    pub(crate) fn field(&self, k: usize) -> Pos {
        self.fields.get(k).copied().unwrap_or(self.start)
    }
}

/// A parsed CSV file: the header (absent when the file holds no record) and the data records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct CsvTable {
    pub header: Option<CsvRecord>,
    pub records: Vec<CsvRecord>,
}

/// Whether a bundle path is compatibility-table data.
pub(crate) fn is_csv(path: &str) -> bool {
    path.starts_with("catalog/") && path.ends_with(".csv")
}

/// Parses one CSV file. Fails only when the `csv` crate reports an error.
pub(crate) fn parse(file: &str, text: &str) -> Result<CsvTable, Diagnostic> {
    let lines = LineIndex::new(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .comment(Some(b'#'))
        .from_reader(text.as_bytes());
    let mut table = CsvTable::default();
    for result in reader.records() {
        let record = match result {
            Ok(record) => record,
            Err(e) => {
                let at = e
                    .position()
                    .map(|p| lines.pos(usize::try_from(p.byte()).unwrap_or(usize::MAX)));
                return Err(Diagnostic::error(
                    "catalog.csv_syntax",
                    file,
                    "",
                    format!("this CSV file cannot be read: {e}"),
                )
                .at(at));
            }
        };
        // A line of blanks only is a blank line too.
        if record.iter().all(str::is_empty) {
            continue;
        }
        let from = record
            .position()
            .map_or(0, |p| usize::try_from(p.byte()).unwrap_or(usize::MAX));
        let (start, fields) = locate(text, from);
        let mut places = lines.walk(std::iter::once(start).chain(fields));
        let start = places.remove(0);
        let located = CsvRecord {
            values: record.iter().map(str::to_string).collect(),
            start,
            fields: places,
        };
        if table.header.is_none() {
            table.header = Some(located);
        } else {
            table.records.push(located);
        }
    }
    Ok(table)
}

/// From the byte where the `csv` crate says a record begins (which may be before blank or
/// comment lines): the byte where its text starts and where each field's text starts (after
/// leading blanks, as the values are trimmed).
fn locate(text: &str, from: usize) -> (usize, Vec<usize>) {
    let bytes = text.as_bytes();
    let mut i = from.min(bytes.len());
    if i == 0 && text.starts_with('\u{feff}') {
        i = '\u{feff}'.len_utf8();
    }
    loop {
        match bytes.get(i) {
            Some(b'\r' | b'\n') => i += 1,
            Some(b'#') => {
                while bytes.get(i).is_some_and(|&c| c != b'\n') {
                    i += 1;
                }
            }
            _ => break,
        }
    }
    let start = i;
    let mut fields = Vec::new();
    loop {
        // As in the `csv` crate, only a quote right at the field's start opens a quoted field.
        let quoted = bytes.get(i) == Some(&b'"');
        while matches!(bytes.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        fields.push(i);
        if quoted {
            i += 1;
            loop {
                match bytes.get(i) {
                    None => break,
                    Some(b'"') if bytes.get(i + 1) == Some(&b'"') => i += 2,
                    Some(b'"') => {
                        i += 1;
                        break;
                    }
                    Some(_) => i += 1,
                }
            }
        }
        while bytes
            .get(i)
            .is_some_and(|&c| !matches!(c, b',' | b'\n' | b'\r'))
        {
            i += 1;
        }
        if bytes.get(i) == Some(&b',') {
            i += 1;
        } else {
            break;
        }
    }
    (start, fields)
}

/// Byte offset → 1-based line and column (in characters; a leading byte-order mark does not
/// count).
struct LineIndex<'a> {
    text: &'a str,
    starts: Vec<usize>,
}

impl<'a> LineIndex<'a> {
    fn new(text: &'a str) -> Self {
        let mut starts = vec![if text.starts_with('\u{feff}') {
            '\u{feff}'.len_utf8()
        } else {
            0
        }];
        starts.extend(
            text.bytes()
                .enumerate()
                .filter(|(_, b)| *b == b'\n')
                .map(|(i, _)| i + 1),
        );
        LineIndex { text, starts }
    }

    fn pos(&self, byte: usize) -> Pos {
        self.walk([byte])[0]
    }

    /// Places of ascending byte offsets, counting each line's characters only once (a record
    /// may be one very long line).
    fn walk(&self, bytes: impl IntoIterator<Item = usize>) -> Vec<Pos> {
        let mut places = Vec::new();
        // (line, byte, column) of the last place.
        let mut last: Option<(usize, usize, usize)> = None;
        for byte in bytes {
            let byte = byte.min(self.text.len());
            let line = self.starts.partition_point(|&s| s <= byte).max(1);
            let (from, column) = match last {
                Some((l, b, c)) if l == line && b <= byte => (b, c),
                _ => (self.starts[line - 1].min(byte), 0),
            };
            let column = column + self.text.get(from..byte).map_or(0, |s| s.chars().count());
            last = Some((line, byte, column));
            places.push((to_u32(line), to_u32(column + 1)));
        }
        places
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(r: &CsvRecord) -> Vec<&str> {
        r.values.iter().map(String::as_str).collect()
    }

    #[test]
    fn reads_header_and_records_with_places() {
        let text = "trim, paint ,wheels\n# standard trim\n\nstd,white,  r19\n  lr ,\"black\",*\n";
        let t = parse("catalog/t.csv", text).unwrap();
        let header = t.header.unwrap();
        assert_eq!(values(&header), ["trim", "paint", "wheels"]);
        assert_eq!(header.start, (1, 1));
        assert_eq!(header.field(1), (1, 7));
        assert_eq!(t.records.len(), 2);
        assert_eq!(values(&t.records[0]), ["std", "white", "r19"]);
        assert_eq!(t.records[0].start, (4, 1));
        assert_eq!(t.records[0].field(2), (4, 13));
        assert_eq!(values(&t.records[1]), ["lr", "black", "*"]);
        assert_eq!(t.records[1].start, (5, 1));
        assert_eq!(t.records[1].field(1), (5, 7));
        assert_eq!(t.records[1].field(2), (5, 15));
        // Out of range: the record's start.
        assert_eq!(t.records[1].field(7), (5, 1));
    }

    #[test]
    fn crlf_bom_quotes_and_unequal_lengths() {
        let text = "\u{feff}a,b\r\n\"x,\ny\",z\r\n   \r\nq\r\n";
        let t = parse("catalog/t.csv", text).unwrap();
        assert_eq!(t.header.as_ref().unwrap().start, (1, 1));
        assert_eq!(values(&t.records[0]), ["x,\ny", "z"]);
        assert_eq!(t.records[0].field(1), (3, 4));
        assert_eq!(values(&t.records[1]), ["q"]);
        assert_eq!(t.records[1].start, (5, 1));
    }

    #[test]
    fn empty_and_comment_only_files_have_no_header() {
        assert_eq!(parse("catalog/t.csv", "").unwrap(), CsvTable::default());
        assert_eq!(
            parse("catalog/t.csv", "# nothing yet\n\n").unwrap(),
            CsvTable::default()
        );
    }

    #[test]
    fn only_csv_under_catalog_is_table_data() {
        assert!(is_csv("catalog/s7/paint.csv"));
        assert!(!is_csv("pages/data.csv"));
        assert!(!is_csv("catalog/s7.yaml"));
    }
}
