//! What a scenario chooses about the cache: the strategy, the TTL, whether writes invalidate,
//! the key prefix. Plain data deserialised from a scenario's `[cache]` section, so the same
//! load can be run under each strategy by changing one line.

use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// How a doctor's daily schedule is read and kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    /// Every read queries PostgreSQL; Redis is not touched (the baseline).
    #[serde(rename = "none")]
    NoCache,
    /// MVP-004 as documented: GET; on a miss query PostgreSQL, then `SET key value EX ttl`.
    CacheAside,
    /// Cache-aside where concurrent misses on one key cause one database query.
    SingleFlight,
    /// Cache-aside reads; writes rewrite the day's cached value instead of deleting it.
    WriteThrough,
}

impl Strategy {
    /// The name used in scenario files and reports.
    pub fn name(self) -> &'static str {
        match self {
            Strategy::NoCache => "none",
            Strategy::CacheAside => "cache-aside",
            Strategy::SingleFlight => "single-flight",
            Strategy::WriteThrough => "write-through",
        }
    }
}

impl std::fmt::Display for Strategy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The documented expiry: `EX 3600`.
pub const DOCUMENTED_TTL: Duration = Duration::from_secs(3600);

/// A scenario's `[cache]` section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    pub strategy: Strategy,
    /// Expiry of a cached schedule; "1h", "30s", "500ms" or a number of seconds.
    #[serde(
        deserialize_with = "deserialize_duration",
        serialize_with = "serialize_duration"
    )]
    pub ttl: Duration,
    /// Whether book / cancel / reschedule / check-in delete (or, for write-through, rewrite)
    /// the day's key after committing. `false` is the "no invalidation" strategy whose stale
    /// reads the invalidation scenario counts.
    pub invalidate_on_write: bool,
    /// Prepended to every key; empty in production, so keys are exactly
    /// `doctor:{id}:schedule:{date}`. Tests and side-by-side variants use it to stay apart.
    pub key_prefix: String,
    /// Check every read against the writes acknowledged before it started (costs a JSON
    /// parse per read, no database query); see `cache::stale`.
    pub count_stale_reads: bool,
    /// Refuse a miss's fill (and a write-through rewrite) if the key was invalidated since
    /// the read looked; closes cache-aside's late-fill race (see `cache::guard`). Off by
    /// default: the documented strategy has no guard.
    pub guard_fills: bool,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            strategy: Strategy::CacheAside,
            ttl: DOCUMENTED_TTL,
            invalidate_on_write: true,
            key_prefix: String::new(),
            count_stale_reads: false,
            guard_fills: false,
        }
    }
}

impl CacheConfig {
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.ttl < Duration::from_millis(1) {
            anyhow::bail!(
                "cache ttl must be at least 1ms (got {:?}); the documented value is \"1h\"",
                self.ttl
            );
        }
        Ok(())
    }
}

/// Parses "1h", "30m", "10s", "250ms" or a plain number of seconds ("3600").
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number.parse().map_err(|_| {
        format!("invalid duration {text:?}: expected e.g. \"1h\", \"30s\", \"500ms\"")
    })?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86400.0,
        other => {
            return Err(format!(
                "invalid duration unit {other:?} in {text:?}: use ms, s, m, h or d"
            ))
        }
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("invalid duration {text:?}"));
    }
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("duration {text:?} is too long"))
}

fn deserialize_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Seconds(u64),
        Text(String),
    }
    match Raw::deserialize(d)? {
        Raw::Seconds(s) => Ok(Duration::from_secs(s)),
        Raw::Text(t) => parse_duration(&t).map_err(serde::de::Error::custom),
    }
}

fn serialize_duration<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    if d.subsec_millis() == 0 && d.subsec_nanos() == 0 {
        s.serialize_str(&format!("{}s", d.as_secs()))
    } else {
        s.serialize_str(&format!("{}ms", d.as_millis()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert!(parse_duration("1 fortnight").is_err());
    }

    #[test]
    fn config_from_toml_uses_serde_names_and_defaults() {
        let c: CacheConfig = toml::from_str("strategy = \"single-flight\"\nttl = \"2s\"").unwrap();
        assert_eq!(c.strategy, Strategy::SingleFlight);
        assert_eq!(c.ttl, Duration::from_secs(2));
        assert!(c.invalidate_on_write);
        assert_eq!(c.key_prefix, "");
        let none: CacheConfig = toml::from_str("strategy = \"none\"").unwrap();
        assert_eq!(none.strategy, Strategy::NoCache);
        assert_eq!(CacheConfig::default().ttl, Duration::from_secs(3600));
        assert!(toml::from_str::<CacheConfig>("strategy = \"lru\"").is_err());
        assert!(toml::from_str::<CacheConfig>("tll = \"1h\"").is_err());
    }
}
