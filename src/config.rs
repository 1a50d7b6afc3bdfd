//! Where the three stores are: URLs from flags or the environment, defaulting to the local
//! stack that `scripts/stack up` starts, and the redaction every URL goes through before it
//! is printed or written anywhere.

use clap::Args;

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
}

impl Default for Targets {
    fn default() -> Self {
        Targets {
            database_url: DEFAULT_DATABASE_URL.into(),
            mongodb_uri: DEFAULT_MONGODB_URI.into(),
            mongo_database: None,
            redis_url: DEFAULT_REDIS_URL.into(),
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
}

/// Replaces the password (and any `password=` query parameter) in a URL with `****`.
/// Strings that do not parse as URLs are redacted after the last `:` before an `@`.
pub fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("****"));
            }
            let pairs: Vec<(String, String)> = parsed
                .query_pairs()
                .map(|(k, v)| {
                    let secret = matches!(
                        k.to_ascii_lowercase().as_str(),
                        "password" | "pass" | "pwd" | "authsecret"
                    );
                    (
                        k.into_owned(),
                        if secret {
                            "****".to_string()
                        } else {
                            v.into_owned()
                        },
                    )
                })
                .collect();
            if !pairs.is_empty() {
                parsed.query_pairs_mut().clear().extend_pairs(pairs);
            }
            parsed.to_string()
        }
        Err(_) => match (url.rfind('@'), url.find("://")) {
            (Some(at), Some(scheme)) => {
                let creds = &url[scheme + 3..at];
                match creds.find(':') {
                    Some(colon) => format!(
                        "{}{}:****{}",
                        &url[..scheme + 3],
                        &creds[..colon],
                        &url[at..]
                    ),
                    None => url.to_string(),
                }
            }
            _ => url.to_string(),
        },
    }
}

/// Replaces every occurrence of the targets' URLs in `text` by their redacted form, for
/// error messages produced by drivers that echo the URL back.
pub fn redact_in(text: &str, targets: &Targets) -> String {
    let mut out = text.to_string();
    for url in [
        &targets.database_url,
        &targets.mongodb_uri,
        &targets.redis_url,
    ] {
        if let Ok(parsed) = url::Url::parse(url) {
            if let Some(pw) = parsed.password() {
                // Only in credential position: a bare word may also occur in ordinary text.
                if !pw.is_empty() {
                    out = out.replace(&format!(":{pw}@"), ":****@");
                }
            }
        }
        out = out.replace(url.as_str(), &redact(url));
    }
    out
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
}
