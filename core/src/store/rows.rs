//! Multi-row statements: many rows in one `INSERT … VALUES (…), (…), …`, so a batch of writes
//! costs one round trip per table instead of one per row.
//!
//! **Invariants**
//! - Every value is bound, never formatted into the SQL; the SQL holds only `$n` placeholders
//!   and the caller's fixed column lists.
//! - A statement never binds more than [`MAX_PARAMS`] values (below SQLite's limit of 32,766
//!   and PostgreSQL's of 65,535): longer row sets are written in several statements.

use super::TenantTx;

/// Most values bound by one statement.
pub const MAX_PARAMS: usize = 30_000;

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

/// `$first, $first+1, …` for `n` bound values.
pub fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// `($first, …), (…), …`: `rows` tuples of `width` placeholders.
pub fn tuples(first: usize, width: usize, rows: usize) -> String {
    (0..rows)
        .map(|r| format!("({})", placeholders(first + r * width, width)))
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

/// Rows for one table, written by [`Rows::write`] as few multi-row `INSERT`s.
#[derive(Debug)]
pub struct Rows {
    /// `INSERT INTO table (a, b, …)`
    head: &'static str,
    /// What follows the values (`ON CONFLICT …`), or "".
    tail: &'static str,
    width: usize,
    values: Vec<Val>,
}

impl Rows {
    /// Rows for `head` (`INSERT INTO table (columns)`) with `width` columns.
    pub fn new(head: &'static str, width: usize, tail: &'static str) -> Rows {
        Rows {
            head,
            tail,
            width,
            values: Vec::new(),
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
        self.values.extend(row);
    }

    pub fn len(&self) -> usize {
        self.values.len() / self.width
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Writes every row inside `tx`; returns the rows affected.
    pub async fn write(self, tx: &mut TenantTx) -> Result<u64, sqlx::Error> {
        let per_statement = (MAX_PARAMS / self.width).max(1);
        let mut affected = 0;
        let mut values = self.values.into_iter().peekable();
        while values.peek().is_some() {
            let chunk: Vec<Val> = values.by_ref().take(per_statement * self.width).collect();
            let sql = format!(
                "{} VALUES {} {}",
                self.head,
                tuples(1, self.width, chunk.len() / self.width),
                self.tail
            );
            affected += bind_all(sqlx::query(&sql), chunk)
                .execute(&mut **tx)
                .await?
                .rows_affected();
        }
        Ok(affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuples_number_placeholders_row_by_row() {
        assert_eq!(placeholders(3, 2), "$3, $4");
        assert_eq!(tuples(1, 2, 3), "($1, $2), ($3, $4), ($5, $6)");
        assert_eq!(tuples(2, 1, 1), "($2)");
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
