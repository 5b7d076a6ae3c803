//! Multi-row statements: many rows in one `INSERT … VALUES (…), (…), …`, so a batch of writes
//! costs one round trip per table instead of one per row.
//!
//! **Invariants**
//! - Every value is bound, never formatted into the SQL; the SQL holds only placeholders and
//!   the caller's fixed text.
//! - [`Sql`] writes `$n` placeholders on PostgreSQL and anonymous `?` on SQLite: SQLite's
//!   parser looks every named parameter up among those seen before, so a statement with
//!   thousands of `$n` costs tens of milliseconds to prepare, while `?` costs nothing extra.
//! - A statement never binds more than [`MAX_PARAMS`] values (below SQLite's limit of 32,766
//!   and PostgreSQL's of 65,535): longer row sets are written in several statements.
//! - Row sets are cut into statements of a few fixed sizes ([`shapes`]: at most
//!   [`STATEMENT_ROWS`] rows, then powers of two), so one table is written with at most seven
//!   distinct statement texts, each prepared once per connection and then taken from the
//!   statement cache. A statement of any length would be a new text almost every time, and
//!   SQLite compiles code per row: preparing a 127-row insert of orders took ≈ 2.5 ms, three
//!   times what running it cost without indexes (Python's sqlite3, cached against uncached).

use super::TenantTx;

/// Most values bound by one statement.
pub const MAX_PARAMS: usize = 30_000;

/// Most rows in one multi-row statement (a power of two).
pub const STATEMENT_ROWS: usize = 64;

/// How `n` rows are cut into statements of at most `max` rows: full statements of the largest
/// power of two not above `max`, then the rest in decreasing powers of two (its binary digits).
/// So every statement has one of a few sizes, and a batch of `n` rows takes `n / max` plus at
/// most log₂ `max` statements.
pub fn shapes(n: usize, max: usize) -> Vec<usize> {
    let max = max.max(1);
    let top = 1usize << (usize::BITS - 1 - max.leading_zeros());
    let mut out = vec![top; n / top];
    let rest = n % top;
    let mut size = top;
    while size > 1 {
        size /= 2;
        if rest & size != 0 {
            out.push(size);
        }
    }
    out
}

/// One bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<String> for Val {
    fn from(v: String) -> Val {
        Val::Text(Some(v))
    }
}
impl From<&str> for Val {
    fn from(v: &str) -> Val {
        Val::Text(Some(v.to_string()))
    }
}
impl From<&String> for Val {
    fn from(v: &String) -> Val {
        Val::Text(Some(v.clone()))
    }
}
impl From<Option<String>> for Val {
    fn from(v: Option<String>) -> Val {
        Val::Text(v)
    }
}
impl From<Option<&str>> for Val {
    fn from(v: Option<&str>) -> Val {
        Val::Text(v.map(str::to_string))
    }
}
impl From<i64> for Val {
    fn from(v: i64) -> Val {
        Val::Int(Some(v))
    }
}
impl From<Option<i64>> for Val {
    fn from(v: Option<i64>) -> Val {
        Val::Int(v)
    }
}

/// `items` as one JSON text, for a statement that takes a whole list in one parameter
/// (`json_each` on SQLite, `json_array_elements` on PostgreSQL).
pub fn json_list<T: serde::Serialize + ?Sized>(items: &T) -> Result<String, sqlx::Error> {
    serde_json::to_string(items).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// `$first, $first+1, …` for `n` bound values.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Binds `values` in order.
pub fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    values: impl IntoIterator<Item = Val>,
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for v in values {
        query = match v {
            Val::Text(t) => query.bind(t),
            Val::Int(i) => query.bind(i),
        };
    }
    query
}

/// A statement written piece by piece, each value bound where its placeholder is written.
#[derive(Debug)]
pub struct Sql {
    text: String,
    values: Vec<Val>,
    anonymous: bool,
}

impl Sql {
    /// A statement for the database behind `tx`.
    pub fn for_tx(tx: &TenantTx) -> Sql {
        Sql::new(tx.backend() == super::Backend::Sqlite)
    }

    /// `anonymous`: `?` placeholders (SQLite) instead of `$n`.
    pub fn new(anonymous: bool) -> Sql {
        Sql {
            text: String::new(),
            values: Vec::new(),
            anonymous,
        }
    }

    /// Appends fixed SQL text.
    pub fn push(&mut self, text: &str) -> &mut Sql {
        self.text.push_str(text);
        self
    }

    /// Appends a placeholder bound to `value`.
    pub fn bind(&mut self, value: impl Into<Val>) -> &mut Sql {
        self.values.push(value.into());
        if self.anonymous {
            self.text.push('?');
        } else {
            self.text.push('$');
            self.text.push_str(&self.values.len().to_string());
        }
        self
    }

    /// Appends `a, b, c` (placeholders of `values`).
    pub fn list(&mut self, values: impl IntoIterator<Item = Val>) -> &mut Sql {
        for (i, v) in values.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.bind(v);
        }
        self
    }

    /// Appends `(a, b), (c, d)` (one tuple per row).
    pub fn tuples(&mut self, rows: impl IntoIterator<Item = Vec<Val>>) -> &mut Sql {
        for (i, row) in rows.into_iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self.text.push('(');
            self.list(row);
            self.text.push(')');
        }
        self
    }

    /// The SQL text as written so far.
    pub fn text(&self) -> &str {
        &self.text
    }

    pub async fn execute(self, tx: &mut TenantTx) -> Result<u64, sqlx::Error> {
        Ok(bind_all(sqlx::query(&self.text), self.values)
            .execute(&mut **tx)
            .await?
            .rows_affected())
    }

    pub async fn fetch_all(self, tx: &mut TenantTx) -> Result<Vec<sqlx::any::AnyRow>, sqlx::Error> {
        bind_all(sqlx::query(&self.text), self.values)
            .fetch_all(&mut **tx)
            .await
    }
}

/// Rows for one table, written by [`Rows::write`] as few multi-row `INSERT`s.
#[derive(Debug)]
pub struct Rows {
    /// `INSERT INTO table (a, b, …)`
    head: &'static str,
    /// What follows the values (`ON CONFLICT …`), or "".
    tail: &'static str,
    width: usize,
    rows: Vec<Vec<Val>>,
}

impl Rows {
    /// Rows for `head` (`INSERT INTO table (columns)`) with `width` columns.
    pub fn new(head: &'static str, width: usize, tail: &'static str) -> Rows {
        Rows {
            head,
            tail,
            width,
            rows: Vec::new(),
        }
    }

    /// Adds one row; it must have exactly `width` values.
    pub fn push(&mut self, row: Vec<Val>) {
        assert_eq!(
            row.len(),
            self.width,
            "a row of `{}` needs {} values",
            self.head,
            self.width
        );
        self.rows.push(row);
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Writes every row inside `tx`; returns the rows affected.
    pub async fn write(self, tx: &mut TenantTx) -> Result<u64, sqlx::Error> {
        let per_statement = (MAX_PARAMS / self.width).clamp(1, STATEMENT_ROWS);
        let mut affected = 0;
        let sizes = shapes(self.rows.len(), per_statement);
        let mut rows = self.rows.into_iter();
        for size in sizes {
            let started = std::time::Instant::now();
            let mut sql = Sql::for_tx(tx);
            sql.push(self.head)
                .push(" VALUES ")
                .tuples(rows.by_ref().take(size))
                .push(" ")
                .push(self.tail);
            let built = started.elapsed();
            let written = sql.execute(tx).await?;
            affected += written;
            tracing::trace!(
                statement = self.head.split('(').next().unwrap_or_default().trim(),
                rows = written,
                build_us = built.as_micros() as u64,
                execute_us = (started.elapsed() - built).as_micros() as u64,
                "multi-row insert"
            );
        }
        Ok(affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_cut_into_a_few_fixed_sizes() {
        assert_eq!(shapes(0, 64), Vec::<usize>::new());
        assert_eq!(shapes(1, 64), vec![1]);
        assert_eq!(shapes(127, 64), vec![64, 32, 16, 8, 4, 2, 1]);
        assert_eq!(shapes(200, 64), vec![64, 64, 64, 8]);
        // A cap that is not a power of two (wide rows) rounds down to one.
        assert_eq!(shapes(300, 100), vec![64, 64, 64, 64, 32, 8, 4]);
        assert_eq!(shapes(5, 1), vec![1, 1, 1, 1, 1]);
        for n in 0..300 {
            let cut = shapes(n, 64);
            assert_eq!(cut.iter().sum::<usize>(), n);
            assert!(cut.iter().all(|s| s.is_power_of_two() && *s <= 64));
        }
    }

    #[test]
    fn placeholders_count_from_the_first() {
        assert_eq!(placeholders(3, 2), "$3, $4");
    }

    #[test]
    fn statements_number_or_anonymise_placeholders_in_bind_order() {
        for (anonymous, expected) in [
            (
                false,
                "UPDATE t SET a = $1 WHERE b IN ($2, $3) AND (c, d) IN (($4, $5))",
            ),
            (
                true,
                "UPDATE t SET a = ? WHERE b IN (?, ?) AND (c, d) IN ((?, ?))",
            ),
        ] {
            let mut sql = Sql::new(anonymous);
            sql.push("UPDATE t SET a = ")
                .bind(1)
                .push(" WHERE b IN (")
                .list(vec![Val::from("x"), Val::from("y")])
                .push(") AND (c, d) IN (")
                .tuples(vec![vec![Val::from(2), Val::from(None::<String>)]])
                .push(")");
            assert_eq!(sql.text(), expected);
            assert_eq!(sql.values.len(), 5);
            assert_eq!(sql.values[1], Val::from("x"));
        }
    }

    #[test]
    #[should_panic(expected = "needs 2 values")]
    fn a_short_row_is_refused() {
        let mut rows = Rows::new("INSERT INTO t (a, b)", 2, "");
        rows.push(vec![Val::from(1)]);
    }

    #[test]
    fn length_counts_rows() {
        let mut rows = Rows::new("INSERT INTO t (a, b)", 2, "");
        assert!(rows.is_empty());
        rows.push(vec![Val::from(1), Val::from("x")]);
        rows.push(vec![Val::from(None::<i64>), Val::from(None::<String>)]);
        assert_eq!(rows.len(), 2);
    }
}
