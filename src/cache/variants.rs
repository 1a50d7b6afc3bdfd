//! A scenario's `[cache]` section and its `[[variant]]`s: the same load run once per variant,
//! one after the other, into one report, so strategies are compared side by side under the
//! same scenario, dataset and machine.
//!
//! ```toml
//! [cache]                       # applies to every variant
//! strategy = "cache-aside"
//! ttl = "1h"
//!
//! [[variant]]
//! name = "no-cache"
//! strategy = "none"             # any [cache] key may be overridden
//!
//! [[variant]]
//! name = "warm"
//! prewarm = true                # fill every key the reads can touch before the run
//! ```
//!
//! Each variant starts from an empty cache (its schedule keys under the prefix are deleted),
//! unless `prewarm` fills them first.

use serde::Serialize;

use super::CacheConfig;

/// One way of running the scenario's cache.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CacheVariant {
    pub name: String,
    pub config: CacheConfig,
    /// Fill every (doctor, day) the schedule reads can draw before the run starts.
    pub prewarm: bool,
}

/// Keys a variant table may hold besides those of [`CacheConfig`].
const VARIANT_KEYS: &[&str] = &["name", "prewarm"];

/// The variants of a scenario: one per `[[variant]]`, or a single one named after the
/// strategy when there are none. `Err` is a message for the scenario file's error.
pub fn resolve(
    cache: Option<&toml::Table>,
    variants: &[toml::Table],
) -> Result<Vec<CacheVariant>, String> {
    let mut base_config = cache.cloned().unwrap_or_default();
    let base_prewarm = take_prewarm(&mut base_config)?;
    if variants.is_empty() {
        let config = config_from(&base_config, "[cache]")?;
        return Ok(vec![CacheVariant {
            name: config.strategy.name().to_string(),
            config,
            prewarm: base_prewarm,
        }]);
    }
    let mut out: Vec<CacheVariant> = Vec::new();
    for (i, v) in variants.iter().enumerate() {
        let name = match v.get("name") {
            Some(toml::Value::String(s)) if valid_name(s) => s.clone(),
            Some(_) => {
                return Err(format!(
                    "variant {} needs a name of letters, digits, '-' or '_' (it names a report directory)",
                    i + 1
                ))
            }
            None => return Err(format!("variant {} has no name", i + 1)),
        };
        if out.iter().any(|o| o.name == name) {
            return Err(format!("two variants are named {name:?}"));
        }
        let mut merged = base_config.clone();
        let mut overlay = v.clone();
        let prewarm = match overlay.contains_key("prewarm") {
            true => take_prewarm(&mut overlay)?,
            false => base_prewarm,
        };
        for (k, val) in overlay {
            if !VARIANT_KEYS.contains(&k.as_str()) {
                merged.insert(k, val);
            }
        }
        let config = config_from(&merged, &format!("variant {name:?}"))?;
        out.push(CacheVariant {
            name,
            config,
            prewarm,
        });
    }
    Ok(out)
}

fn take_prewarm(t: &mut toml::Table) -> Result<bool, String> {
    match t.remove("prewarm") {
        None => Ok(false),
        Some(toml::Value::Boolean(b)) => Ok(b),
        Some(_) => Err("prewarm must be true or false".into()),
    }
}

fn config_from(t: &toml::Table, what: &str) -> Result<CacheConfig, String> {
    let config: CacheConfig = toml::Value::Table(t.clone()).try_into().map_err(|e| {
        format!(
            "{what}: {}; cache keys are strategy (\"none\", \"cache-aside\", \"single-flight\", \
             \"write-through\"), ttl, invalidate_on_write, guard_fills, key_prefix, count_stale_reads, prewarm",
            e.to_string().trim()
        )
    })?;
    config.validate().map_err(|e| format!("{what}: {e}"))?;
    Ok(config)
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cache::Strategy;

    fn tables(src: &str) -> (Option<toml::Table>, Vec<toml::Table>) {
        let mut t: toml::Table = toml::from_str(src).unwrap();
        let cache = t.remove("cache").map(|v| v.as_table().unwrap().clone());
        let variants = t
            .remove("variant")
            .map(|v| {
                v.as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_table().unwrap().clone())
                    .collect()
            })
            .unwrap_or_default();
        (cache, variants)
    }

    #[test]
    fn variants_override_the_cache_section() {
        let (c, v) = tables(
            "[cache]\nttl = \"10s\"\ncount_stale_reads = true\n\
             [[variant]]\nname = \"none\"\nstrategy = \"none\"\n\
             [[variant]]\nname = \"warm\"\nprewarm = true\n",
        );
        let vs = resolve(c.as_ref(), &v).unwrap();
        assert_eq!(vs.len(), 2);
        assert_eq!(vs[0].config.strategy, Strategy::NoCache);
        assert_eq!(vs[0].config.ttl, std::time::Duration::from_secs(10));
        assert!(vs[0].config.count_stale_reads && !vs[0].prewarm);
        assert_eq!(vs[1].config.strategy, Strategy::CacheAside);
        assert!(vs[1].prewarm);
    }

    #[test]
    fn bad_variants_are_explained() {
        let (c, v) = tables("[[variant]]\nname = \"a\"\nstrategy = \"lru\"\n");
        assert!(resolve(c.as_ref(), &v)
            .unwrap_err()
            .contains("variant \"a\""));
        let (c, v) = tables("[[variant]]\nstrategy = \"none\"\n");
        assert!(resolve(c.as_ref(), &v).unwrap_err().contains("no name"));
        let (c, v) = tables("[[variant]]\nname = \"a\"\n[[variant]]\nname = \"a\"\n");
        assert!(resolve(c.as_ref(), &v)
            .unwrap_err()
            .contains("two variants"));
        let single = resolve(None, &[]).unwrap();
        assert_eq!(single[0].name, "cache-aside");
    }
}
