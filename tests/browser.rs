//! The report pages in a real browser: headless Chromium (Debian's `chromium`, which
//! scripts/test installs; `CHROMIUM` names another Chromium or Chrome binary) opens the
//! `report.html` of a short run and the gate, sweep (capacity), explain (`plans.html`) and
//! index-variant pages, all made from one tiny hand-made dataset, and each must
//!
//! - log no console error: no `console.error` or `console.assert`, no uncaught exception, no
//!   error the browser itself logs for the page (Chrome DevTools Protocol events
//!   `Runtime.consoleAPICalled`, `Runtime.exceptionThrown`, `Log.entryAdded`);
//! - draw data in every chart: each `<svg>` of the rendered DOM holds a polyline of at least
//!   two points, a path or a circle;
//! - reach no network: no request of the page other than `file:`, `data:`, `about:` or
//!   `blob:` (`Network.requestWillBeSent`, failed loads in `Log.entryAdded`), and no
//!   `http(s)://` or `//host` in a `src`, `href` (links excepted), `srcset`, `style` or
//!   `<style>` of the rendered DOM.
//!
//! The test drives Chromium over `--remote-debugging-pipe` (DevTools Protocol messages on
//! file descriptors 3 and 4), so only what the page itself does counts: Chromium's own noise
//! on stderr (D-Bus, GPU warnings) is never read as a console message, and its own background
//! connections (component updater, sign-in) are not the page's. Those still cannot leave the
//! machine: Chromium's proxy is a sink this test listens on (it closes every connection) and
//! `--host-resolver-rules` resolves every name to nothing.
//!
//! One screenshot per page (1280 x 2000) is kept as a CI artifact in
//! `target/browser-screenshots/` (`run.png`, `gate.png`, `sweep.png`, `explain.png`,
//! `variants.png`). The last test shows the checker failing on broken copies of a run's
//! report.html: a chart without its points, a script that logs `console.error`, one that
//! throws, an image from `http://example.com`.
mod common;
use common::prelude::*;
mod fixture;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use base64::Engine;
use common::TestEnv;
use serde_json::{json, Value};

/// Where the screenshots go: `<target dir>/browser-screenshots/`.
fn screenshot_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("the target directory")
        .join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn scratch(label: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("clinicload-browser-{label}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn repo(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs a clinicload command; it must exit with one of `codes` and print no panic.
fn clinicload(mut cmd: Command, codes: &[i32]) -> Output {
    let out = cmd.checked_output().expect("clinicload runs");
    let all = text(&out);
    assert!(!all.contains("panicked at"), "{cmd:?} panicked:\n{all}");
    assert!(
        out.status.code().is_some_and(|c| codes.contains(&c)),
        "{cmd:?} exited {:?}, expected one of {codes:?}:\n{all}",
        out.status.code()
    );
    out
}

/// The one file under `dir` (searched two levels deep) whose path ends with `suffix`.
fn find(dir: &Path, suffix: &str) -> PathBuf {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_symlink() {
            continue;
        }
        if p.to_string_lossy().ends_with(suffix) {
            found.push(p.clone());
        }
        if p.is_dir() {
            for e in std::fs::read_dir(&p).unwrap().flatten() {
                if e.path().to_string_lossy().ends_with(suffix) {
                    found.push(e.path());
                }
            }
        }
    }
    assert_eq!(found.len(), 1, "one {suffix} under {}", dir.display());
    found.remove(0)
}

// ---------------------------------------------------------------------------------------
// The pages, made from one dataset.

/// The dataset every page is made from (the runner tests' fixture) and the smoke run's
/// report.html, made once for both tests.
struct Smoke {
    env: TestEnv,
    dir: PathBuf,
    report: PathBuf,
}

static SMOKE: tokio::sync::OnceCell<Smoke> = tokio::sync::OnceCell::const_new();

async fn smoke() -> &'static Smoke {
    SMOKE
        .get_or_init(|| async {
            let env = TestEnv::migrated("browser").await;
            fixture::insert(&env).await;
            let dir = scratch("pages");
            // The smoke mix is a 2.25 s cycle of every operation: 3 s draws each one.
            let mut cmd = env.command();
            cmd.arg("run")
                .arg(repo("scenarios/smoke.toml"))
                .args(["--duration", "3s", "--warmup", "500ms", "--quiet", "--out"])
                .arg(dir.join("run"));
            clinicload(cmd, &[0]);
            let report = std::fs::canonicalize(dir.join("run/latest"))
                .unwrap()
                .join("report.html");
            Smoke { env, dir, report }
        })
        .await
}

/// Two PostgreSQL reads of the fixture, and `extra` (variants) after them.
fn two_reads(dir: &Path, name: &str, extra: &str) -> PathBuf {
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(
        &path,
        format!(
            "name = \"{name}\"\nduration = \"1s\"\nwarmup = \"200ms\"\n\n[load]\nmodel = \"open\"\nrate = 50\n\
connections = {{ postgres = 2 }}\n\n[[op]]\nname = \"pending_tasks\"\nweight = 1\n\n\
[[op]]\nname = \"patient_encounters\"\nweight = 1\n\n{extra}"
        ),
    )
    .unwrap();
    path
}

/// The gate's page: two runs a side, the candidate without the pending-tasks index (too few
/// runs for a verdict, exit 7, which still writes the page).
fn gate_page(s: &Smoke) -> PathBuf {
    let dir = s.dir.join("gate");
    std::fs::create_dir_all(dir.join("pending")).unwrap();
    std::fs::write(
        dir.join("pending/0100_drop.sql"),
        "DROP INDEX idx_tasks_pending;\n",
    )
    .unwrap();
    let mut cmd = s.env.command();
    cmd.arg("gate")
        .arg(two_reads(&dir, "gate", ""))
        .arg("--candidate-migrations")
        .arg(dir.join("pending"))
        .args(["--repeats", "2", "--quiet", "--out"])
        .arg(dir.join("reports"));
    clinicload(cmd, &[0, 5, 7]);
    std::fs::canonicalize(dir.join("reports/latest"))
        .unwrap()
        .join("report.html")
}

/// A rate sweep's page: `pg_sleep(20 ms)` behind one connection (at most 50 ops/s), steps of
/// a second from 30 ops/s.
fn sweep_page(s: &Smoke) -> PathBuf {
    let dir = s.dir.join("sweep");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("sleep.toml");
    std::fs::write(
        &file,
        "name = \"sleep\"\nduration = \"1s\"\nwarmup = \"200ms\"\n\n[load]\nmodel = \"open\"\nrate = 10\n\
max_in_flight = 64\nconnections = { postgres = 1 }\n\n[[op]]\nname = \"pg_sleep\"\nweight = 1\nms = 20\n",
    )
    .unwrap();
    let mut cmd = s.env.command();
    cmd.args(["sweep", "rate"])
        .arg(&file)
        .args([
            "--slo",
            "p99<100ms",
            "--from",
            "30",
            "--max",
            "120",
            "--resolution",
            "50%",
            "--arrivals",
            "uniform",
            "--warmup",
            "200ms",
            "--step",
            "1s",
            "--confirm",
            "1s",
            "--quiet",
            "--out",
        ])
        .arg(dir.join("reports"));
    clinicload(cmd, &[0]);
    find(&dir.join("reports"), "-sweep-rate/report.html")
}

/// `explain`'s page of the smoke scenario, one sample per operation.
fn explain_page(s: &Smoke) -> PathBuf {
    let dir = s.dir.join("explain");
    let mut cmd = s.env.command();
    cmd.arg("explain")
        .arg(repo("scenarios/smoke.toml"))
        .args(["--samples", "1", "--out"])
        .arg(&dir);
    clinicload(cmd, &[0]);
    find(&dir, "-explain/plans.html")
}

/// The index variants' side-by-side page: as migrated against without the pending-tasks
/// index, once each.
fn variants_page(s: &Smoke) -> PathBuf {
    let dir = s.dir.join("variants");
    std::fs::create_dir_all(&dir).unwrap();
    let file = two_reads(
        &dir,
        "ab",
        "[[variant]]\nname = \"no-tasks-pending\"\ndrop_indexes = [\"idx_tasks_pending\"]\n",
    );
    let mut cmd = s.env.command();
    cmd.arg("run")
        .arg(file)
        .args(["--quiet", "--out"])
        .arg(dir.join("reports"));
    clinicload(cmd, &[0]);
    std::fs::canonicalize(dir.join("reports/latest"))
        .unwrap()
        .join("report.html")
}

#[tokio::test]
async fn every_report_page_opens_in_chromium_with_data_and_without_errors_or_network() {
    chromium_binary(); // before minutes of runs, if it is missing
    let s = smoke().await;
    let t = Instant::now();
    let pages = [
        ("run", s.report.clone()),
        ("gate", gate_page(s)),
        ("sweep", sweep_page(s)),
        ("explain", explain_page(s)),
        ("variants", variants_page(s)),
    ];
    eprintln!("pages made in {:.1} s", t.elapsed().as_secs_f64());
    let shots = screenshot_dir();
    let mut failures = Vec::new();
    for (name, page) in &pages {
        let t = Instant::now();
        let shot = shots.join(format!("{name}.png"));
        let c = check_page(page, Some(&shot));
        eprintln!(
            "{name}: {} charts, {} problems, {:.1} s; screenshot {}",
            c.charts,
            c.problems.len(),
            t.elapsed().as_secs_f64(),
            shot.display()
        );
        if !c.problems.is_empty() {
            failures.push(format!("{name} ({}): {:#?}", page.display(), c.problems));
        }
        // Every page but explain's draws charts; the run's one per operation at least.
        let least = match *name {
            "explain" => 0,
            "run" => 11,
            _ => 1,
        };
        if c.charts < least {
            failures.push(format!("{name}: {} charts, expected {least}+", c.charts));
        }
        let png = std::fs::read(&shot).unwrap_or_default();
        if !png.starts_with(b"\x89PNG") {
            failures.push(format!("{name}: no screenshot at {}", shot.display()));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn the_checker_finds_each_problem_in_a_broken_copy_of_a_report() {
    chromium_binary();
    let s = smoke().await;
    let html = std::fs::read_to_string(&s.report).unwrap();
    let dir = scratch("broken");
    let copy = |name: &str, text: String| {
        assert_ne!(text, html, "{name}: the copy is broken");
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    let before_body_end = |snippet: &str| html.replacen("</body>", &format!("{snippet}</body>"), 1);

    // The first chart of the grid, its curves emptied.
    let grid = html
        .find("<div class=\"grid\">")
        .expect("the grid of charts");
    let start = grid + html[grid..].find("<svg").unwrap();
    let end = start + html[start..].find("</svg>").unwrap();
    let title = &html[start..end].split("<title>").nth(1).unwrap();
    let title = title[..title.find('<').unwrap()].to_string();
    let mut emptied = html[start..end].to_string();
    while let Some(i) = emptied.find("points=\"") {
        let j = i + 8 + emptied[i + 8..].find('"').unwrap();
        emptied.replace_range(i..=j, "points-removed=\"\"");
    }
    let no_data = copy(
        "no-data.html",
        format!("{}{emptied}{}", &html[..start], &html[end..]),
    );
    let logs = copy(
        "console-error.html",
        before_body_end("<script>console.error('injected console error')</script>"),
    );
    let throws = copy(
        "throws.html",
        before_body_end("<script>throw new Error('injected exception')</script>"),
    );
    let fetches = copy(
        "network.html",
        before_body_end("<img src=\"http://example.com/x.png\" alt=\"\">"),
    );

    let c = check_page(&no_data, None);
    assert_eq!(
        c.problems,
        vec![Problem::ChartWithoutData(title.clone())],
        "the emptied chart {title:?}"
    );
    let c = check_page(&logs, None);
    assert!(
        matches!(&c.problems[..], [Problem::Console(m)] if m.contains("injected console error")),
        "{:?}",
        c.problems
    );
    let c = check_page(&throws, None);
    assert!(
        matches!(&c.problems[..], [Problem::Console(m)] if m.contains("injected exception")),
        "{:?}",
        c.problems
    );
    let c = check_page(&fetches, None);
    assert!(!c.problems.is_empty(), "the image from example.com");
    for p in &c.problems {
        assert!(
            matches!(p, Problem::Network(m) if m.contains("http://example.com/x.png")),
            "{:?}",
            c.problems
        );
    }
    // Both ways: the request the page made and the address in its DOM.
    assert!(c.problems.len() >= 2, "{:?}", c.problems);
    let _ = std::fs::remove_dir_all(&dir);
}

// ---------------------------------------------------------------------------------------
// The checker.

/// What is wrong with a page, as the browser showed it.
#[derive(Debug, Clone, PartialEq)]
enum Problem {
    /// A console error, an uncaught exception or an error the browser logged for the page.
    Console(String),
    /// An `<svg>` (named by its `<title>`) with no polyline of two points, path or circle.
    ChartWithoutData(String),
    /// A request to the network, or an address that would make one.
    Network(String),
    /// The page did not load.
    Load(String),
}

struct PageCheck {
    /// The page's `<svg>` charts.
    charts: usize,
    problems: Vec<Problem>,
}

/// Evaluated in the loaded page: each chart's title and count of data marks, and every
/// address in the DOM that would fetch from the network (links excepted).
const PROBE: &str = r#"(() => {
  const charts = [...document.querySelectorAll('svg')].map(svg => {
    const t = svg.querySelector('title');
    let marks = 0;
    for (const p of svg.querySelectorAll('polyline, polygon')) if (p.points.numberOfItems >= 2) marks++;
    for (const p of svg.querySelectorAll('path')) if (/\d/.test(p.getAttribute('d') || '')) marks++;
    for (const c of svg.querySelectorAll('circle')) if (c.r.baseVal.value > 0) marks++;
    return { title: t ? t.textContent : '(untitled chart)', marks };
  });
  const remote = /^\s*(https?:)?\/\//i;
  const remoteUrl = /(url\(\s*['"]?\s*(https?:)?\/\/|@import)/i;
  const external = [];
  for (const el of document.querySelectorAll('*')) {
    const tag = el.tagName.toLowerCase();
    for (const a of el.attributes) {
      const n = a.name.toLowerCase();
      if (n === 'style' ? remoteUrl.test(a.value)
          : (n === 'href' || n === 'xlink:href') ? tag !== 'a' && remote.test(a.value)
          : ['src', 'srcset', 'poster', 'data', 'action', 'formaction', 'background'].includes(n)
            && a.value.split(',').some(v => remote.test(v))) {
        external.push(`<${tag} ${n}="${a.value}">`);
      }
    }
  }
  for (const st of document.querySelectorAll('style')) {
    if (remoteUrl.test(st.textContent)) external.push('<style> with @import or a remote url()');
  }
  return { charts, external };
})()"#;

/// Opens `page` in headless Chromium and reports its problems; with `screenshot`, saves the
/// first 1280 x 2000 pixels of it there. The one checker of the real pages and the broken
/// copies.
fn check_page(page: &Path, screenshot: Option<&Path>) -> PageCheck {
    let url = format!(
        "file://{}",
        std::fs::canonicalize(page)
            .unwrap_or_else(|e| panic!("{}: {e}", page.display()))
            .display()
    );
    let mut b = Browser::launch();
    let mut problems = Vec::new();
    let target = b.call(None, "Target.createTarget", json!({ "url": "about:blank" }));
    let target_id = target["targetId"].as_str().unwrap().to_string();
    let attached = b.call(
        None,
        "Target.attachToTarget",
        json!({ "targetId": target_id, "flatten": true }),
    );
    let session = attached["sessionId"].as_str().unwrap().to_string();
    let s = Some(session.as_str());
    for domain in ["Runtime", "Log", "Network", "Page"] {
        b.call(s, &format!("{domain}.enable"), json!({}));
    }
    b.call(
        s,
        "Emulation.setDeviceMetricsOverride",
        json!({ "width": 1280, "height": 2000, "deviceScaleFactor": 1, "mobile": false }),
    );
    let nav = b.call(s, "Page.navigate", json!({ "url": url }));
    if let Some(e) = nav["errorText"].as_str() {
        problems.push(Problem::Load(format!("{url}: {e}")));
    }
    b.wait_for(&session, "Page.loadEventFired", Duration::from_secs(30));
    // Late errors (timers, image loads) have a moment to show.
    b.settle(Duration::from_millis(500));
    let probe = b.call(
        s,
        "Runtime.evaluate",
        json!({ "expression": PROBE, "returnByValue": true }),
    );
    let found = &probe["result"]["value"];
    let charts = found["charts"].as_array().cloned().unwrap_or_default();
    for c in &charts {
        if c["marks"].as_u64() == Some(0) {
            let title = c["title"].as_str().unwrap_or_default();
            problems.push(Problem::ChartWithoutData(title.to_string()));
        }
    }
    for e in found["external"].as_array().into_iter().flatten() {
        problems.push(Problem::Network(format!(
            "address in the page: {}",
            e.as_str().unwrap_or_default()
        )));
    }
    if let Some(path) = screenshot {
        let shot = b.call(s, "Page.captureScreenshot", json!({ "format": "png" }));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .expect("a base64 screenshot");
        std::fs::write(path, png).unwrap();
    }
    problems.extend(b.page_events(&session));
    b.close();
    PageCheck {
        charts: charts.len(),
        problems,
    }
}

/// The page's own problems among the events Chromium sent for its session.
fn problems_in(event: &Value) -> Option<Problem> {
    let p = &event["params"];
    match event["method"].as_str()? {
        "Runtime.consoleAPICalled" if matches!(p["type"].as_str(), Some("error" | "assert")) => {
            let args: Vec<String> = p["args"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    a["value"]
                        .as_str()
                        .map(String::from)
                        .unwrap_or_else(|| a["description"].to_string())
                })
                .collect();
            Some(Problem::Console(format!(
                "console.{}: {}",
                p["type"].as_str().unwrap_or_default(),
                args.join(" ")
            )))
        }
        "Runtime.exceptionThrown" => {
            let d = &p["exceptionDetails"];
            let what = d["exception"]["description"]
                .as_str()
                .or(d["text"].as_str())
                .unwrap_or_default();
            Some(Problem::Console(format!("uncaught: {what}")))
        }
        "Log.entryAdded" if p["entry"]["level"] == "error" => {
            let e = &p["entry"];
            let what = format!(
                "{} ({})",
                e["text"].as_str().unwrap_or_default(),
                e["url"].as_str().unwrap_or_default()
            );
            Some(if e["source"] == "network" {
                Problem::Network(format!("failed load: {what}"))
            } else {
                Problem::Console(format!("browser logged: {what}"))
            })
        }
        "Network.requestWillBeSent" => {
            let url = p["request"]["url"].as_str().unwrap_or_default();
            let local = ["file:", "data:", "about:", "blob:"]
                .iter()
                .any(|s| url.starts_with(s));
            (!local).then(|| Problem::Network(format!("request: {url}")))
        }
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------
// Chromium over the DevTools Protocol pipe.

/// The Chromium binary: `CHROMIUM`, else `chromium` on the PATH; a missing one fails the
/// test saying how to install it.
fn chromium_binary() -> PathBuf {
    let found = match std::env::var_os("CHROMIUM") {
        Some(p) => Some(PathBuf::from(p)).filter(|p| p.is_file()),
        None => {
            let path = std::env::var_os("PATH").unwrap_or_default();
            std::env::split_paths(&path)
                .map(|d| d.join("chromium"))
                .find(|p| p.is_file())
        }
    };
    found.unwrap_or_else(|| {
        let why = match std::env::var("CHROMIUM") {
            Ok(c) => format!("CHROMIUM={c} is not a file"),
            Err(_) => "no `chromium` on the PATH".to_string(),
        };
        panic!(
            "Chromium is not installed ({why}), and the browser test needs it: install Debian's \
             package with `apt-get install -y chromium` (scripts/test does it), or set CHROMIUM \
             to a Chromium or Chrome binary"
        )
    })
}

/// A sink for Chromium's proxy on 127.0.0.1: it closes every connection, so nothing the
/// browser sends leaves the machine. (It is not a judge: Chromium's own services connect to
/// it whatever the page does.)
fn proxy_port() -> u16 {
    static PORT: OnceLock<u16> = OnceLock::new();
    *PORT.get_or_init(|| {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = l.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for c in l.incoming().flatten() {
                drop(c);
            }
        });
        port
    })
}

/// A pipe whose ends are moved to descriptors >= 10, close-on-exec: (read, write).
fn pipe() -> (OwnedFd, OwnedFd) {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a writable array of two descriptors.
    assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
    let high = |fd: i32| {
        // SAFETY: `fd` is open; F_DUPFD_CLOEXEC returns a new descriptor >= 10 or -1.
        let h = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 10) };
        assert!(h >= 10, "fcntl F_DUPFD_CLOEXEC");
        // SAFETY: both are open descriptors this function owns.
        unsafe {
            libc::close(fd);
            OwnedFd::from_raw_fd(h)
        }
    };
    (high(fds[0]), high(fds[1]))
}

struct Browser {
    child: Child,
    to: std::fs::File,
    from: Receiver<Value>,
    next_id: u64,
    /// Events received while waiting for a reply, kept for their page's problems.
    events: Vec<Value>,
    profile: PathBuf,
    stderr: PathBuf,
}

impl Browser {
    fn launch() -> Browser {
        let bin = chromium_binary();
        let profile = std::env::temp_dir().join(format!(
            "clinicload-chromium-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&profile);
        std::fs::create_dir_all(&profile).unwrap();
        let stderr = profile.with_extension("stderr");
        let (cmd_r, cmd_w) = pipe();
        let (ev_r, ev_w) = pipe();
        let mut cmd = Command::new(&bin);
        cmd.args([
            "--headless",
            "--no-sandbox",
            "--remote-debugging-pipe",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-extensions",
            "--disable-sync",
            "--hide-scrollbars",
            "--mute-audio",
            "--window-size=1280,2000",
            &format!("--proxy-server=http://127.0.0.1:{}", proxy_port()),
            "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
            &format!("--user-data-dir={}", profile.display()),
            "about:blank",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&stderr).unwrap());
        use std::os::fd::AsRawFd;
        let (r, w) = (cmd_r.as_raw_fd(), ev_w.as_raw_fd());
        // SAFETY: only dup2, async-signal-safe, between fork and exec: Chromium reads the
        // protocol's commands on descriptor 3 and writes its replies and events on 4.
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(r, 3) < 0 || libc::dup2(w, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", bin.display()));
        drop((cmd_r, ev_w));
        let (tx, from) = std::sync::mpsc::channel();
        let reader = std::fs::File::from(ev_r);
        std::thread::spawn(move || {
            let mut r = BufReader::new(reader);
            let mut buf = Vec::new();
            while r.read_until(0, &mut buf).is_ok_and(|n| n > 0) {
                if buf.last() == Some(&0) {
                    buf.pop();
                }
                if let Ok(v) = serde_json::from_slice::<Value>(&buf) {
                    if tx.send(v).is_err() {
                        return;
                    }
                }
                buf.clear();
            }
        });
        Browser {
            child,
            to: std::fs::File::from(cmd_w),
            from,
            next_id: 0,
            events: Vec::new(),
            profile,
            stderr,
        }
    }

    /// What Chromium printed, for a failure's message.
    fn stderr_tail(&self) -> String {
        let mut s = String::new();
        let _ = std::fs::File::open(&self.stderr).and_then(|mut f| f.read_to_string(&mut s));
        let lines: Vec<&str> = s.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }

    /// The next message within `deadline`, or a failure naming `what` was awaited.
    fn next(&mut self, deadline: Instant, what: &str) -> Value {
        match self
            .from
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
        {
            Ok(v) => v,
            Err(RecvTimeoutError::Timeout) => {
                panic!(
                    "Chromium: no {what} in time; its stderr:\n{}",
                    self.stderr_tail()
                )
            }
            Err(RecvTimeoutError::Disconnected) => panic!(
                "Chromium closed the DevTools pipe awaiting {what}; its stderr:\n{}",
                self.stderr_tail()
            ),
        }
    }

    /// Sends a command (to a page's session, or to the browser) and returns its result.
    fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let Some(s) = session {
            msg["sessionId"] = json!(s);
        }
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        self.to
            .write_all(&bytes)
            .unwrap_or_else(|e| panic!("writing {method} to Chromium: {e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.next(deadline, method);
            if v["id"] == id {
                assert!(v["error"].is_null(), "{method}: {}", v["error"]);
                return v["result"].clone();
            }
            self.events.push(v);
        }
    }

    /// Waits for `method`'s event in `session`, keeping every event.
    fn wait_for(&mut self, session: &str, method: &str, within: Duration) {
        let is = |v: &Value| v["method"] == method && v["sessionId"] == session;
        if self.events.iter().any(is) {
            return;
        }
        let deadline = Instant::now() + within;
        loop {
            let v = self.next(deadline, method);
            let done = is(&v);
            self.events.push(v);
            if done {
                return;
            }
        }
    }

    /// Keeps the events that arrive during `d`.
    fn settle(&mut self, d: Duration) {
        let until = Instant::now() + d;
        while let Ok(v) = self
            .from
            .recv_timeout(until.saturating_duration_since(Instant::now()))
        {
            self.events.push(v);
        }
    }

    /// The problems among the events of `session`.
    fn page_events(&mut self, session: &str) -> Vec<Problem> {
        while let Ok(v) = self.from.try_recv() {
            self.events.push(v);
        }
        self.events
            .iter()
            .filter(|e| e["sessionId"] == session)
            .filter_map(problems_in)
            .collect()
    }

    /// Closes the browser: asks it to, and waits up to 10 s (then `Drop` kills it).
    fn close(mut self) {
        self.next_id += 1;
        let msg = json!({ "id": self.next_id, "method": "Browser.close", "params": {} });
        let mut bytes = serde_json::to_vec(&msg).unwrap();
        bytes.push(0);
        let _ = self.to.write_all(&bytes);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Browser {
    /// Kills the browser if it still runs (a failed check, a close that timed out) and
    /// removes its profile.
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.profile);
        let _ = std::fs::remove_file(&self.stderr);
    }
}
