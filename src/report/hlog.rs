//! The HdrHistogram interval log (`latency.hlog`): one line per operation label per second,
//! in the standard format (V2 compressed histograms, base64) that HdrHistogram's own tools
//! (HistogramLogProcessor, HdrHistogramVisualizer, hdrhistogram's `IntervalLogIterator`)
//! read. Each interval carries `Tag=<operation>`; the overall histogram is untagged.
//! Values are microseconds; timestamps are seconds from the start of the measured window
//! (the log's StartTime).
//!
//! Written as the run goes, so memory stays flat however long the run.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;

pub struct HlogWriter {
    out: BufWriter<File>,
    serializer: V2DeflateSerializer,
}

impl HlogWriter {
    /// Creates the file and writes the header (comments and StartTime).
    pub fn create(path: &Path, start: SystemTime, comments: &[String]) -> Result<HlogWriter> {
        let file = File::create(path).with_context(|| format!("creating {}", path.display()))?;
        let mut w = HlogWriter {
            out: BufWriter::new(file),
            serializer: V2DeflateSerializer::new(),
        };
        let mut b = IntervalLogWriterBuilder::new();
        for c in comments {
            b.add_comment(c);
        }
        b.add_comment("Latency in microseconds; one tagged histogram per operation and an untagged overall histogram per interval");
        b.with_start_time(start);
        b.begin_log_with(&mut w.out, &mut w.serializer)
            .with_context(|| format!("writing {}", path.display()))?;
        // The Java writer's legend line, which HistogramLogProcessor expects after the header.
        writeln!(
            w.out,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )?;
        Ok(w)
    }

    /// Appends one interval histogram. An empty `tag` writes the untagged (overall) line.
    pub fn write(
        &mut self,
        tag: &str,
        h: &Histogram<u64>,
        start: Duration,
        duration: Duration,
    ) -> Result<()> {
        // Tags may not contain ',', ' ' or '\n' in the format; labels are identifiers anyway.
        let clean: String = tag
            .chars()
            .map(|c| {
                if c == ',' || c.is_whitespace() {
                    '_'
                } else {
                    c
                }
            })
            .collect();
        let mut w = IntervalLogWriterBuilder::new()
            .begin_log_with(&mut self.out, &mut self.serializer)
            .context("writing the interval log")?;
        let tag = if clean.is_empty() {
            None
        } else {
            Tag::new(&clean)
        };
        w.write_histogram(h, start, duration, tag)
            .map_err(|e| anyhow::anyhow!("writing the interval log: {e:?}"))?;
        Ok(())
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().context("writing the interval log")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};

    #[test]
    fn written_log_reads_back_with_tags() {
        let dir = std::env::temp_dir().join(format!("clinicload-hlog-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.hlog");
        let mut w = HlogWriter::create(&path, SystemTime::now(), &["test".into()]).unwrap();
        let mut h = crate::metrics::new_histogram();
        h.record(1234).unwrap();
        w.write(
            "redis_get",
            &h,
            Duration::from_secs(0),
            Duration::from_secs(1),
        )
        .unwrap();
        w.write("", &h, Duration::from_secs(0), Duration::from_secs(1))
            .unwrap();
        w.flush().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        let mut tags = Vec::new();
        for e in IntervalLogIterator::new(&bytes) {
            if let LogEntry::Interval(i) = e.unwrap() {
                tags.push(i.tag().map(|t| t.as_str().to_string()));
            }
        }
        assert_eq!(tags, vec![Some("redis_get".to_string()), None]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
