//! Scenario files: TOML in, a validated [`Scenario`] out, or an error that names the file,
//! the line and what to do about it — before any connection is opened, so a typo never
//! costs a warm-up.
//!
//! ```toml
//! name = "dashboard-morning"
//! description = "Doctors open their dashboards when the clinic opens"
//! duration = "60s"
//! warmup = "10s"           # or "auto": until every operation's p50 is stable (warmup_max)
//!
//! [load]
//! model = "open"            # "open": arrival rate; "closed": virtual users
//! rate = 500                # operations per second (open)
//! ramp = "20s"              # optional: rate rises linearly from ramp_from (default 0)
//! connections = { postgres = 16, mongo = 8, redis = 16 }
//!
//! [[op]]
//! name = "appointments_today"
//! weight = 60
//! doctor = "busy_doctor"    # how the parameter is drawn from the seeded data
//! ```
//!
//! The full format is in docs/scenarios.md.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use toml::Spanned;

use crate::scenario::catalog::Entity;
use crate::scenario::ops::{self, OpDef, OpKind, ParamKind, Store, OPS};

/// How parameters are drawn from the dataset.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Dist {
    Uniform,
    /// Zipf over the sampled rows with exponent s: a few rows are hot.
    Zipf(f64),
    /// Rows that have appointments today (the doctors or patients of today's schedule).
    Today,
    /// Doctors ranked by today's appointment count, the busiest drawn most often.
    BusyDoctor,
}

impl Dist {
    fn parse(s: &str) -> Result<Dist, String> {
        let t = s.trim();
        match t {
            "uniform" => return Ok(Dist::Uniform),
            "today" => return Ok(Dist::Today),
            "busy_doctor" => return Ok(Dist::BusyDoctor),
            _ => {}
        }
        if let Some(inner) = t.strip_prefix("zipf(").and_then(|r| r.strip_suffix(')')) {
            let s: f64 = inner
                .trim()
                .parse()
                .map_err(|_| format!("zipf exponent {} is not a number", shorten(inner)))?;
            if !(s > 0.0 && s <= 10.0) {
                return Err(format!(
                    "zipf exponent {} must be in (0, 10]",
                    shorten(inner.trim())
                ));
            }
            return Ok(Dist::Zipf(s));
        }
        Err(format!("unknown distribution {}", shorten(t)))
    }

    pub fn name(&self) -> &'static str {
        match self {
            Dist::Uniform => "uniform",
            Dist::Zipf(_) => "zipf",
            Dist::Today => "today",
            Dist::BusyDoctor => "busy_doctor",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Dist::Zipf(s) => format!("zipf({s})"),
            other => other.name().to_string(),
        }
    }
}

/// The load model.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "model", rename_all = "snake_case")]
pub enum Load {
    /// Arrivals at `rate` per second (optionally ramping up from `ramp_from` over `ramp`),
    /// latency measured from each arrival's intended start.
    Open {
        rate: f64,
        ramp_from: f64,
        #[serde(with = "secs")]
        ramp: Duration,
        /// Operations that may be in flight at once (workers taking arrivals).
        max_in_flight: usize,
        /// Evenly spaced (default) or Poisson arrivals.
        #[serde(skip_serializing_if = "is_uniform")]
        arrivals: crate::scenario::schedule::Arrivals,
    },
    /// `users` virtual users, each: run an operation, wait `think_time`, repeat.
    Closed {
        users: usize,
        #[serde(with = "secs")]
        think_time: Duration,
    },
}

fn is_uniform(a: &crate::scenario::schedule::Arrivals) -> bool {
    *a == crate::scenario::schedule::Arrivals::Uniform
}

mod secs {
    use std::time::Duration;
    pub fn serialize<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(d.as_secs_f64())
    }
}

/// Pool sizes per store.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Connections {
    pub postgres: u32,
    pub mongo: u32,
    pub redis: u32,
}

/// A parameter's value after validation (defaults filled in).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(untagged)]
pub enum ParamValue {
    Pick {
        #[serde(skip)]
        entity: Entity,
        dist: String,
        #[serde(skip)]
        parsed: Dist,
    },
    Int(i64),
    Text(String),
}

/// One operation of the mix.
#[derive(Debug, Clone, serde::Serialize)]
pub struct OpSpec {
    #[serde(serialize_with = "op_name", rename = "name")]
    pub def: &'static OpDef,
    pub weight: u32,
    #[serde(serialize_with = "params_map")]
    pub params: Vec<(String, ParamValue)>,
    /// `expect = { ... }`: what the operation's plan must do (`crate::explain::expect`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expect: Option<Expect>,
}

fn params_map<S: serde::Serializer>(p: &[(String, ParamValue)], s: S) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut m = s.serialize_map(Some(p.len()))?;
    for (k, v) in p {
        m.serialize_entry(k, v)?;
    }
    m.end()
}

fn op_name<S: serde::Serializer>(d: &&'static OpDef, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(d.name)
}

impl OpSpec {
    pub fn name(&self) -> &'static str {
        self.def.name
    }

    fn param(&self, name: &str) -> Option<&ParamValue> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The distribution of entity parameter `name` (uniform if the op has no such parameter).
    pub fn dist(&self, name: &str) -> Dist {
        match self.param(name) {
            Some(ParamValue::Pick { parsed, .. }) => *parsed,
            _ => Dist::Uniform,
        }
    }

    pub fn int(&self, name: &str) -> i64 {
        match self.param(name) {
            Some(ParamValue::Int(v)) => *v,
            _ => 0,
        }
    }

    pub fn text(&self, name: &str) -> &str {
        match self.param(name) {
            Some(ParamValue::Text(v)) => v,
            _ => "",
        }
    }

    /// Every (entity, distribution) this op draws, including the entities it consumes.
    pub fn draws(&self) -> Vec<(Entity, Dist)> {
        let mut out: Vec<(Entity, Dist)> = self
            .params
            .iter()
            .filter_map(|(_, v)| match v {
                ParamValue::Pick { entity, parsed, .. } => Some((*entity, *parsed)),
                _ => None,
            })
            .collect();
        out.extend(self.def.uses.iter().map(|e| (*e, Dist::Uniform)));
        out
    }
}

/// A validated scenario.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scenario {
    pub name: String,
    pub description: String,
    pub file: PathBuf,
    #[serde(with = "secs")]
    pub duration: Duration,
    /// The warm-up: run, not recorded. With `warmup = "auto"` the longest it may last (its
    /// cap, `warmup_max`): what the run plans for (write pools, time, disk).
    #[serde(with = "secs")]
    pub warmup: Duration,
    /// `warmup = "auto"` (or `--warmup auto`): warm up until every operation's per-second p50
    /// is stable (`crate::scenario::steady`), at most `warmup`.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub warmup_auto: bool,
    /// Per-operation timeout; a slower operation counts as a "timeout" error.
    #[serde(with = "secs")]
    pub timeout: Duration,
    /// Seed of the workers' random choices (operations and parameters).
    pub seed: u64,
    /// Share of measured arrivals (0..=1) that may end failed, timed out, missed or
    /// abandoned before the run exits with `exit::OPERATIONS_FAILED` (default 0).
    pub max_error_rate: f64,
    pub load: Load,
    pub connections: Connections,
    pub ops: Vec<OpSpec>,
    /// The schedule cache's variants (`[cache]` and `[[variant]]`, see `cache::variants`):
    /// empty when the scenario neither configures a cache nor uses a cache operation; more
    /// than one runs the scenario once per variant into one report.
    pub cache: Vec<crate::cache::variants::CacheVariant>,
    /// The `[[variant]]`s, in order (empty without any): each runs the scenario; `cache`, when
    /// not empty, holds their cache settings at the same positions. A scenario whose every
    /// variant changes the indexes gets a first variant "as-migrated" to compare them with.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub variants: Vec<Variant>,
    /// `clinic_rate`: the operations per second one clinic like the seeded ones generates,
    /// so a capacity sweep can answer in clinics.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clinic_rate: Option<f64>,
    /// `[thresholds]` and `--threshold`, judged on the finished run (`crate::thresholds`).
    pub thresholds: Vec<crate::thresholds::Threshold>,
    /// `abort_on_fail = true` in `[thresholds]`: after this grace period (`abort_grace`,
    /// default 10 s) of the measured window, a threshold that fails on the run so far ends it.
    #[serde(serialize_with = "opt_secs", rename = "abort_on_fail_after_s")]
    pub abort_on_fail: Option<Duration>,
    /// `--worker i/n`: this process runs worker i's share (`crate::distributed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker: Option<crate::config::Worker>,
}

/// One `[[variant]]` of a scenario: its name and what it does to the indexes
/// (the index A/B, `crate::index_ab`); its cache settings are in [`Scenario::cache`].
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Variant {
    pub name: String,
    #[serde(skip_serializing_if = "crate::restore::index_changes::IndexChange::is_empty")]
    pub indexes: crate::restore::index_changes::IndexChange,
}

/// What a scenario expects of one operation's plan.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Expect {
    /// The plan reads through this index (a bitmap scan counts).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uses_index: Option<String>,
    /// No sequential scan of these tables.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub no_seq_scan: Vec<String>,
    /// Rows examined per row returned, at most.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_examined_per_row: Option<f64>,
}

/// The name of the variant added in front of index variants that all change the schema.
pub const AS_MIGRATED: &str = "as-migrated";

fn opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_some(&d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl Scenario {
    /// Whether any operation uses `store`.
    pub fn uses(&self, store: Store) -> bool {
        self.ops.iter().any(|o| o.def.store == store)
    }
}

/// A scenario file problem: where and what, and what to try. `line` 0 means the problem is
/// not on a line of the file (it cannot be read, or a command-line flag is wrong).
#[derive(Debug, Clone, thiserror::Error)]
pub struct SpecError {
    pub file: String,
    pub line: usize,
    pub message: String,
    pub hint: String,
}

impl std::fmt::Display for SpecError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}\n  hint: {}", self.file, self.message, self.hint)
        } else {
            write!(
                f,
                "{}:{}: {}\n  hint: {}",
                self.file, self.line, self.message, self.hint
            )
        }
    }
}

// ---- raw TOML shape ------------------------------------------------------------------

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawScenario {
    name: Spanned<String>,
    #[serde(default)]
    description: String,
    duration: Spanned<String>,
    warmup: Option<Spanned<String>>,
    warmup_max: Option<Spanned<String>>,
    timeout: Option<Spanned<String>>,
    seed: Option<u64>,
    max_error_rate: Option<Spanned<f64>>,
    load: Spanned<RawLoad>,
    #[serde(default)]
    op: Vec<Spanned<toml::Table>>,
    cache: Option<Spanned<toml::Table>>,
    #[serde(default)]
    variant: Vec<Spanned<toml::Table>>,
    thresholds: Option<Spanned<toml::Table>>,
    clinic_rate: Option<Spanned<f64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLoad {
    model: Spanned<String>,
    rate: Option<Spanned<f64>>,
    ramp: Option<Spanned<String>>,
    ramp_from: Option<Spanned<f64>>,
    max_in_flight: Option<Spanned<i64>>,
    arrivals: Option<Spanned<String>>,
    users: Option<Spanned<i64>>,
    think_time: Option<Spanned<String>>,
    connections: Option<Spanned<RawConnections>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConnections {
    postgres: Option<Spanned<i64>>,
    mongo: Option<Spanned<i64>>,
    redis: Option<Spanned<i64>>,
}

/// Overrides from the command line.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub duration: Option<Duration>,
    pub warmup: Option<Duration>,
    /// `--warmup auto`: warm up until stable (replaces the file's warm-up; `warmup` is None).
    pub warmup_auto: bool,
    pub rate: Option<f64>,
    /// `--threshold 'KEY EXPR'`, as given; a key also in the file replaces the file's.
    pub thresholds: Vec<String>,
    /// A connection sweep's step (`crate::capacity`): the closed model with this many users,
    /// no think time, and as many connections to each store.
    pub closed_users: Option<usize>,
    /// End the run early, after this much of its measured window, once a threshold fails on
    /// the run so far (`abort_on_fail`; a sweep's clearly failing step).
    pub abort_after: Option<Duration>,
    /// Arrivals of the open model, overriding the file's (sweeps use Poisson).
    pub arrivals: Option<crate::scenario::schedule::Arrivals>,
    /// `--worker i/n` (`crate::distributed`).
    pub worker: Option<crate::config::Worker>,
}

/// The longest duration any scenario key or flag takes (`duration`, `warmup`, `ramp`,
/// `timeout`, `think_time`, `--duration`, `--warmup`): 7 days. Longer is a typo, and would
/// overflow the clock arithmetic of the run.
pub const MAX_DURATION: Duration = Duration::from_secs(7 * 24 * 3600);
/// The shortest measured `duration`: shorter windows have no meaningful rate.
pub const MIN_RUN: Duration = Duration::from_millis(100);
/// The arrival rate's range (operations per second, open model).
pub const MIN_RATE: f64 = 0.001;
pub const MAX_RATE: f64 = 10_000_000.0;
/// Bounds on what a scenario file may hold.
pub const MAX_FILE_BYTES: usize = 1 << 20;
pub const MAX_NAME_CHARS: usize = 64;
pub const MAX_DESCRIPTION_CHARS: usize = 4096;
pub const MAX_VARIANTS: usize = 32;

/// "10s", "500ms", "2m", "1h" -> Duration, at most [`MAX_DURATION`].
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .ok_or_else(|| format!("{t:?} has no unit"))?;
    let (num, unit) = t.split_at(split);
    let n: f64 = num
        .parse()
        .map_err(|_| format!("{t:?} does not start with a number"))?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" => n,
        "m" | "min" => n * 60.0,
        "h" => n * 3600.0,
        other => return Err(format!("unknown unit {other:?} in {t:?}")),
    };
    if !secs.is_finite() || secs < 0.0 {
        return Err(format!("{t:?} is not a valid duration"));
    }
    if secs > MAX_DURATION.as_secs_f64() {
        return Err(format!(
            "{t:?} is longer than the maximum of 7 days (\"168h\")"
        ));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// `--rate`: a number of operations per second in [`MIN_RATE`, `MAX_RATE`].
pub fn parse_rate(s: &str) -> Result<f64, String> {
    let r: f64 = s
        .trim()
        .parse()
        .map_err(|_| format!("{s:?} is not a number (operations per second, e.g. 200)"))?;
    check_rate(r)?;
    Ok(r)
}

fn check_rate(r: f64) -> Result<(), String> {
    if r.is_finite() && (MIN_RATE..=MAX_RATE).contains(&r) {
        Ok(())
    } else {
        let shown = if r.is_finite() && r != 0.0 && !(1e-3..1e9).contains(&r.abs()) {
            format!("{r:e}")
        } else {
            format!("{r}")
        };
        Err(format!(
            "rate {shown} is out of range: use {MIN_RATE} to {MAX_RATE} operations per second"
        ))
    }
}

const DURATION_HINT: &str =
    "write a duration as a string with a unit: \"500ms\", \"30s\", \"2m\", \"1h\"";
const FORMAT_HINT: &str = "see docs/scenarios.md for the scenario file format";

struct Ctx<'a> {
    file: String,
    src: &'a str,
}

impl Ctx<'_> {
    fn line_of(&self, offset: usize) -> usize {
        self.src[..offset.min(self.src.len())]
            .bytes()
            .filter(|b| *b == b'\n')
            .count()
            + 1
    }

    fn err(&self, offset: usize, message: impl Into<String>, hint: impl Into<String>) -> SpecError {
        SpecError {
            file: self.file.clone(),
            line: self.line_of(offset),
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// Offset of the line `key = ...` inside a table's span (falls back to the span start).
    fn key_offset(&self, span: std::ops::Range<usize>, key: &str) -> usize {
        let start = span.start.min(self.src.len());
        let end = span.end.min(self.src.len());
        let mut off = start;
        for line in self.src[start..end].split_inclusive('\n') {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix(key) {
                if rest.trim_start().starts_with('=') {
                    return off + (line.len() - t.len());
                }
            }
            off += line.len();
        }
        start
    }

    fn duration(&self, v: &Spanned<String>, what: &str) -> Result<Duration, SpecError> {
        parse_duration(v.get_ref())
            .map_err(|e| self.err(v.span().start, format!("{what}: {e}"), DURATION_HINT))
    }
}

/// Reads and validates a scenario file.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Scenario, SpecError> {
    let file = path.display().to_string();
    let cannot_read = |e: String| SpecError {
        file: file.clone(),
        line: 0,
        message: format!("cannot read the scenario file: {e}"),
        hint: "give the path of a .toml file, e.g. scenarios/smoke.toml".into(),
    };
    // Read at most one byte more than the limit: a huge file is refused, not loaded.
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| {
            use std::io::Read;
            f.take(MAX_FILE_BYTES as u64 + 1).read_to_end(&mut bytes)
        })
        .map_err(|e| cannot_read(e.to_string()))?;
    if bytes.len() > MAX_FILE_BYTES {
        return Err(too_big(&file));
    }
    let src =
        String::from_utf8(bytes).map_err(|e| cannot_read(format!("it is not UTF-8 text ({e})")))?;
    parse(&src, &file, overrides)
}

fn too_big(file: &str) -> SpecError {
    SpecError {
        file: file.to_string(),
        line: 0,
        message: format!(
            "the scenario file is larger than {} KiB",
            MAX_FILE_BYTES / 1024
        ),
        hint: "a scenario is a few dozen lines; check that this is the right file".into(),
    }
}

/// Validates scenario text; `file` is only used in messages.
pub fn parse(src: &str, file: &str, overrides: &Overrides) -> Result<Scenario, SpecError> {
    if src.len() > MAX_FILE_BYTES {
        return Err(too_big(file));
    }
    let cx = Ctx {
        file: file.to_string(),
        src,
    };
    let raw = raw_scenario(&cx)?;
    let name = scenario_name(&cx, &raw)?;
    check_description(&cx, &raw)?;
    let duration = measured_duration(&cx, &raw, overrides)?;
    let (warmup, warmup_auto) = warmup_duration(&cx, &raw, overrides)?;
    let timeout = op_timeout(&cx, &raw)?;
    let max_error_rate = max_error_rate_of(&cx, &raw)?;
    let ops = operations(&cx, &raw)?;
    let connections = connections_of(&cx, raw.load.get_ref())?;
    let load = load_model(&cx, &raw, overrides, &ops, &connections)?;
    let (cache, variants) = cache_variants(&cx, &raw, &ops)?;
    let (load, connections) = with_closed_users(overrides, load, connections);
    let clinic_rate = clinic_rate_of(&cx, &raw)?;
    let (thresholds, mut abort_on_fail) = thresholds(&cx, &raw, &ops, overrides)?;
    if overrides.abort_after.is_some() && !thresholds.is_empty() {
        abort_on_fail = overrides.abort_after;
    }

    Ok(Scenario {
        name,
        description: raw.description,
        file: PathBuf::from(file),
        duration,
        warmup,
        warmup_auto,
        timeout,
        seed: raw.seed.unwrap_or(1),
        max_error_rate,
        load,
        connections,
        ops,
        cache,
        variants,
        thresholds,
        abort_on_fail,
        clinic_rate,
        worker: overrides.worker,
    })
}

/// Reads the TOML into its raw shape, blaming a syntax error or a bad key on its line.
fn raw_scenario(cx: &Ctx) -> Result<RawScenario, SpecError> {
    toml::from_str(cx.src).map_err(|e| {
        let offset = e.span().map(|s| s.start).unwrap_or(0);
        let msg = e.message().trim().to_string();
        let hint = if msg.contains("unknown field") {
            format!("remove or rename that key; {FORMAT_HINT}")
        } else if msg.contains("missing field") {
            format!("add it; {FORMAT_HINT}")
        } else {
            FORMAT_HINT.to_string()
        };
        cx.err(offset, msg, hint)
    })
}

/// The scenario's name, trimmed: 1 to [`MAX_NAME_CHARS`] letters, digits, '-' or '_'.
fn scenario_name(cx: &Ctx, raw: &RawScenario) -> Result<String, SpecError> {
    let name = raw.name.get_ref().trim().to_string();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(cx.err(
            raw.name.span().start,
            format!(
                "scenario name {} must be 1 to {MAX_NAME_CHARS} letters, digits, '-' or '_'",
                shorten(&name)
            ),
            "it becomes part of the report directory name",
        ));
    }
    Ok(name)
}

/// Refuses a description longer than [`MAX_DESCRIPTION_CHARS`].
fn check_description(cx: &Ctx, raw: &RawScenario) -> Result<(), SpecError> {
    if raw.description.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(cx.err(
            cx.key_offset(0..cx.src.len(), "description"),
            format!(
                "the description is {} characters long; at most {MAX_DESCRIPTION_CHARS}",
                raw.description.chars().count()
            ),
            "it is copied into every report: keep it to a sentence or a paragraph",
        ));
    }
    Ok(())
}

/// The measured window: `--duration`, else `duration`; at least [`MIN_RUN`].
fn measured_duration(
    cx: &Ctx,
    raw: &RawScenario,
    overrides: &Overrides,
) -> Result<Duration, SpecError> {
    let mut duration = cx.duration(&raw.duration, "duration")?;
    if let Some(d) = overrides.duration {
        check_flag_duration(&cx.file, "--duration", d)?;
        duration = d;
    }
    if duration < MIN_RUN {
        let (line, what) = match overrides.duration {
            Some(_) => (0, "--duration"),
            None => (cx.line_of(raw.duration.span().start), "duration"),
        };
        return Err(SpecError {
            file: cx.file.clone(),
            line,
            message: format!(
                "{what} {:?} is too short: the measured window is at least 100ms",
                duration
            ),
            hint: DURATION_HINT.into(),
        });
    }
    Ok(duration)
}

/// The warm-up: `--warmup`, else `warmup`, else none; `"auto"` (either) warms until stable,
/// at most `warmup_max` (default 60 s), which is then the returned duration. A distributed
/// worker cannot warm up by itself: the workers must agree on the measured window.
fn warmup_duration(
    cx: &Ctx,
    raw: &RawScenario,
    overrides: &Overrides,
) -> Result<(Duration, bool), SpecError> {
    let file_auto = raw
        .warmup
        .as_ref()
        .is_some_and(|w| w.get_ref().trim() == "auto");
    let mut warmup = match &raw.warmup {
        Some(_) if file_auto => Duration::ZERO,
        Some(w) => cx.duration(w, "warmup")?,
        None => Duration::ZERO,
    };
    let mut auto = file_auto;
    if let Some(w) = overrides.warmup {
        check_flag_duration(&cx.file, "--warmup", w)?;
        warmup = w;
        auto = false;
    }
    auto |= overrides.warmup_auto;
    let max = match &raw.warmup_max {
        Some(m) if !file_auto => {
            return Err(cx.err(
                m.span().start,
                "warmup_max is the cap of an automatic warm-up, and warmup is not \"auto\""
                    .to_string(),
                "set warmup = \"auto\", or remove warmup_max",
            ));
        }
        Some(m) => {
            let d = cx.duration(m, "warmup_max")?;
            let least = Duration::from_secs(super::steady::WARM_SECONDS as u64);
            if d < least {
                return Err(cx.err(
                    m.span().start,
                    format!("warmup_max {d:?} is shorter than the {least:?} an automatic warm-up takes at least"),
                    "give at least 3s; 60s is the default",
                ));
            }
            d
        }
        None => super::steady::DEFAULT_WARMUP_MAX,
    };
    if !auto {
        return Ok((warmup, false));
    }
    if overrides.worker.is_some() {
        let (line, what) = match (&raw.warmup, overrides.warmup_auto) {
            (Some(w), false) => (cx.line_of(w.span().start), "warmup = \"auto\""),
            _ => (0, "--warmup auto"),
        };
        return Err(SpecError {
            file: cx.file.clone(),
            line,
            message: format!(
                "{what} cannot be used by a distributed worker (--worker): each worker would end its warm-up at another time, and the workers must measure the same window"
            ),
            hint: "give the workers a fixed warm-up (--warmup 30s), long enough to warm up".into(),
        });
    }
    Ok((max, true))
}

/// The per-operation timeout: `timeout` (more than 0), else 30 s.
fn op_timeout(cx: &Ctx, raw: &RawScenario) -> Result<Duration, SpecError> {
    let timeout = match &raw.timeout {
        Some(t) => cx.duration(t, "timeout")?,
        None => Duration::from_secs(30),
    };
    if timeout.is_zero() {
        return Err(cx.err(
            raw.timeout.as_ref().map(|t| t.span().start).unwrap_or(0),
            "timeout must be more than 0",
            DURATION_HINT,
        ));
    }
    Ok(timeout)
}

/// `max_error_rate`, a share from 0 to 1 (default 0).
fn max_error_rate_of(cx: &Ctx, raw: &RawScenario) -> Result<f64, SpecError> {
    match &raw.max_error_rate {
        Some(r) => {
            let v = *r.get_ref();
            if !(0.0..=1.0).contains(&v) {
                return Err(cx.err(
                    r.span().start,
                    format!("max_error_rate {v} must be between 0 and 1"),
                    "the share of measured arrivals that may fail, e.g. 0.01 for 1%",
                ));
            }
            Ok(v)
        }
        None => Ok(0.0),
    }
}

/// The `[[op]]` tables, each validated; at least one, and no operation twice.
fn operations(cx: &Ctx, raw: &RawScenario) -> Result<Vec<OpSpec>, SpecError> {
    if raw.op.is_empty() {
        return Err(cx.err(
            raw.load.span().end,
            "the scenario has no operations",
            format!(
                "add at least one [[op]] table with name and weight; operations: {}",
                op_names()
            ),
        ));
    }
    let mut ops: Vec<OpSpec> = Vec::with_capacity(OPS.len());
    let mut first_at: Vec<usize> = Vec::with_capacity(OPS.len());
    for table in &raw.op {
        let op = validate_op(cx, table)?;
        if let Some(k) = ops.iter().position(|o| o.name() == op.name()) {
            // Refused at the first repeat, so a file of thousands of [[op]] tables stops here.
            return Err(cx.err(
                cx.key_offset(table.span(), "name"),
                format!(
                    "operation {} appears twice (first [[op]] on line {})",
                    op.name(),
                    cx.line_of(first_at[k])
                ),
                "each operation appears once, with one weight and one set of parameters; \
                 merge the two tables",
            ));
        }
        ops.push(op);
        first_at.push(table.span().start);
    }
    Ok(ops)
}

/// The pool sizes of `[load] connections`, each store's default when not given.
fn connections_of(cx: &Ctx, load_raw: &RawLoad) -> Result<Connections, SpecError> {
    let conns = load_raw.connections.as_ref().map(|c| c.get_ref());
    Ok(Connections {
        postgres: connection_count(cx, conns.and_then(|c| c.postgres.as_ref()), 8)?,
        mongo: connection_count(cx, conns.and_then(|c| c.mongo.as_ref()), 4)?,
        redis: connection_count(cx, conns.and_then(|c| c.redis.as_ref()), 4)?,
    })
}

/// One store's connection count: 1 to 4096, `default` when not given.
fn connection_count(cx: &Ctx, v: Option<&Spanned<i64>>, default: u32) -> Result<u32, SpecError> {
    match v {
        None => Ok(default),
        Some(s) if (1..=4096).contains(s.get_ref()) => Ok(*s.get_ref() as u32),
        Some(s) => Err(cx.err(
            s.span().start,
            format!("connection count {} is out of range", s.get_ref()),
            "use 1 to 4096 connections per store",
        )),
    }
}

/// The `[load]` model: open or closed.
fn load_model(
    cx: &Ctx,
    raw: &RawScenario,
    overrides: &Overrides,
    ops: &[OpSpec],
    connections: &Connections,
) -> Result<Load, SpecError> {
    let load_raw = raw.load.get_ref();
    match load_raw.model.get_ref().as_str() {
        "open" => open_load(cx, raw, overrides, ops, connections),
        "closed" => closed_load(cx, raw, overrides),
        other => Err(cx.err(
            load_raw.model.span().start,
            format!("unknown load model {other:?}"),
            "model is \"open\" (arrival rate) or \"closed\" (virtual users)",
        )),
    }
}

/// Where an optional key's value starts in the file.
fn start_of<T>(v: Option<&Spanned<T>>) -> Option<usize> {
    v.map(|s| s.span().start)
}

/// Refuses the first given key of `keys` (given, key, offset): it belongs to the other model.
fn refuse_other_model_keys(
    cx: &Ctx,
    raw: &RawScenario,
    model: &str,
    keys: &[(bool, &str, Option<usize>)],
) -> Result<(), SpecError> {
    for &(present, key, at) in keys {
        if present {
            return Err(cx.err(
                at.unwrap_or(raw.load.span().start),
                format!("{key} does not apply to the {model} model"),
                "open takes rate, ramp, ramp_from, max_in_flight; closed takes users, think_time",
            ));
        }
    }
    Ok(())
}

/// The open model: rate, ramp, workers and the spacing of arrivals.
fn open_load(
    cx: &Ctx,
    raw: &RawScenario,
    overrides: &Overrides,
    ops: &[OpSpec],
    connections: &Connections,
) -> Result<Load, SpecError> {
    let load_raw = raw.load.get_ref();
    refuse_other_model_keys(
        cx,
        raw,
        "open",
        &[
            (
                load_raw.users.is_some(),
                "users",
                start_of(load_raw.users.as_ref()),
            ),
            (
                load_raw.think_time.is_some(),
                "think_time",
                start_of(load_raw.think_time.as_ref()),
            ),
        ],
    )?;
    let rate = open_rate(cx, raw, overrides)?;
    let ramp = match &load_raw.ramp {
        Some(r) => cx.duration(r, "ramp")?,
        None => Duration::ZERO,
    };
    let ramp_from = ramp_start(cx, raw, overrides, rate)?;
    let max_in_flight = max_in_flight_of(cx, load_raw, ops, connections)?;
    let arrivals = arrivals_of(cx, load_raw, overrides)?;
    Ok(Load::Open {
        rate,
        ramp_from,
        ramp,
        max_in_flight,
        arrivals,
    })
}

/// The open model's rate: `--rate`, else `rate`, in [`MIN_RATE`, `MAX_RATE`].
fn open_rate(cx: &Ctx, raw: &RawScenario, overrides: &Overrides) -> Result<f64, SpecError> {
    let load_raw = raw.load.get_ref();
    let rate = match (&load_raw.rate, overrides.rate) {
        (_, Some(r)) => {
            check_rate(r).map_err(|m| SpecError {
                file: cx.file.clone(),
                line: 0,
                message: format!("--rate: {m}"),
                hint: "give --rate as operations per second, e.g. --rate 200".into(),
            })?;
            r
        }
        (Some(r), None) => *r.get_ref(),
        (None, None) => {
            return Err(cx.err(
                raw.load.span().start,
                "the open model needs a rate",
                "add rate = <operations per second> to [load]",
            ))
        }
    };
    if let Err(m) = check_rate(rate) {
        return Err(cx.err(
            load_raw
                .rate
                .as_ref()
                .map(|r| r.span().start)
                .unwrap_or(raw.load.span().start),
            m,
            "rate is operations per second, e.g. rate = 200",
        ));
    }
    Ok(rate)
}

/// Where the ramp starts: `ramp_from`, 0 to `rate` (lowered to a `--rate` below it).
fn ramp_start(
    cx: &Ctx,
    raw: &RawScenario,
    overrides: &Overrides,
    rate: f64,
) -> Result<f64, SpecError> {
    let load_raw = raw.load.get_ref();
    let mut ramp_from = load_raw
        .ramp_from
        .as_ref()
        .map(|r| *r.get_ref())
        .unwrap_or(0.0);
    let ramp_from_at = load_raw
        .ramp_from
        .as_ref()
        .map(|r| r.span().start)
        .unwrap_or(raw.load.span().start);
    if !ramp_from.is_finite() || ramp_from < 0.0 {
        return Err(cx.err(
            ramp_from_at,
            format!("ramp_from {ramp_from} must be a number from 0 to rate ({rate})"),
            "the rate rises linearly from ramp_from to rate over ramp",
        ));
    }
    if overrides.rate.is_some() {
        // --rate sets the plateau; a ramp start above it is lowered to it.
        ramp_from = ramp_from.min(rate);
    }
    if ramp_from > rate {
        return Err(cx.err(
            ramp_from_at,
            format!("ramp_from {ramp_from} must be between 0 and rate ({rate})"),
            "the rate rises linearly from ramp_from to rate over ramp",
        ));
    }
    Ok(ramp_from)
}

/// The open model's workers: `max_in_flight`, else four per connection used (16 to 1024).
fn max_in_flight_of(
    cx: &Ctx,
    load_raw: &RawLoad,
    ops: &[OpSpec],
    connections: &Connections,
) -> Result<usize, SpecError> {
    let used: u32 = [
        (Store::Postgres, connections.postgres),
        (Store::Mongo, connections.mongo),
        (Store::Redis, connections.redis),
    ]
    .iter()
    .filter(|(s, _)| ops.iter().any(|o: &OpSpec| o.def.store == *s))
    .map(|(_, n)| *n)
    .sum();
    match &load_raw.max_in_flight {
        Some(m) if (1..=100_000).contains(m.get_ref()) => Ok(*m.get_ref() as usize),
        Some(m) => Err(cx.err(
            m.span().start,
            format!("max_in_flight {} is out of range", m.get_ref()),
            "use 1 to 100000",
        )),
        None => Ok(((used as usize) * 4).clamp(16, 1024)),
    }
}

/// The open model's arrivals: the override, else `arrivals`, else evenly spaced.
fn arrivals_of(
    cx: &Ctx,
    load_raw: &RawLoad,
    overrides: &Overrides,
) -> Result<crate::scenario::schedule::Arrivals, SpecError> {
    Ok(match (&load_raw.arrivals, overrides.arrivals) {
        (_, Some(a)) => a,
        (None, None) => crate::scenario::schedule::Arrivals::Uniform,
        (Some(a), None) => match a.get_ref().as_str() {
            "uniform" => crate::scenario::schedule::Arrivals::Uniform,
            "poisson" => crate::scenario::schedule::Arrivals::Poisson,
            other => {
                return Err(cx.err(
                    a.span().start,
                    format!("arrivals {:?} is not a kind of arrivals", shorten(other)),
                    "arrivals is \"uniform\" (evenly spaced, the default) or \"poisson\" (exponential gaps, like independent users)",
                ))
            }
        },
    })
}

/// The closed model: virtual users and their think time.
fn closed_load(cx: &Ctx, raw: &RawScenario, overrides: &Overrides) -> Result<Load, SpecError> {
    let load_raw = raw.load.get_ref();
    refuse_other_model_keys(
        cx,
        raw,
        "closed",
        &[
            (
                load_raw.rate.is_some(),
                "rate",
                start_of(load_raw.rate.as_ref()),
            ),
            (
                load_raw.ramp.is_some() || load_raw.ramp_from.is_some(),
                "ramp",
                start_of(load_raw.ramp.as_ref()),
            ),
            (
                load_raw.arrivals.is_some(),
                "arrivals",
                start_of(load_raw.arrivals.as_ref()),
            ),
        ],
    )?;
    if overrides.rate.is_some() {
        return Err(cx.err(
            load_raw.model.span().start,
            "--rate was given but the scenario uses the closed model",
            "the closed model's load is set by users and think_time; drop --rate",
        ));
    }
    let users = match &load_raw.users {
        Some(u) if (1..=100_000).contains(u.get_ref()) => *u.get_ref() as usize,
        Some(u) => {
            return Err(cx.err(
                u.span().start,
                format!("users {} is out of range", u.get_ref()),
                "use 1 to 100000 virtual users",
            ))
        }
        None => {
            return Err(cx.err(
                raw.load.span().start,
                "the closed model needs users",
                "add users = <number of virtual users> to [load]",
            ))
        }
    };
    let think_time = match &load_raw.think_time {
        Some(t) => cx.duration(t, "think_time")?,
        None => Duration::ZERO,
    };
    Ok(Load::Closed { users, think_time })
}

/// A sweep's `closed_users`: that many users, no think time, as many connections per store.
fn with_closed_users(
    overrides: &Overrides,
    load: Load,
    connections: Connections,
) -> (Load, Connections) {
    match overrides.closed_users {
        Some(n) => {
            let c = n.clamp(1, 10_000) as u32;
            (
                Load::Closed {
                    users: n.max(1),
                    think_time: Duration::ZERO,
                },
                Connections {
                    postgres: c,
                    mongo: c,
                    redis: c,
                },
            )
        }
        None => (load, connections),
    }
}

/// `clinic_rate`: a positive number of operations per second, if given.
fn clinic_rate_of(cx: &Ctx, raw: &RawScenario) -> Result<Option<f64>, SpecError> {
    match &raw.clinic_rate {
        Some(r) if !(r.get_ref().is_finite() && *r.get_ref() > 0.0) => Err(cx.err(
            r.span().start,
            format!("clinic_rate {} is not a positive number", r.get_ref()),
            "clinic_rate is the operations per second one clinic generates, e.g. 40",
        )),
        Some(r) => Ok(Some(*r.get_ref())),
        None => Ok(None),
    }
}

const THRESHOLD_HINT: &str = "see the Thresholds section of docs/scenarios.md";

/// `[thresholds]` ("KEY" = "EXPR", or `op = { p99 = "< 15ms" }`) then `--threshold`, each
/// checked against the scenario's operations; and `abort_on_fail` with its `abort_grace`.
#[allow(clippy::type_complexity)]
fn thresholds(
    cx: &Ctx,
    raw: &RawScenario,
    ops: &[OpSpec],
    overrides: &Overrides,
) -> Result<(Vec<crate::thresholds::Threshold>, Option<Duration>), SpecError> {
    use crate::thresholds::{parse, parse_flag, Threshold};
    let names: Vec<&str> = ops.iter().map(|o| o.name()).collect();
    let mut out: Vec<Threshold> = Vec::new();
    let mut abort = false;
    let mut grace = Duration::from_secs(10);
    let mut grace_given = None;
    if let Some(table) = &raw.thresholds {
        let span = table.span();
        let mut entries: Vec<(String, String, &toml::Value)> = Vec::new();
        for (k, v) in table.get_ref() {
            let at = threshold_offset(cx, span.clone(), k);
            match (k.as_str(), v) {
                ("abort_on_fail", toml::Value::Boolean(b)) => {
                    abort = *b;
                    continue;
                }
                ("abort_on_fail", _) => {
                    return Err(cx.err(at, "abort_on_fail is not true or false", THRESHOLD_HINT))
                }
                ("abort_grace", toml::Value::String(g)) => {
                    grace = parse_duration(g)
                        .map_err(|e| cx.err(at, format!("abort_grace: {e}"), DURATION_HINT))?;
                    grace_given = Some(at);
                    continue;
                }
                ("abort_grace", _) => {
                    return Err(cx.err(at, "abort_grace is not a duration", DURATION_HINT))
                }
                _ => {}
            }
            match v {
                toml::Value::Table(inner) => {
                    for (m, e) in inner {
                        entries.push((format!("{k}.{m}"), k.clone(), e));
                    }
                }
                _ => entries.push((k.clone(), k.clone(), v)),
            }
        }
        for (key, outer, value) in entries {
            let at = threshold_offset(cx, span.clone(), &outer);
            let source = format!("{}:{}", cx.file, cx.line_of(at));
            let toml::Value::String(expr) = value else {
                return Err(cx.err(
                    at,
                    format!("threshold {key:?} is not a string"),
                    "write the expression as a string: \"appointments_today.p99\" = \"< 15ms\"",
                ));
            };
            let t = parse(&key, expr, &names, &source)
                .map_err(|e| cx.err(at, e.message, format!("{}; {THRESHOLD_HINT}", e.hint)))?;
            out.push(t);
        }
    }
    for arg in &overrides.thresholds {
        let t = parse_flag(arg, &names).map_err(|e| SpecError {
            file: cx.file.clone(),
            line: 0,
            message: format!("--threshold {}: {}", shorten(arg), e.message),
            hint: format!("{}; {THRESHOLD_HINT}", e.hint),
        })?;
        out.retain(|o| !(o.key == t.key && o.source != "--threshold"));
        out.push(t);
    }
    if let (Some(at), false) = (grace_given, abort) {
        return Err(cx.err(
            at,
            "abort_grace is set but abort_on_fail is not",
            "add abort_on_fail = true to [thresholds], or remove abort_grace",
        ));
    }
    Ok((out, abort.then_some(grace)))
}

/// Offset of the line defining threshold key `key` (quoted or bare) inside `[thresholds]`
/// (for `op = { ... }`, the line of `op`).
fn threshold_offset(cx: &Ctx, span: std::ops::Range<usize>, key: &str) -> usize {
    let quoted = format!("\"{key}\"");
    let start = span.start.min(cx.src.len());
    let end = span.end.min(cx.src.len());
    let mut off = start;
    for line in cx.src[start..end].split_inclusive('\n') {
        let t = line.trim_start();
        for k in [quoted.as_str(), key] {
            if let Some(rest) = t.strip_prefix(k) {
                if rest.trim_start().starts_with('=') {
                    return off + (line.len() - t.len());
                }
            }
        }
        off += line.len();
    }
    start
}

type Variants = (Vec<crate::cache::variants::CacheVariant>, Vec<Variant>);

/// The variants: their index changes, and their cache settings when the scenario has a
/// `[cache]`, cache settings in a `[[variant]]` or cache operations.
fn cache_variants(cx: &Ctx, raw: &RawScenario, ops: &[OpSpec]) -> Result<Variants, SpecError> {
    let cache_ops = ops.iter().any(|o| {
        matches!(
            o.def.kind,
            ops::OpKind::DoctorSchedule
                | ops::OpKind::ScheduleBook
                | ops::OpKind::ScheduleCancel
                | ops::OpKind::ScheduleCheckIn
                | ops::OpKind::ScheduleReschedule
        )
    });
    if raw.cache.is_none() && raw.variant.is_empty() && !cache_ops {
        return Ok((Vec::new(), Vec::new()));
    }
    let at = raw
        .cache
        .as_ref()
        .map(|c| c.span().start)
        .or_else(|| raw.variant.first().map(|v| v.span().start))
        .unwrap_or(0);
    if raw.variant.len() > MAX_VARIANTS {
        return Err(cx.err(
            raw.variant[MAX_VARIANTS].span().start,
            format!(
                "{} [[variant]] tables; at most {MAX_VARIANTS}",
                raw.variant.len()
            ),
            "each variant runs the whole scenario once: split the comparison into several files",
        ));
    }
    for v in &raw.variant {
        if let Some(toml::Value::String(n)) = v.get_ref().get("name") {
            if n.chars().count() > MAX_NAME_CHARS {
                return Err(cx.err(
                    cx.key_offset(v.span(), "name"),
                    format!(
                        "variant name {} is longer than {MAX_NAME_CHARS} characters",
                        shorten(n)
                    ),
                    "it names a report directory",
                ));
            }
        }
    }
    // The index keys of each variant; what is left is the cache's.
    let mut tables: Vec<toml::Table> = Vec::new();
    let mut variants: Vec<Variant> = Vec::new();
    for (i, v) in raw.variant.iter().enumerate() {
        let mut t = v.get_ref().clone();
        let indexes = crate::restore::index_changes::IndexChange::take(&mut t).map_err(|m| {
            cx.err(
                v.span().start,
                format!("variant {}: {m}", i + 1),
                "see Index variants in docs/indexes.md",
            )
        })?;
        let name = match t.get("name") {
            Some(toml::Value::String(s)) => s.clone(),
            _ => String::new(),
        };
        variants.push(Variant { name, indexes });
        tables.push(t);
    }
    if variants.iter().any(|v| v.indexes.is_real())
        && !variants.iter().any(|v| v.indexes.is_empty())
    {
        if variants.iter().any(|v| v.name == AS_MIGRATED) {
            return Err(cx.err(
                at,
                format!("no variant keeps the schema as migrated, and one is named {AS_MIGRATED:?}, the name clinicload gives that variant"),
                "rename it, or add a variant that changes nothing to compare with",
            ));
        }
        variants.insert(
            0,
            Variant {
                name: AS_MIGRATED.into(),
                indexes: Default::default(),
            },
        );
        tables.insert(
            0,
            toml::Table::from_iter([("name".to_string(), toml::Value::String(AS_MIGRATED.into()))]),
        );
    }
    let cache_keys = tables.iter().any(|t| t.keys().any(|k| k != "name"));
    let cache = if raw.cache.is_some() || cache_ops || cache_keys {
        crate::cache::variants::resolve(raw.cache.as_ref().map(|c| c.get_ref()), &tables).map_err(
            |m| {
                cx.err(
                    at,
                    m,
                    "see the [cache] and [[variant]] sections in docs/scenarios.md",
                )
            },
        )?
    } else {
        // Index variants only: the names are checked as the cache's would be.
        for (i, v) in variants.iter().enumerate() {
            let valid = !v.name.is_empty()
                && v.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !valid {
                return Err(cx.err(
                    at,
                    format!("variant {} needs a name of letters, digits, '-' or '_' (it names a report directory)", i + 1),
                    "see Index variants in docs/indexes.md",
                ));
            }
            if variants[..i].iter().any(|o| o.name == v.name) {
                return Err(cx.err(
                    at,
                    format!("two variants are named {:?}", v.name),
                    "give each variant its own name",
                ));
            }
        }
        Vec::new()
    };
    Ok((cache, variants))
}

/// A `--duration` / `--warmup` value that did not come through [`parse_duration`]
/// (library callers): the same bound, blamed on the flag.
fn check_flag_duration(file: &str, flag: &str, d: Duration) -> Result<(), SpecError> {
    if d > MAX_DURATION {
        return Err(SpecError {
            file: file.to_string(),
            line: 0,
            message: format!("{flag} {d:?} is longer than the maximum of 7 days"),
            hint: DURATION_HINT.into(),
        });
    }
    Ok(())
}

/// A user-supplied text for a message: at most 60 characters, quoted.
fn shorten(s: &str) -> String {
    if s.chars().count() <= 60 {
        format!("{s:?}")
    } else {
        let head: String = s.chars().take(60).collect();
        format!("{head:?}... ({} characters)", s.chars().count())
    }
}

fn op_names() -> String {
    OPS.iter().map(|o| o.name).collect::<Vec<_>>().join(", ")
}

/// One `[[op]]` table: its operation, weight, parameters and plan expectations.
fn validate_op(cx: &Ctx, table: &Spanned<toml::Table>) -> Result<OpSpec, SpecError> {
    let span = table.span();
    let t = table.get_ref();
    let name = op_name_of(cx, table)?;
    let def = find_op(cx, span.clone(), name)?;
    let weight = op_weight(cx, span.clone(), t, name)?;
    check_param_keys(cx, span.clone(), t, name, def)?;
    let mut params = Vec::new();
    for p in def.params {
        let at = cx.key_offset(span.clone(), p.name);
        let value = param_value(cx, at, name, p, t.get(p.name))?;
        params.push((p.name.to_string(), value));
    }
    let expect = match t.get("expect") {
        None => None,
        Some(v) => Some(expect_of(
            cx,
            cx.key_offset(span.clone(), "expect"),
            def,
            v,
        )?),
    };
    Ok(OpSpec {
        def,
        weight,
        params,
        expect,
    })
}

/// The `name` of an `[[op]]` table, which must be a string.
fn op_name_of<'t>(cx: &Ctx, table: &'t Spanned<toml::Table>) -> Result<&'t str, SpecError> {
    let span = table.span();
    match table.get_ref().get("name") {
        Some(toml::Value::String(s)) => Ok(s.as_str()),
        Some(_) => Err(cx.err(
            cx.key_offset(span.clone(), "name"),
            "op name must be a string",
            format!("operations: {}", op_names()),
        )),
        None => Err(cx.err(
            span.start,
            "[[op]] without a name",
            format!("add name = \"...\"; operations: {}", op_names()),
        )),
    }
}

/// The operation named `name`, or an error suggesting the operations with a close name.
fn find_op(
    cx: &Ctx,
    span: std::ops::Range<usize>,
    name: &str,
) -> Result<&'static OpDef, SpecError> {
    ops::find(name).ok_or_else(|| {
        let close: Vec<&str> = OPS
            .iter()
            .map(|o| o.name)
            .filter(|n| n.contains(name) || name.contains(n) || share_prefix(n, name))
            .collect();
        cx.err(
            cx.key_offset(span.clone(), "name"),
            format!("unknown operation {}", shorten(name)),
            if close.is_empty() {
                format!("operations: {}", op_names())
            } else {
                format!(
                    "did you mean {}? operations: {}",
                    close.join(" or "),
                    op_names()
                )
            },
        )
    })
}

/// An operation's `weight`: a whole number from 1 to 10000, default 1.
fn op_weight(
    cx: &Ctx,
    span: std::ops::Range<usize>,
    t: &toml::Table,
    name: &str,
) -> Result<u32, SpecError> {
    match t.get("weight") {
        None => Ok(1),
        Some(toml::Value::Integer(w)) if (1..=10_000).contains(w) => Ok(*w as u32),
        Some(_) => Err(cx.err(
            cx.key_offset(span.clone(), "weight"),
            format!("weight of {name} must be a whole number from 1 to 10000"),
            "weights are relative: 60 and 40 mean 60% and 40% of operations",
        )),
    }
}

/// Refuses an `[[op]]` key other than name, weight, expect and the operation's parameters.
fn check_param_keys(
    cx: &Ctx,
    span: std::ops::Range<usize>,
    t: &toml::Table,
    name: &str,
    def: &OpDef,
) -> Result<(), SpecError> {
    for key in t.keys() {
        if key == "name" || key == "weight" || key == "expect" {
            continue;
        }
        if !def.params.iter().any(|p| p.name == key) {
            let takes = if def.params.is_empty() {
                "no parameters".to_string()
            } else {
                def.params
                    .iter()
                    .map(|p| p.name)
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(cx.err(
                cx.key_offset(span.clone(), key),
                format!("operation {name} has no parameter {}", shorten(key)),
                format!("{name} takes name, weight and {takes}"),
            ));
        }
    }
    Ok(())
}

/// Parameter `p` of operation `name`: `given`, checked against its kind, or its default.
fn param_value(
    cx: &Ctx,
    at: usize,
    name: &str,
    p: &ops::ParamDef,
    given: Option<&toml::Value>,
) -> Result<ParamValue, SpecError> {
    Ok(match p.kind {
        ParamKind::Pick {
            entity,
            default,
            dists,
        } => {
            let parsed = pick_dist(cx, at, name, p, given, default, dists)?;
            ParamValue::Pick {
                entity,
                dist: parsed.describe(),
                parsed,
            }
        }
        ParamKind::Int { default, min, max } => match given {
            None => ParamValue::Int(default),
            Some(toml::Value::Integer(v)) if (min..=max).contains(v) => ParamValue::Int(*v),
            Some(_) => {
                return Err(cx.err(
                    at,
                    format!(
                        "{name}.{} must be a whole number from {min} to {max}",
                        p.name
                    ),
                    p.help,
                ))
            }
        },
        ParamKind::Text { default } => match given {
            None => ParamValue::Text(default.to_string()),
            Some(toml::Value::String(s)) if !s.is_empty() && s.chars().count() <= 256 => {
                ParamValue::Text(s.clone())
            }
            Some(_) => {
                return Err(cx.err(
                    at,
                    format!("{name}.{} must be a string of 1 to 256 characters", p.name),
                    p.help,
                ))
            }
        },
    })
}

/// The distribution of an entity parameter: `given` or `default`, one of `dists`.
fn pick_dist(
    cx: &Ctx,
    at: usize,
    name: &str,
    p: &ops::ParamDef,
    given: Option<&toml::Value>,
    default: &str,
    dists: &[&str],
) -> Result<Dist, SpecError> {
    let text = match given {
        None => default.to_string(),
        Some(toml::Value::String(s)) => s.clone(),
        Some(_) => return Err(cx.err(at, format!("{name}.{} must be a string", p.name), p.help)),
    };
    let parsed =
        Dist::parse(&text).map_err(|e| cx.err(at, format!("{name}.{}: {e}", p.name), p.help))?;
    if !dists.contains(&parsed.name()) {
        return Err(cx.err(
            at,
            format!(
                "{name}.{} cannot be drawn with {}",
                p.name,
                parsed.describe()
            ),
            p.help,
        ));
    }
    Ok(parsed)
}

const EXPECT_HINT: &str = "write expect = { uses_index = \"idx_tasks_pending\", no_seq_scan = [\"tasks\"], max_examined_per_row = 50 } (any of the three); see docs/scenarios.md";

/// `expect = { uses_index = "...", no_seq_scan = [...], max_examined_per_row = N }` of an
/// operation that `clinicload explain` covers (a keyed PostgreSQL read).
fn expect_of(cx: &Ctx, at: usize, def: &OpDef, v: &toml::Value) -> Result<Expect, SpecError> {
    let explained = matches!(
        def.kind,
        OpKind::AppointmentsToday
            | OpKind::PendingTasks
            | OpKind::UnreadAlerts
            | OpKind::PatientEncounters
            | OpKind::PatientPrescriptions
            | OpKind::PatientOrders
            | OpKind::NoteByEncounter
            | OpKind::PatientNotes
            | OpKind::DoctorDrafts
    );
    if !explained {
        return Err(cx.err(
            at,
            format!("{} has an expect table, but its plan is not explained", def.name),
            "expectations apply to the reads clinicload explain covers: appointments_today, pending_tasks, unread_alerts, patient_encounters, patient_prescriptions, patient_orders (PostgreSQL indexes and tables), note_by_encounter, patient_notes, doctor_drafts (MongoDB indexes and the clinicalNotes collection)",
        ));
    }
    let toml::Value::Table(t) = v else {
        return Err(cx.err(
            at,
            format!("{}.expect is not a table", def.name),
            EXPECT_HINT,
        ));
    };
    let mut e = Expect::default();
    let ident = |s: &str| {
        !s.is_empty() && s.len() <= 63 && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    for (k, value) in t {
        match (k.as_str(), value) {
            ("uses_index", toml::Value::String(s)) if ident(s) => e.uses_index = Some(s.clone()),
            ("no_seq_scan", toml::Value::Array(a))
                if !a.is_empty()
                    && a.iter().all(|x| x.as_str().is_some_and(ident)) =>
            {
                e.no_seq_scan = a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect();
            }
            ("max_examined_per_row", toml::Value::Integer(n)) if *n >= 1 => {
                e.max_examined_per_row = Some(*n as f64)
            }
            ("max_examined_per_row", toml::Value::Float(f)) if f.is_finite() && *f >= 1.0 => {
                e.max_examined_per_row = Some(*f)
            }
            ("uses_index" | "no_seq_scan" | "max_examined_per_row", _) => {
                return Err(cx.err(
                    at,
                    format!(
                        "{}.expect.{k} is not valid: uses_index is an index name, no_seq_scan a list of table names, max_examined_per_row a number of at least 1",
                        def.name
                    ),
                    EXPECT_HINT,
                ))
            }
            (other, _) => {
                return Err(cx.err(
                    at,
                    format!("{}.expect has no key {}", def.name, shorten(other)),
                    EXPECT_HINT,
                ))
            }
        }
    }
    Ok(e)
}

/// Whether two names share their first five characters (counted in characters: a
/// non-ASCII name must not be cut inside a character).
fn share_prefix(a: &str, b: &str) -> bool {
    let (mut x, mut y) = (a.chars(), b.chars());
    (0..5).all(|_| matches!((x.next(), y.next()), (Some(p), Some(q)) if p == q))
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
name = "t"
duration = "2s"
warmup = "500ms"

[load]
model = "open"
rate = 50
connections = { postgres = 2, redis = 1 }

[[op]]
name = "appointments_today"
weight = 3
doctor = "busy_doctor"

[[op]]
name = "redis_get"
keyspace = 10
"#;

    fn err(src: &str) -> SpecError {
        parse(src, "x.toml", &Overrides::default()).unwrap_err()
    }

    #[test]
    fn parses_a_valid_scenario() {
        let s = parse(GOOD, "x.toml", &Overrides::default()).unwrap();
        assert_eq!(s.duration, Duration::from_secs(2));
        assert_eq!(s.warmup, Duration::from_millis(500));
        assert_eq!(s.ops.len(), 2);
        assert_eq!(s.ops[0].dist("doctor"), Dist::BusyDoctor);
        assert_eq!(s.ops[1].int("keyspace"), 10);
        assert_eq!(s.ops[1].int("value_size"), 100);
        assert_eq!(s.ops[1].weight, 1);
        assert_eq!(s.connections.postgres, 2);
        assert_eq!(s.connections.mongo, 4);
        match s.load {
            Load::Open { rate, .. } => assert_eq!(rate, 50.0),
            _ => panic!("open expected"),
        }
    }

    #[test]
    fn unknown_op_names_line_and_suggests() {
        let e = err(&GOOD.replace("\"redis_get\"", "\"redis_gett\""));
        assert_eq!(e.line, 17, "{e}");
        assert!(e.message.contains("unknown operation"), "{e}");
        assert!(e.hint.contains("redis_get"), "{e}");
        assert!(e.to_string().starts_with("x.toml:17:"), "{e}");
    }

    #[test]
    fn unknown_key_and_bad_values_name_their_line() {
        let e = err(&GOOD.replace("rate = 50", "rate = 50\nrat = 3"));
        assert_eq!(e.line, 9, "{e}");
        assert!(e.message.contains("unknown field"), "{e}");
        let e = err(&GOOD.replace("\"busy_doctor\"", "\"zipf(x)\""));
        assert_eq!(e.line, 14, "{e}");
        let e = err(&GOOD.replace("keyspace = 10", "keyspace = 10\ncolour = \"red\""));
        assert_eq!(e.line, 19, "{e}");
        assert!(e.message.contains("no parameter \"colour\""), "{e}");
        let e = err(&GOOD.replace("\"2s\"", "\"2 parsecs\""));
        assert_eq!(e.line, 3, "{e}");
        let e = err(&GOOD.replace("model = \"open\"", "model = \"closed\""));
        assert!(e.message.contains("rate does not apply"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("10 fortnights").is_err());
    }
}
