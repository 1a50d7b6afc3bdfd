//! The HdrHistogram interval log (`latency.hlog`): one line per operation label per second,
//! in the standard format (V2 compressed histograms, base64) that HdrHistogram's own tools
//! (HistogramLogProcessor, HdrHistogramVisualizer, hdrhistogram's `IntervalLogIterator`)
//! read. Each interval carries `Tag=<operation>`; the overall histogram is untagged.
//! Values are microseconds; timestamps are seconds from the start of the measured window
//! (the log's StartTime).
//!
//! Written as the run goes, so memory stays flat however long the run, into a temporary
//! name (`latency.hlog.partial`) that [`HlogWriter::finish`] renames into place: a reader
//! never sees a truncated log under the final name. A write that fails (a full disk) does
//! not stop the run; the error is kept and reported by `finish`, which removes the partial
//! file.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use anyhow::{Context, Result};
use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::Histogram;

pub struct HlogWriter {
    out: BufWriter<File>,
    serializer: V2DeflateSerializer,
    /// The final name; the log is written to `<path>.partial` until `finish`.
    path: PathBuf,
    partial: PathBuf,
    /// The first write error; later writes are skipped.
    failed: Option<String>,
    /// The header (comments, StartTime), written before the first interval or at the end:
    /// until then [`HlogWriter::set_start`] may still move the StartTime.
    header: Option<(Vec<String>, SystemTime)>,
}

impl HlogWriter {
    /// Creates the file (under its temporary name); the header (comments and StartTime) is
    /// written with the first interval.
    pub fn create(path: &Path, start: SystemTime, comments: &[String]) -> Result<HlogWriter> {
        let mut partial = path.as_os_str().to_owned();
        partial.push(".partial");
        let partial = PathBuf::from(partial);
        let file =
            File::create(&partial).with_context(|| format!("creating {}", partial.display()))?;
        Ok(HlogWriter {
            out: BufWriter::new(file),
            serializer: V2DeflateSerializer::new(),
            path: path.to_path_buf(),
            partial,
            failed: None,
            header: Some((comments.to_vec(), start)),
        })
    }

    /// Moves the log's StartTime (the start of the measured window) to `start`, when it is
    /// known only after the warm-up (`warmup = "auto"`). Ignored once an interval is written.
    pub fn set_start(&mut self, start: SystemTime) {
        if let Some(h) = &mut self.header {
            h.1 = start;
        }
    }

    /// Writes the header, once.
    fn write_header(&mut self) -> Result<()> {
        let Some((comments, start)) = self.header.take() else {
            return Ok(());
        };
        let mut b = IntervalLogWriterBuilder::new();
        for c in &comments {
            b.add_comment(c);
        }
        b.add_comment("Latency in microseconds; one tagged histogram per operation and an untagged overall histogram per interval");
        b.with_start_time(start);
        b.begin_log_with(&mut self.out, &mut self.serializer)
            .with_context(|| format!("writing {}", self.path.display()))?;
        // The Java writer's legend line, which HistogramLogProcessor expects after the header.
        writeln!(
            self.out,
            "\"StartTimestamp\",\"Interval_Length\",\"Interval_Max\",\"Interval_Compressed_Histogram\""
        )?;
        Ok(())
    }

    /// Appends one interval histogram. An empty `tag` writes the untagged (overall) line.
    /// After a failed write, does nothing (the failure is reported by `finish`).
    pub fn write(&mut self, tag: &str, h: &Histogram<u64>, start: Duration, duration: Duration) {
        if self.failed.is_some() {
            return;
        }
        if let Err(e) = self.try_write(tag, h, start, duration) {
            self.failed = Some(format!("{e:#}"));
        }
    }

    fn try_write(
        &mut self,
        tag: &str,
        h: &Histogram<u64>,
        start: Duration,
        duration: Duration,
    ) -> Result<()> {
        self.write_header()?;
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

    /// Flushes, syncs and renames the log to its final name. On any failure (now or during
    /// the run) the partial file is removed and the error says what happened.
    pub fn finish(mut self) -> Result<()> {
        if self.failed.is_none() {
            if let Err(e) = self.write_header() {
                self.failed = Some(format!("{e:#}"));
            }
        }
        let result = match self.failed.take() {
            Some(e) => Err(anyhow::anyhow!(e)),
            None => self
                .out
                .flush()
                .and_then(|_| self.out.get_ref().sync_all())
                .map_err(anyhow::Error::from),
        }
        .and_then(|_| std::fs::rename(&self.partial, &self.path).map_err(Into::into));
        if let Err(e) = result {
            let _ = std::fs::remove_file(&self.partial);
            return Err(e).with_context(|| format!("writing {}", self.path.display()));
        }
        Ok(())
    }

    /// Removes the partial log (a run that produced no report).
    pub fn discard(self) {
        let _ = std::fs::remove_file(&self.partial);
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
        );
        w.write("", &h, Duration::from_secs(0), Duration::from_secs(1));
        assert!(
            !path.exists(),
            "written under a temporary name until finished"
        );
        w.finish().unwrap();
        assert!(!dir.join("t.hlog.partial").exists());
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
