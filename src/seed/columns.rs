//! Columns are discovered, not assumed: before the seed writes anything it reads the target
//! schema and compares it with the columns its COPY statements write. A release's own
//! migrations add columns and tables ("Plan for Evolution", MVP-004):
//! - a new `NOT NULL` column without a default would make every COPY fail, so the seed is
//!   refused at once (exit 2) with the list, before anything is written;
//! - a new nullable column, or one with a default, is named in a warning: every seeded row
//!   gets NULL or the default, which no production system has;
//! - a new table is named too: the seed leaves it empty.

use std::collections::BTreeMap;

use anyhow::Result;
use sqlx::PgPool;

use super::pg_copy;

/// A column of the target schema that no COPY statement of the seed writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownColumn {
    pub table: String,
    pub column: String,
    pub data_type: String,
    /// `NOT NULL` without a default, an identity or a generated expression: every row the
    /// seed writes would be refused.
    pub required: bool,
    /// What a seeded row gets: "NULL" or "its default (...)".
    pub fill: String,
}

/// What the seed found in the target schema beyond the columns and tables it writes.
#[derive(Debug, Clone, Default)]
pub struct Discovery {
    pub unknown_columns: Vec<UnknownColumn>,
    /// Tables of the schema the seed does not write (clinicload's own excepted).
    pub unknown_tables: Vec<String>,
}

/// The table and columns of a `COPY table (a, b, ...) FROM STDIN ...` statement.
pub fn copy_columns(statement: &str) -> Option<(String, Vec<String>)> {
    let rest = statement.trim_start().strip_prefix("COPY ")?;
    let (table, rest) = rest.split_once('(')?;
    let (columns, _) = rest.split_once(')')?;
    Some((
        table.trim().to_string(),
        columns.split(',').map(|c| c.trim().to_string()).collect(),
    ))
}

/// Each seeded table's columns, from the COPY statements themselves.
fn known_columns() -> BTreeMap<String, Vec<String>> {
    pg_copy::COPY_STATEMENTS
        .iter()
        .filter_map(|s| copy_columns(s))
        .collect()
}

/// Reads the schema the seed writes into (the connection's current schema).
pub async fn discover(pool: &PgPool) -> Result<Discovery> {
    let known = known_columns();
    let rows: Vec<(String, String, String, bool, Option<String>, bool)> = sqlx::query_as(
        "SELECT c.table_name::text, c.column_name::text, c.data_type::text, \
                c.is_nullable = 'NO', c.column_default::text, \
                c.is_identity = 'YES' OR c.is_generated = 'ALWAYS' \
         FROM information_schema.columns c \
         JOIN information_schema.tables t USING (table_schema, table_name) \
         WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' \
         ORDER BY c.table_name, c.ordinal_position",
    )
    .fetch_all(pool)
    .await?;
    let mut found = Discovery::default();
    for (table, column, data_type, not_null, default, automatic) in rows {
        let Some(columns) = known.get(&table) else {
            if !table.starts_with("_sqlx") && !found.unknown_tables.contains(&table) {
                found.unknown_tables.push(table);
            }
            continue;
        };
        if columns.contains(&column) {
            continue;
        }
        let fill = match (&default, automatic) {
            (_, true) => "its identity or generated value".to_string(),
            (Some(d), _) => format!("its default ({d})"),
            (None, _) => "NULL".to_string(),
        };
        found.unknown_columns.push(UnknownColumn {
            required: not_null && default.is_none() && !automatic,
            table,
            column,
            data_type,
            fill,
        });
    }
    Ok(found)
}

impl Discovery {
    /// The refusal when a column the seed does not know must be filled; None when the seed
    /// can write every table.
    pub fn refusal(&self) -> Option<String> {
        let required: Vec<String> = self
            .unknown_columns
            .iter()
            .filter(|c| c.required)
            .map(|c| format!("{}.{} ({})", c.table, c.column, c.data_type))
            .collect();
        if required.is_empty() {
            return None;
        }
        Some(format!(
            "the schema has NOT NULL column(s) without a default that the seed does not know: {}; \
             nothing was written. Give each a DEFAULT in its migration (or make it nullable) \
             and seed again",
            required.join(", ")
        ))
    }

    /// One warning per column the seed leaves at NULL or its default, and per table it
    /// leaves empty.
    pub fn warnings(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .unknown_columns
            .iter()
            .filter(|c| !c.required)
            .map(|c| {
                format!(
                    "{}.{} ({}) is not a column the seed knows: every seeded row gets {}",
                    c.table, c.column, c.data_type, c.fill
                )
            })
            .collect();
        out.extend(
            self.unknown_tables
                .iter()
                .map(|t| format!("table {t} is not one the seed knows: it stays empty")),
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_copy_statement_names_its_table_and_columns() {
        let known = known_columns();
        assert_eq!(known.len(), pg_copy::TABLES.len());
        for table in pg_copy::TABLES {
            let columns = &known[table];
            assert!(columns.contains(&"id".to_string()), "{table}: {columns:?}");
            assert!(columns.iter().all(|c| !c.is_empty() && !c.contains(' ')));
        }
        assert_eq!(
            copy_columns("COPY t (a, b) FROM STDIN (FORMAT binary)"),
            Some(("t".into(), vec!["a".into(), "b".into()]))
        );
        assert_eq!(copy_columns("SELECT 1"), None);
    }

    #[test]
    fn only_not_null_columns_without_a_default_refuse_the_seed() {
        let col = |column: &str, required: bool| UnknownColumn {
            table: "patients".into(),
            column: column.into(),
            data_type: "text".into(),
            required,
            fill: "NULL".into(),
        };
        let mut d = Discovery {
            unknown_columns: vec![col("preferred_language", false)],
            unknown_tables: vec!["referrals".into()],
        };
        assert_eq!(d.refusal(), None);
        assert_eq!(d.warnings().len(), 2);
        d.unknown_columns.push(col("nhs_number", true));
        let refusal = d.refusal().unwrap();
        assert!(refusal.contains("patients.nhs_number (text)"), "{refusal}");
        assert!(!refusal.contains("preferred_language"), "{refusal}");
    }
}
