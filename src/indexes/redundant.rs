//! Duplicate and left-prefix-redundant indexes, and foreign keys without a supporting index:
//! pure rules over catalog rows (read by `usage::catalog`), so they are tested without a
//! server. The false positives other tools are known for are ruled out on purpose: a partial
//! index is compared only with indexes of the same predicate, and a unique index or primary
//! key is never called redundant because a wider or non-unique index has its columns.

use serde::Serialize;

/// One index as the catalog describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexDef {
    pub schema: String,
    pub table: String,
    pub name: String,
    /// The index's oid: of two identical indexes, the newer (higher oid) is reported.
    pub oid: i64,
    /// Access method: btree, hash, gin, ...
    pub method: String,
    pub unique: bool,
    pub primary: bool,
    /// Backs a constraint (primary key, unique, exclusion).
    pub constraint: bool,
    pub valid: bool,
    /// Key columns or expressions as written (`doctor_id`, `date(start_time)`), without
    /// order or operator class.
    pub columns: Vec<String>,
    /// Per key column, what makes two keys the same: the column text, its order and nulls
    /// flags, operator class and collation.
    pub keys: Vec<String>,
    /// INCLUDE columns.
    pub include: Vec<String>,
    /// The partial index's predicate, as `pg_get_expr` prints it.
    pub predicate: Option<String>,
    pub definition: String,
    pub bytes: i64,
}

/// A foreign key constraint of the referencing table.
#[derive(Debug, Clone, PartialEq)]
pub struct ForeignKey {
    pub schema: String,
    pub table: String,
    pub name: String,
    /// Referencing columns, quoted as index definitions quote them.
    pub columns: Vec<String>,
    pub references: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Redundant {
    pub schema: String,
    pub table: String,
    pub index: String,
    /// `duplicate` or `left_prefix`.
    pub kind: String,
    pub covered_by: String,
    pub bytes: i64,
    pub definition: String,
    pub covered_by_definition: String,
    pub reason: String,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UnindexedFk {
    pub schema: String,
    pub table: String,
    pub constraint: String,
    pub columns: Vec<String>,
    pub references: String,
}

/// How much an index is worth keeping when two are the same: a primary key first, then a
/// constraint, then a unique index, then a plain one.
fn rank(i: &IndexDef) -> u8 {
    if i.primary {
        0
    } else if i.constraint {
        1
    } else if i.unique {
        2
    } else {
        3
    }
}

fn comparable(a: &IndexDef, b: &IndexDef) -> bool {
    a.name != b.name
        && a.schema == b.schema
        && a.table == b.table
        && a.method == b.method
        && a.predicate == b.predicate
        && a.valid
        && b.valid
}

/// `a`'s included columns are all among `b`'s columns (keys or included).
fn includes_covered(a: &IndexDef, b: &IndexDef) -> bool {
    a.include
        .iter()
        .all(|c| b.columns.contains(c) || b.include.contains(c))
}

/// Why `a` is redundant given `b`, if it is: (kind, reason).
fn redundant_to(a: &IndexDef, b: &IndexDef) -> Option<(&'static str, String)> {
    if !comparable(a, b) || !includes_covered(a, b) {
        return None;
    }
    if a.keys == b.keys {
        // A unique index enforces something a non-unique one does not.
        if a.unique && !b.unique {
            return None;
        }
        if includes_covered(b, a) && (rank(a), a.oid, &a.name) < (rank(b), b.oid, &b.name) {
            // The same index twice: only one of the two is reported, the newer one.
            return None;
        }
        let what = match &a.predicate {
            Some(p) => format!("same keys and the same predicate ({p})"),
            None => "same keys".to_string(),
        };
        return Some(("duplicate", format!("{what} as {}", b.name)));
    }
    let prefix = a.keys.len() < b.keys.len() && b.keys[..a.keys.len()] == a.keys[..];
    if prefix && a.method == "btree" && !a.unique && !a.primary && !a.constraint {
        return Some((
            "left_prefix",
            format!(
                "its keys ({}) are the leading keys of {} ({})",
                a.columns.join(", "),
                b.name,
                b.columns.join(", ")
            ),
        ));
    }
    None
}

/// The indexes that another index of the same table makes unnecessary, each once (with the
/// first index that covers it).
pub fn redundant(indexes: &[IndexDef]) -> Vec<Redundant> {
    let mut out: Vec<Redundant> = Vec::new();
    for a in indexes {
        // A duplicate beats a left prefix as the explanation.
        let found = indexes
            .iter()
            .filter_map(|b| redundant_to(a, b).map(|r| (b, r)))
            .min_by_key(|(b, (kind, _))| (*kind != "duplicate", rank(b), b.name.clone()));
        if let Some((b, (kind, reason))) = found {
            out.push(Redundant {
                schema: a.schema.clone(),
                table: a.table.clone(),
                index: a.name.clone(),
                kind: kind.to_string(),
                covered_by: b.name.clone(),
                bytes: a.bytes,
                definition: a.definition.clone(),
                covered_by_definition: b.definition.clone(),
                reason,
            });
        }
    }
    out.sort_by(|x, y| (&x.table, &x.index).cmp(&(&y.table, &y.index)));
    out
}

fn strip_parens(s: &str) -> &str {
    let mut s = s.trim();
    while s.starts_with('(') && s.ends_with(')') {
        s = s[1..s.len() - 1].trim();
    }
    s
}

/// Whether `i` can serve the lookups of `fk` (the referencing side of a delete or update of
/// the referenced row): its leading key columns are the key's columns, in any order, and it
/// is full or its predicate only excludes NULLs of one of them (implied by the equality).
fn supports(i: &IndexDef, fk: &ForeignKey) -> bool {
    if !i.valid || i.schema != fk.schema || i.table != fk.table {
        return false;
    }
    let n = fk.columns.len();
    if i.columns.len() < n || n == 0 {
        return false;
    }
    let mut lead: Vec<&String> = i.columns[..n].iter().collect();
    let mut cols: Vec<&String> = fk.columns.iter().collect();
    lead.sort();
    cols.sort();
    if lead != cols {
        return false;
    }
    match &i.predicate {
        None => true,
        Some(p) => fk
            .columns
            .iter()
            .any(|c| strip_parens(p) == format!("{c} IS NOT NULL")),
    }
}

/// The foreign keys no index supports.
pub fn unindexed_fks(fks: &[ForeignKey], indexes: &[IndexDef]) -> Vec<UnindexedFk> {
    let mut out: Vec<UnindexedFk> = fks
        .iter()
        .filter(|fk| !indexes.iter().any(|i| supports(i, fk)))
        .map(|fk| UnindexedFk {
            schema: fk.schema.clone(),
            table: fk.table.clone(),
            constraint: fk.name.clone(),
            columns: fk.columns.clone(),
            references: fk.references.clone(),
        })
        .collect();
    out.sort_by(|x, y| (&x.table, &x.constraint).cmp(&(&y.table, &y.constraint)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A btree on `appointments` with keys like `doctor_id` or `created_at DESC`.
    fn idx(name: &str, keys: &[&str]) -> IndexDef {
        IndexDef {
            schema: "public".into(),
            table: "appointments".into(),
            name: name.into(),
            oid: 0,
            method: "btree".into(),
            unique: false,
            primary: false,
            constraint: false,
            valid: true,
            columns: keys
                .iter()
                .map(|k| k.trim_end_matches(" DESC").to_string())
                .collect(),
            keys: keys.iter().map(|k| k.to_string()).collect(),
            include: Vec::new(),
            predicate: None,
            definition: format!("CREATE INDEX {name} ..."),
            bytes: 8192,
        }
    }

    fn names(r: &[Redundant]) -> Vec<(&str, &str, &str)> {
        r.iter()
            .map(|d| (d.index.as_str(), d.kind.as_str(), d.covered_by.as_str()))
            .collect()
    }

    #[test]
    fn an_exact_duplicate_is_reported_once_the_newer_one() {
        let mut a = idx("idx_doctor_date", &["doctor_id", "date(start_time)"]);
        a.oid = 10;
        let mut b = idx("dup", &["doctor_id", "date(start_time)"]);
        b.oid = 20;
        let r = redundant(&[a, b]);
        assert_eq!(names(&r), vec![("dup", "duplicate", "idx_doctor_date")]);
    }

    #[test]
    fn a_plain_duplicate_of_a_unique_index_is_the_one_reported() {
        let mut pk = idx("appointments_pkey", &["id"]);
        pk.unique = true;
        pk.primary = true;
        pk.constraint = true;
        let plain = idx("a_id", &["id"]);
        let r = redundant(&[plain, pk]);
        assert_eq!(names(&r), vec![("a_id", "duplicate", "appointments_pkey")]);
    }

    #[test]
    fn a_left_prefix_is_redundant_but_not_a_unique_one_nor_a_different_order() {
        let wide = idx("wide", &["doctor_id", "date(start_time)"]);
        let prefix = idx("prefix", &["doctor_id"]);
        let mut unique = idx("unique_doctor", &["doctor_id"]);
        unique.unique = true;
        let desc = idx("desc", &["doctor_id DESC"]);
        let second = idx("second", &["date(start_time)"]);
        let r = redundant(&[wide.clone(), prefix.clone(), desc.clone(), second.clone()]);
        assert_eq!(names(&r), vec![("prefix", "left_prefix", "wide")]);
        // With a unique index of the same key, the plain one is its duplicate (a stronger
        // explanation), and the unique one is not redundant to the wider index.
        let r = redundant(&[wide, prefix, unique, desc, second]);
        assert_eq!(names(&r), vec![("prefix", "duplicate", "unique_doctor")]);
    }

    #[test]
    fn a_partial_index_is_not_a_duplicate_of_a_full_one_but_is_of_the_same_partial() {
        let mut unread = idx("idx_alerts_unread", &["recipient_id", "created_at DESC"]);
        unread.predicate = Some("NOT is_read".into());
        let full = idx(
            "idx_alerts_recipient_time",
            &["recipient_id", "created_at DESC"],
        );
        assert!(redundant(&[unread.clone(), full]).is_empty());
        let mut again = unread.clone();
        again.name = "unread_again".into();
        let r = redundant(&[unread, again]);
        assert_eq!(
            names(&r),
            vec![("unread_again", "duplicate", "idx_alerts_unread")]
        );
    }

    #[test]
    fn other_methods_invalid_indexes_and_uncovered_includes_are_not_redundant() {
        let mut gin = idx("gin", &["doctor_id"]);
        gin.method = "gin".into();
        let mut invalid = idx("invalid", &["doctor_id"]);
        invalid.valid = false;
        let mut covering = idx("covering", &["patient_id"]);
        covering.include = vec!["status".into()];
        let wider = idx("wider", &["patient_id", "start_time"]);
        let plain = idx("plain", &["doctor_id", "status"]);
        let r = redundant(&[gin, invalid, covering, wider, plain]);
        assert!(r.is_empty(), "{r:?}");
    }

    fn fk(cols: &[&str]) -> ForeignKey {
        ForeignKey {
            schema: "public".into(),
            table: "appointments".into(),
            name: format!("fk_{}", cols.join("_")),
            columns: cols.iter().map(|c| c.to_string()).collect(),
            references: "users".into(),
        }
    }

    #[test]
    fn foreign_keys_need_an_index_leading_with_their_columns() {
        let doctor = idx("idx_doctor_date", &["doctor_id", "date(start_time)"]);
        let second = idx("idx_time_creator", &["start_time", "created_by"]);
        let mut partial = idx("idx_patient", &["patient_id"]);
        partial.predicate = Some("(patient_id IS NOT NULL)".into());
        let mut pending = idx("idx_pending", &["assigned_to"]);
        pending.predicate = Some("(status = 'pending'::text)".into());
        let pair = idx("pair", &["b", "a"]);
        let fks = [
            fk(&["doctor_id"]),
            fk(&["created_by"]),
            fk(&["patient_id"]),
            fk(&["assigned_to"]),
            fk(&["a", "b"]),
        ];
        let out = unindexed_fks(&fks, &[doctor, second, partial, pending, pair]);
        let cols: Vec<_> = out.iter().map(|f| f.columns.join(",")).collect();
        assert_eq!(cols, vec!["assigned_to", "created_by"]);
    }
}
