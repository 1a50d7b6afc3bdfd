//! JUnit XML, the test-report format every CI system reads (Jenkins, GitLab, GitHub checks
//! via an action): suites of test cases, each passed or failed with a message. Written to
//! be valid against both the Jenkins (dtkit `junit-4.xsd`) and the Apache Ant `JUnit.xsd`
//! schemas (`tests/fixtures/junit/`), the strictest pair in use: a bare `<testsuites>`, every
//! suite attribute present and no others, `<properties>` with at least one property, empty
//! `<system-out/>` and `<system-err/>`, and a failure `type`. Callers hand it plain data.

use std::fmt::Write;

/// One test case: passed when `failure` and `error` are None.
#[derive(Debug, Clone, Default)]
pub struct Case {
    pub classname: String,
    pub name: String,
    pub seconds: f64,
    /// (message, details) of a failure: the check ran and did not hold.
    pub failure: Option<(String, String)>,
    /// (message, details) of an error: the check could not be made (ignored when there is
    /// a failure; the schemas allow one or the other).
    pub error: Option<(String, String)>,
}

#[derive(Debug, Clone)]
pub struct Suite {
    pub name: String,
    pub package: String,
    /// `YYYY-MM-DDTHH:MM:SS` (UTC, no zone, as the schemas demand).
    pub timestamp: String,
    pub hostname: String,
    pub seconds: f64,
    /// At least one (the Jenkins schema rejects an empty `<properties>`).
    pub properties: Vec<(String, String)>,
    pub cases: Vec<Case>,
}

fn attr(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\n', "&#10;")
        .chars()
        // XML 1.0 forbids most control characters, even escaped.
        .filter(|c| !c.is_control() || *c == '\t')
        .collect()
}

fn text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .chars()
        .filter(|c| !c.is_control() || *c == '\t' || *c == '\n')
        .collect()
}

/// The suites as a JUnit XML document.
pub fn xml(suites: &[Suite]) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites>\n");
    for (id, s) in suites.iter().enumerate() {
        let failures = s.cases.iter().filter(|c| c.failure.is_some()).count();
        let errors = s
            .cases
            .iter()
            .filter(|c| c.failure.is_none() && c.error.is_some())
            .count();
        let _ = writeln!(
            out,
            "  <testsuite name=\"{}\" package=\"{}\" id=\"{id}\" tests=\"{}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\" timestamp=\"{}\" hostname=\"{}\">",
            attr(&s.name),
            attr(&s.package),
            s.cases.len(),
            s.seconds.max(0.0),
            attr(&s.timestamp),
            attr(if s.hostname.is_empty() { "localhost" } else { &s.hostname }),
        );
        out.push_str("    <properties>\n");
        let default = [("generator".to_string(), "clinicload".to_string())];
        let props = if s.properties.is_empty() {
            &default[..]
        } else {
            &s.properties[..]
        };
        for (k, v) in props {
            let _ = writeln!(
                out,
                "      <property name=\"{}\" value=\"{}\"/>",
                attr(k),
                attr(v)
            );
        }
        out.push_str("    </properties>\n");
        for c in &s.cases {
            let head = format!(
                "    <testcase name=\"{}\" classname=\"{}\" time=\"{:.3}\"",
                attr(&c.name),
                attr(&c.classname),
                c.seconds.max(0.0)
            );
            let (element, kind, problem) = match (&c.failure, &c.error) {
                (Some(f), _) => ("failure", "clinicload", Some(f)),
                (None, Some(e)) => ("error", "inconclusive", Some(e)),
                (None, None) => ("", "", None),
            };
            match problem {
                None => {
                    let _ = writeln!(out, "{head}/>");
                }
                Some((message, details)) => {
                    let _ = writeln!(
                        out,
                        "{head}>\n      <{element} type=\"{kind}\" message=\"{}\">{}</{element}>\n    </testcase>",
                        attr(message),
                        text(details)
                    );
                }
            }
        }
        out.push_str("    <system-out/>\n    <system-err/>\n  </testsuite>\n");
    }
    out.push_str("</testsuites>\n");
    out
}

/// Now as the schemas' timestamp (`YYYY-MM-DDTHH:MM:SS`, UTC).
pub fn timestamp_now() -> String {
    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// This machine's name for `hostname` (`localhost` when unknown).
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_escapes_and_shape() {
        let x = xml(&[Suite {
            name: "gate <smoke>".into(),
            package: "clinicload".into(),
            timestamp: "2026-11-30T10:00:00".into(),
            hostname: String::new(),
            seconds: 1.5,
            properties: vec![],
            cases: vec![
                Case {
                    classname: "a".into(),
                    name: "p99".into(),
                    ..Case::default()
                },
                Case {
                    classname: "a".into(),
                    name: "p50".into(),
                    failure: Some(("worse \"+20%\"".into(), "1 < 2 & \u{7} bell".into())),
                    ..Case::default()
                },
                Case {
                    classname: "b".into(),
                    name: "p50".into(),
                    error: Some(("too few repeats".into(), String::new())),
                    ..Case::default()
                },
            ],
        }]);
        assert!(x.contains("tests=\"3\" failures=\"1\" errors=\"1\""), "{x}");
        assert!(
            x.contains("<error type=\"inconclusive\" message=\"too few repeats\">"),
            "{x}"
        );
        assert!(x.contains("name=\"gate &lt;smoke&gt;\""));
        assert!(x.contains("hostname=\"localhost\""));
        assert!(
            x.contains("message=\"worse &quot;+20%&quot;\">1 &lt; 2 &amp;  bell</failure>"),
            "{x}"
        );
        assert!(x.contains("<property name=\"generator\""));
        assert!(x.contains("<system-out/>\n    <system-err/>"));
    }
}
