//! Where the three stores are: URLs from flags or the environment, defaulting to the local
//! stack that `scripts/stack up` starts, and the redaction every URL goes through before it
//! is printed or written anywhere.

use clap::Args;
use serde::{Deserialize, Serialize};

/// The local stack's URLs (see `scripts/stack`); docker-compose.yml publishes the same ports.
pub const DEFAULT_DATABASE_URL: &str =
    "postgres://clinicload:clinicload@127.0.0.1:55432/clinicload";
pub const DEFAULT_MONGODB_URI: &str = "mongodb://127.0.0.1:57017/";
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:56379/";
pub const DEFAULT_MONGO_DATABASE: &str = "clinicload";

/// Connection targets shared by every command.
#[derive(Args, Debug, Clone)]
pub struct Targets {
    /// PostgreSQL URL
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, global = true, hide_env_values = true, hide_default_value = true)]
    pub database_url: String,

    /// MongoDB (or MongoDB-compatible server) URI
    #[arg(long, env = "MONGODB_URI", default_value = DEFAULT_MONGODB_URI, global = true, hide_env_values = true, hide_default_value = true)]
    pub mongodb_uri: String,

    /// MongoDB database that holds clinicalNotes, voiceRecordings and the GridFS bucket
    /// [default: the URI's database, else "clinicload"]
    #[arg(long, env = "MONGODB_DATABASE", global = true)]
    pub mongo_database: Option<String>,

    /// Redis URL
    #[arg(long, env = "REDIS_URL", default_value = DEFAULT_REDIS_URL, global = true, hide_env_values = true, hide_default_value = true)]
    pub redis_url: String,

    /// PostgreSQL database behind a FerretDB server (FerretDB's own variable), where
    /// `migrate` adds companion indexes [default: the --database-url server, database "ferretdb"]
    #[arg(
        long,
        env = "FERRETDB_POSTGRESQL_URL",
        global = true,
        hide_env_values = true
    )]
    pub ferretdb_postgresql_url: Option<String>,
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            database_url: DEFAULT_DATABASE_URL.into(),
            mongodb_uri: DEFAULT_MONGODB_URI.into(),
            mongo_database: None,
            redis_url: DEFAULT_REDIS_URL.into(),
            ferretdb_postgresql_url: None,
        }
    }
}

impl Targets {
    /// The MongoDB database name: explicit flag, else the URI's path, else "clinicload".
    pub fn mongo_database_name(&self) -> String {
        if let Some(db) = &self.mongo_database {
            return db.clone();
        }
        url::Url::parse(&self.mongodb_uri)
            .ok()
            .and_then(|u| {
                let path = u.path().trim_start_matches('/').to_string();
                (!path.is_empty()).then_some(path)
            })
            .unwrap_or_else(|| DEFAULT_MONGO_DATABASE.to_string())
    }

    /// The PostgreSQL database behind FerretDB: explicit flag, else the `--database-url`
    /// server with database `ferretdb` (what `scripts/stack` runs FerretDB on).
    pub fn ferretdb_postgresql_url(&self) -> String {
        if let Some(url) = &self.ferretdb_postgresql_url {
            return url.clone();
        }
        let dsn = self.database_url.contains('=') && !self.database_url.contains("://");
        if dsn {
            // A libpq key-value DSN: name the database in it.
            return format!("{} dbname=ferretdb", self.database_url);
        }
        // `user:password@host/db` without a scheme is a URL for the drivers too.
        let url = if self.database_url.contains("://") {
            self.database_url.clone()
        } else {
            format!("postgres://{}", self.database_url)
        };
        match url::Url::parse(&url) {
            Ok(mut u) if u.has_host() => {
                u.set_path("/ferretdb");
                u.to_string()
            }
            _ => url,
        }
    }
}

/// Replaces every secret in a connection target with `****`, whatever its form: the
/// password of a URL's user info (`postgres://u:****@h/db`, MongoDB multi-host and
/// `mongodb+srv`, `redis://:****@h`), even when it holds raw `@ / # ?` characters; secret
/// key-value pairs of a libpq DSN (`host=db password=****`, quoted values too) and of a URL's
/// query (`?password=****`); and `user:password@host` without a scheme. Never panics: every
/// cut is at an ASCII delimiter found in the same string. When in doubt it hides too much
/// (the host of a URL with `@` in its query), never too little.
pub fn redact(target: &str) -> String {
    let (head, rest) = match target.find("://") {
        Some(i) if is_scheme(&target[..i]) => target.split_at(i + 3),
        // No scheme: only a whole-word `user:password@host` has user info.
        _ if !target.contains(char::is_whitespace) => ("", target),
        // Several words (a DSN, or a message): each word that holds user info on its own.
        _ => {
            let words: String = target
                .split_inclusive(char::is_whitespace)
                .map(|piece| {
                    let word = piece.trim_end_matches(char::is_whitespace);
                    let gap = &piece[word.len()..];
                    if word.contains('@') && !word.contains('=') && !word.is_empty() {
                        format!("{}{gap}", redact(word))
                    } else {
                        piece.to_string()
                    }
                })
                .collect();
            return redact_assignments(&words);
        }
    };
    match userinfo(rest) {
        Some((user, at)) => format!("{head}{user}:****@{}", redact_assignments(&rest[at + 1..])),
        None => format!("{head}{}", redact_assignments(rest)),
    }
}

fn is_scheme(s: &str) -> bool {
    s.starts_with(|c: char| c.is_ascii_alphabetic())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// The user name and the offset of the `@` that ends the user info, when `rest` (what
/// follows `scheme://`) has a password. The last `@` is taken: a password may hold raw
/// `@`, `/`, `?` or `#`, and a host never holds `@`.
fn userinfo(rest: &str) -> Option<(&str, usize)> {
    let at = rest.rfind('@')?;
    let colon = rest[..at].find(':')?;
    Some((&rest[..colon], at))
}

/// Whether a DSN or query key names a secret.
fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    matches!(
        k.as_str(),
        "pass" | "passwd" | "pwd" | "authsecret" | "apikey" | "api_key"
    ) || k.ends_with("password")
        || k.ends_with("secret")
        || k.ends_with("token")
}

/// Replaces the value of every `secret_key=value` (libpq DSN, URL query, `;`-separated
/// strings; spaces around `=` allowed; quoted values to their closing quote, unquoted ones
/// to the next space, `&`, `;` or `,`) by `****`.
fn redact_assignments(text: &str) -> String {
    scan_assignments(text, &mut Vec::new())
}

/// [`redact_assignments`], also collecting the values it hid into `hidden`.
fn scan_assignments(text: &str, hidden: &mut Vec<String>) -> String {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '_';
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(key_start) = rest.find(is_key_char) {
        let key_end = rest[key_start..]
            .find(|c: char| !is_key_char(c))
            .map_or(rest.len(), |n| key_start + n);
        out.push_str(&rest[..key_end]);
        let key = &rest[key_start..key_end];
        rest = &rest[key_end..];
        let Some(value_part) = rest.trim_start().strip_prefix('=') else {
            continue;
        };
        if !is_secret_key(key) {
            continue;
        }
        let value = value_part.trim_start();
        out.push_str(&rest[..rest.len() - value.len()]);
        let consumed = match value.chars().next() {
            Some(q @ ('\'' | '"')) => {
                // To the closing quote; a backslash escapes the next character.
                let mut close = None;
                let mut escaped = false;
                for (i, c) in value.char_indices().skip(1) {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == q {
                        close = Some(i);
                        break;
                    }
                }
                let inner_end = close.unwrap_or(value.len());
                let inner = &value[1..inner_end];
                hidden.push(inner.to_string());
                hidden.push(inner.replace("\\'", "'").replace("\\\\", "\\"));
                out.push(q);
                out.push_str("****");
                match close {
                    Some(i) => {
                        out.push(q);
                        i + 1
                    }
                    None => value.len(),
                }
            }
            _ => {
                let end = value
                    .find(|c: char| c.is_whitespace() || matches!(c, '&' | ';' | ','))
                    .unwrap_or(value.len());
                if end > 0 {
                    hidden.push(value[..end].to_string());
                    out.push_str("****");
                }
                end
            }
        };
        rest = &value[consumed..];
    }
    out.push_str(rest);
    out
}

/// The secrets a target holds, as written and percent-decoded: what must never appear in
/// output, wherever a driver might echo it.
fn secrets(target: &str) -> Vec<String> {
    let mut found = Vec::new();
    let rest = match target.find("://") {
        Some(i) if is_scheme(&target[..i]) => &target[i + 3..],
        _ => target,
    };
    if !rest.contains(char::is_whitespace) {
        if let Some((user, at)) = userinfo(rest) {
            found.push(rest[user.len() + 1..at].to_string());
        }
    }
    scan_assignments(target, &mut found);
    // Each also as a driver may show it: decoded, or encoded as a URL would re-encode it.
    let variants: Vec<String> = found
        .iter()
        .flat_map(|s| {
            let decoded =
                url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default();
            let form: String = url::form_urlencoded::byte_serialize(s.as_bytes()).collect();
            let mut u = url::Url::parse("x://h").expect("a valid URL");
            let userinfo = match u.set_password(Some(s)) {
                Ok(()) => u.password().unwrap_or_default().to_string(),
                Err(()) => String::new(),
            };
            [decoded, form, userinfo]
        })
        .collect();
    found.extend(variants);
    found.retain(|s| !s.is_empty());
    found.sort();
    found.dedup();
    found
}

/// Redacts the targets' secrets in `text` (error messages of drivers that echo a URL or
/// part of it): each target as written, each secret in credential position (`:pw@`,
/// `=pw`), and each secret of 4 or more characters anywhere unless it is also a visible
/// part of the target (the local stack's user, password and database are all
/// "clinicload"); then every `password=...` the text itself holds.
pub fn redact_in(text: &str, targets: &Targets) -> String {
    let mut out = text.to_string();
    for target in [
        &targets.database_url,
        &targets.mongodb_uri,
        &targets.redis_url,
        targets
            .ferretdb_postgresql_url
            .as_ref()
            .unwrap_or(&String::new()),
    ] {
        if target.is_empty() {
            continue;
        }
        let visible = redact(target);
        out = out.replace(target.as_str(), &visible);
        for secret in secrets(target) {
            out = out.replace(&format!(":{secret}@"), ":****@");
            out = out.replace(&format!("={secret}"), "=****");
            if secret.chars().count() >= 4 && !visible.contains(&secret) {
                out = out.replace(&secret, "****");
            }
        }
    }
    redact_assignments(&out)
}

/// Worker `index` of `count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Worker {
    pub index: u32,
    pub count: u32,
}

impl std::fmt::Display for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl std::str::FromStr for Worker {
    type Err = String;

    fn from_str(s: &str) -> Result<Worker, String> {
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| format!("{s:?}: give the worker as i/n, e.g. 0/4"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: the worker index {i:?} is not a number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| format!("{s:?}: the worker count {n:?} is not a number"))?;
        if count == 0 || count > 1024 || index >= count {
            return Err(format!(
                "{s:?}: give 0 <= i < n <= 1024 (worker indexes count from 0, as JOB_COMPLETION_INDEX does)"
            ));
        }
        Ok(Worker { index, count })
    }
}

impl Worker {
    /// Whether arrival `k` of the one-process schedule (or virtual user `k`) is this worker's:
    /// the worker a hash of `k` names. (`k % n` would hand each worker a fixed part of the
    /// operation mix whenever n and the mix cycle share a factor; a hashed share keeps every
    /// worker's mix the scenario's, and thins Poisson arrivals into Poisson arrivals.)
    pub fn owns(&self, k: u64) -> bool {
        splitmix64(k) % u64::from(self.count) == u64::from(self.index)
    }

    /// Whether the row or document with this id is this worker's write target.
    pub fn owns_id(&self, id: &[u8]) -> bool {
        fnv1a(id) % u64::from(self.count) == u64::from(self.index)
    }

    /// The seed of this worker's parameter draws: distinct per worker, the same on a re-run.
    pub fn param_seed(&self, seed: u64) -> u64 {
        seed ^ (u64::from(self.index) + 1).wrapping_mul(0xD6E8_FEB8_6659_FD93)
    }
}

/// SplitMix64's finalizer: a stable, well-mixed hash of an index.
fn splitmix64(k: u64) -> u64 {
    let mut z = k.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a: a stable hash (the same in every process and version), unlike std's.
fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_in_urls() {
        assert_eq!(
            redact("postgres://u:secret@localhost:5432/db"),
            "postgres://u:****@localhost:5432/db"
        );
        assert_eq!(
            redact("mongodb://admin:p%40ss@h:27017/x?authSource=admin"),
            "mongodb://admin:****@h:27017/x?authSource=admin"
        );
        assert_eq!(
            redact("redis://:topsecret@127.0.0.1:6379/0"),
            "redis://:****@127.0.0.1:6379/0"
        );
        assert_eq!(
            redact("postgres://h/db?password=hunter2&sslmode=disable"),
            "postgres://h/db?password=****&sslmode=disable"
        );
        assert_eq!(redact("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
        let t = Targets {
            database_url: "postgres://u:hunter2@h/db".into(),
            ..Targets::default()
        };
        assert!(!redact_in(
            "error connecting to postgres://u:hunter2@h/db (u:hunter2@h)",
            &t
        )
        .contains("hunter2"));
    }

    #[test]
    fn mongo_database_from_uri_or_default() {
        let mut t = Targets::default();
        assert_eq!(t.mongo_database_name(), "clinicload");
        t.mongodb_uri = "mongodb://h:1/clinic_a?x=1".into();
        assert_eq!(t.mongo_database_name(), "clinic_a");
        t.mongo_database = Some("other".into());
        assert_eq!(t.mongo_database_name(), "other");
    }

    #[test]
    fn user_info_inside_a_multi_word_target_is_redacted() {
        for t in [
            "app:pw1@127.0.0.1:1/db dbname=ferretdb",
            "app:pw1@127.0.0.1:1/db\tdbname=ferretdb",
            "x\npostgres://u:pw1@h/db\n",
        ] {
            let r = redact(t);
            assert!(!r.contains("pw1"), "{t:?} -> {r:?}");
        }
        let t = Targets {
            database_url: "app:pw1@127.0.0.1:1/db".into(),
            ..Targets::default()
        };
        assert_eq!(
            t.ferretdb_postgresql_url(),
            "postgres://app:pw1@127.0.0.1:1/ferretdb"
        );
    }

    #[test]
    fn ferretdb_backing_database_defaults_to_the_postgresql_server() {
        let mut t = Targets {
            database_url: "postgres://u:pw@db:5433/clinic?sslmode=disable".into(),
            ..Targets::default()
        };
        assert_eq!(
            t.ferretdb_postgresql_url(),
            "postgres://u:pw@db:5433/ferretdb?sslmode=disable"
        );
        t.ferretdb_postgresql_url = Some("postgres://f:hunter2@fh/fdb".into());
        assert_eq!(t.ferretdb_postgresql_url(), "postgres://f:hunter2@fh/fdb");
        assert!(!redact_in("cannot reach postgres://f:hunter2@fh/fdb", &t).contains("hunter2"));
    }
}
