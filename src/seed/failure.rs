//! Why a seed failed, in words a user can act on. Driver errors are turned into one short
//! line at the place they happen (which store, doing what, the server's or the socket's
//! reason): a lost connection reads as a lost connection, not as "COPY was rejected", and
//! the MongoDB driver's raw server reply (a hex dump of kilobytes) never reaches the user.
//! [`report`] builds the final message: the clinic, the cause, and what to do.

use std::fmt;

use crate::config::{redact, Targets};

/// The store an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    Postgres,
    Mongo,
}

impl fmt::Display for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Store::Postgres => "PostgreSQL",
            Store::Mongo => "MongoDB",
        })
    }
}

/// The connection to a store broke while doing something.
#[derive(Debug)]
pub struct Lost {
    pub store: Store,
    pub doing: String,
    pub cause: String,
}

impl fmt::Display for Lost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lost the connection to {} while {}: {}",
            self.store, self.doing, self.cause
        )
    }
}

impl std::error::Error for Lost {}

/// The store refused or failed an operation for another reason.
#[derive(Debug)]
pub struct Failed {
    pub store: Store,
    pub doing: String,
    pub cause: String,
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} failed while {}: {}",
            self.store, self.doing, self.cause
        )
    }
}

impl std::error::Error for Failed {}

/// The clinic a failure belongs to (context added by the pipeline).
#[derive(Debug, Clone, Copy)]
pub struct Clinic(pub u32);

impl fmt::Display for Clinic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "clinic {}", self.0)
    }
}

/// Most characters of a driver's message kept in a report.
const MAX_CAUSE: usize = 300;

/// One line, no control characters or ANSI escapes, at most [`MAX_CAUSE`] characters.
pub fn one_line(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC [ ... final byte in @..~
            if chars.peek() == Some(&'[') {
                chars.next();
                for d in chars.by_ref() {
                    if ('@'..='~').contains(&d) {
                        break;
                    }
                }
            }
            continue;
        }
        if c.is_control() {
            if !out.ends_with(' ') {
                out.push(' ');
            }
            continue;
        }
        out.push(c);
    }
    let out = out.trim();
    if out.chars().count() > MAX_CAUSE {
        let cut: String = out.chars().take(MAX_CAUSE).collect();
        format!("{cut}...")
    } else {
        out.to_string()
    }
}

/// A PostgreSQL error while `doing` something, classified.
pub fn pg(e: sqlx::Error, doing: impl Into<String>) -> anyhow::Error {
    let doing = doing.into();
    let lost = match &e {
        sqlx::Error::Io(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::PoolClosed
        | sqlx::Error::PoolTimedOut
        | sqlx::Error::WorkerCrashed => true,
        // admin_shutdown (pg_terminate_backend), crash_shutdown, cannot_connect_now, and the
        // connection_exception class.
        sqlx::Error::Database(d) => d
            .code()
            .is_some_and(|c| c.starts_with("57P") || c.starts_with("08")),
        _ => false,
    };
    let cause = match &e {
        sqlx::Error::Database(d) => one_line(d.message()),
        sqlx::Error::Io(io) => one_line(&io.to_string()),
        other => one_line(&other.to_string()),
    };
    if lost {
        anyhow::Error::new(Lost {
            store: Store::Postgres,
            doing,
            cause,
        })
    } else {
        anyhow::Error::new(Failed {
            store: Store::Postgres,
            doing,
            cause,
        })
    }
}

/// Whether a MongoDB error means the connection (or the server) went away.
fn mongo_lost(e: &mongodb::error::Error) -> bool {
    use mongodb::error::{ErrorKind, GridFsErrorKind};
    match e.kind.as_ref() {
        ErrorKind::Io(_)
        | ErrorKind::ConnectionPoolCleared { .. }
        | ErrorKind::ServerSelection { .. }
        | ErrorKind::Shutdown => true,
        ErrorKind::GridFs(GridFsErrorKind::AbortError {
            original_error,
            delete_error,
            ..
        }) => original_error.as_ref().is_some_and(mongo_lost) || mongo_lost(delete_error),
        _ => e.contains_label("NetworkError") || e.contains_label("RetryableWriteError"),
    }
}

/// The reason of a MongoDB error without the driver's raw server reply.
fn mongo_cause(e: &mongodb::error::Error) -> String {
    use mongodb::error::{ErrorKind, GridFsErrorKind};
    match e.kind.as_ref() {
        ErrorKind::GridFs(GridFsErrorKind::AbortError {
            original_error: Some(o),
            ..
        }) => mongo_cause(o),
        kind => one_line(&kind.to_string()),
    }
}

/// A MongoDB error while `doing` something, classified.
pub fn mongo(e: mongodb::error::Error, doing: impl Into<String>) -> anyhow::Error {
    let doing = doing.into();
    let cause = mongo_cause(&e);
    if mongo_lost(&e) {
        anyhow::Error::new(Lost {
            store: Store::Mongo,
            doing,
            cause,
        })
    } else {
        anyhow::Error::new(Failed {
            store: Store::Mongo,
            doing,
            cause,
        })
    }
}

/// An I/O error of a GridFS stream (the driver wraps its own errors in `std::io::Error`).
pub fn mongo_io(e: std::io::Error, doing: impl Into<String>) -> anyhow::Error {
    if let Some(inner) = e
        .get_ref()
        .and_then(|i| i.downcast_ref::<mongodb::error::Error>())
    {
        return mongo(inner.clone(), doing);
    }
    anyhow::Error::new(Lost {
        store: Store::Mongo,
        doing: doing.into(),
        cause: one_line(&e.to_string()),
    })
}

/// The message of a failed seed: the clinic, the cause (with the store's redacted address
/// when a connection was lost), how many clinics are complete, and what to do next.
pub fn report(err: &anyhow::Error, targets: &Targets, complete: u64, total: usize) -> String {
    let clinic_ctx = err.downcast_ref::<Clinic>().map(|c| c.to_string());
    let clinic = clinic_ctx
        .as_ref()
        .map(|c| format!("{c}: "))
        .unwrap_or_default();
    let done = format!("{complete} of {total} clinics are complete (committed in both stores)");
    if let Some(l) = err.downcast_ref::<Lost>() {
        let at = match l.store {
            Store::Postgres => redact(&targets.database_url),
            Store::Mongo => redact(&targets.mongodb_uri),
        };
        return format!(
            "seed failed: {clinic}lost the connection to {} at {at} while {}: {}; {done}; \
             re-run the same command to resume",
            l.store, l.doing, l.cause
        );
    }
    // Everything below the clinic context, one line.
    let cause: Vec<String> = err
        .chain()
        .map(|e| e.to_string())
        .filter(|m| Some(m) != clinic_ctx.as_ref())
        .collect();
    let cause = one_line(&cause.join(": "));
    format!(
        "seed failed: {clinic}{cause}; {done}; fix the cause and re-run the same command to \
         resume"
    )
}

/// Any other error of the seed command, in the same words: a driver error found in the chain
/// is classified (lost connection or not) and shown without the driver's raw server reply.
pub fn reword(err: anyhow::Error, targets: &Targets) -> anyhow::Error {
    let mut contexts = Vec::new();
    let mut found = None;
    for e in err.chain() {
        if let Some(x) = e.downcast_ref::<sqlx::Error>() {
            found = Some(match pg(clone_sqlx(x), "").downcast::<Lost>() {
                Ok(l) => (true, l.store, l.cause),
                Err(f) => (
                    false,
                    Store::Postgres,
                    f.downcast::<Failed>().map(|f| f.cause).unwrap_or_default(),
                ),
            });
            break;
        }
        if let Some(x) = e.downcast_ref::<mongodb::error::Error>() {
            found = Some((mongo_lost(x), Store::Mongo, mongo_cause(x)));
            break;
        }
        contexts.push(e.to_string());
    }
    let Some((lost, store, cause)) = found else {
        return err;
    };
    let doing = contexts.join(": ");
    let doing = if doing.is_empty() {
        String::new()
    } else {
        format!("{doing}: ")
    };
    if lost {
        let at = match store {
            Store::Postgres => redact(&targets.database_url),
            Store::Mongo => redact(&targets.mongodb_uri),
        };
        anyhow::anyhow!(
            "{}lost the connection to {store} at {at}: {cause}; re-run the same command to resume",
            one_line(&doing)
        )
    } else {
        anyhow::anyhow!("{}{}", one_line(&doing), one_line(&cause))
    }
}

/// sqlx errors are not Clone; what [`pg`] needs of one is its kind and its words.
fn clone_sqlx(e: &sqlx::Error) -> sqlx::Error {
    match e {
        sqlx::Error::Io(io) => sqlx::Error::Io(std::io::Error::new(io.kind(), io.to_string())),
        sqlx::Error::Protocol(p) => sqlx::Error::Protocol(p.clone()),
        sqlx::Error::PoolClosed => sqlx::Error::PoolClosed,
        sqlx::Error::PoolTimedOut => sqlx::Error::PoolTimedOut,
        sqlx::Error::WorkerCrashed => sqlx::Error::WorkerCrashed,
        sqlx::Error::Database(d) => match d.code() {
            Some(c) if c.starts_with("57P") || c.starts_with("08") => {
                sqlx::Error::Protocol(d.message().to_string())
            }
            _ => sqlx::Error::Configuration(d.message().to_string().into()),
        },
        other => sqlx::Error::Configuration(other.to_string().into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_strips_escapes_and_bounds_the_length() {
        assert_eq!(
            one_line("\u{1b}[31merror\u{1b}[0m:\nbad\tthing"),
            "error: bad thing"
        );
        let long = "ab".repeat(5_000);
        let got = one_line(&long);
        assert!(got.len() <= MAX_CAUSE + 3, "{}", got.len());
        assert!(got.ends_with("..."));
    }

    #[test]
    fn a_lost_connection_reads_as_such_with_the_redacted_address() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionReset, "connection reset");
        let err = pg(sqlx::Error::Io(io), "COPYing patients").context(Clinic(3));
        let targets = Targets {
            database_url: "postgres://u:hunter2@db:5432/x".into(),
            ..Targets::default()
        };
        let msg = report(&err, &targets, 2, 5);
        assert!(
            msg.contains("clinic 3: lost the connection to PostgreSQL at postgres://u:****@db:5432/x while COPYing patients: connection reset"),
            "{msg}"
        );
        assert!(
            msg.contains("2 of 5 clinics") && msg.contains("re-run the same command"),
            "{msg}"
        );
        assert!(!msg.contains("hunter2"));
    }
}
