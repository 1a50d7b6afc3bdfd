//! MongoDB side of a seed: clinicalNotes and voiceRecordings documents shaped like the
//! Mongoose schema of MVP-004, written with unordered `insert_many`, and the recordings'
//! audio uploaded through the driver's GridFS bucket.
//!
//! Why it is idempotent: every `_id` is derived from the model's deterministic UUID (the
//! documents' `_id` is the UUID string, the GridFS file id an ObjectId hashed from it), so a
//! re-run after an interruption meets its own earlier writes. Duplicate-key errors (E11000)
//! on insert mean "already written" and are ignored; GridFS files that already exist are
//! skipped, and stray chunks of a half-finished upload are deleted before uploading again.
//! MongoDB is written before the clinic's PostgreSQL transaction, so a clinic recorded as
//! complete in PostgreSQL always has its documents.

use std::collections::HashMap;

use anyhow::{Context, Result};
use chrono::NaiveDateTime;
use futures::{AsyncWriteExt, TryStreamExt};
use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime, Document, RawDocumentBuf};
use mongodb::error::ErrorKind;
use mongodb::Database;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::model::{ClinicData, ClinicalNote, VoiceRecording};
use crate::schema::mongo::{
    CLINICAL_NOTES, GRIDFS_BUCKET, GRIDFS_CHUNKS, GRIDFS_FILES, VOICE_RECORDINGS,
};
use crate::seed::failure;

/// Most documents per insert_many, far under MongoDB's 100,000-operation limit.
const INSERT_BATCH: usize = 5_000;
/// Most BSON bytes per insert_many: large enough that round trips don't matter (a few hundred
/// notes), small enough that the driver's copies of the batch stay small. One batch of a whole
/// clinic's notes (~43 MB) cost about 200 MB of peak memory in the driver.
const INSERT_BATCH_BYTES: usize = 4 << 20;
/// Concurrent GridFS uploads per clinic.
const UPLOADS_IN_FLIGHT: usize = 4;
/// MongoDB's duplicate key error code.
const DUPLICATE_KEY: i32 = 11000;

/// Clinic-local time as a BSON date (the clock is stored as if it were UTC, like the
/// PostgreSQL TIMESTAMP columns, so both stores show the same wall-clock time).
pub fn bson_date(t: &NaiveDateTime) -> DateTime {
    DateTime::from_millis(t.and_utc().timestamp_millis())
}

/// The GridFS file id of a recording: an ObjectId hashed from the recording's UUID, stable
/// across runs and processes.
pub fn gridfs_file_id(recording_id: &Uuid) -> ObjectId {
    let digest = Sha256::new()
        .chain_update(b"clinicload gridfs file ")
        .chain_update(recording_id.as_bytes())
        .finalize();
    let mut bytes = [0u8; 12];
    bytes.copy_from_slice(&digest[..12]);
    ObjectId::from_bytes(bytes)
}

/// A clinicalNotes document. `attachments` are the GridFS files of the encounter's recordings.
pub fn note_document(n: &ClinicalNote, clinic_index: u32, attachments: &[ObjectId]) -> Document {
    let c = &n.content;
    let mut ros = Document::new();
    for (system, finding) in &c.review_of_systems {
        ros.insert(*system, finding.as_str());
    }
    let diagnoses: Vec<Document> = c
        .diagnoses
        .iter()
        .map(|(code, description)| doc! { "code": code, "description": description })
        .collect();
    let mut d = doc! {
        "_id": n.id.to_string(),
        "encounterId": n.encounter_id.to_string(),
        "patientId": n.patient_id.to_string(),
        "doctorId": n.doctor_id.to_string(),
        "status": n.status,
        "noteType": n.note_type,
        "content": {
            "subjective": {
                "chiefComplaint": &c.chief_complaint,
                "historyOfPresentIllness": &c.history_of_present_illness,
                "reviewOfSystems": ros,
                "pastMedicalHistory": &c.past_medical_history,
                "medications": &c.medications,
                "allergies": &c.allergies,
                "familyHistory": &c.family_history,
                "socialHistory": &c.social_history,
            },
            "objective": {
                "vitalSigns": &c.vital_signs,
                "physicalExam": &c.physical_exam,
            },
            "assessment": {
                "clinicalImpression": &c.clinical_impression,
                "diagnoses": diagnoses,
            },
            "plan": {
                "medications": &c.plan_medications,
                "orders": &c.plan_orders,
                "patientEducation": &c.patient_education,
                "followUp": &c.follow_up,
            },
        },
        "rawTranscription": &n.raw_transcription,
        "aiSummary": &n.ai_summary,
        "aiConfidenceScore": n.ai_confidence_score,
    };
    // Mongoose leaves unset paths out of the document; the validator wants a string if present.
    if let Some(by) = n.signed_by {
        d.insert("signedBy", by.to_string());
    }
    if let Some(at) = &n.signed_at {
        d.insert("signedAt", bson_date(at));
    }
    d.insert(
        "metadata",
        doc! { "source": "clinicload", "clinicIndex": clinic_index as i64 },
    );
    d.insert("tags", n.tags.clone());
    d.insert(
        "attachments",
        attachments
            .iter()
            .map(|o| Bson::ObjectId(*o))
            .collect::<Vec<_>>(),
    );
    d.insert("createdAt", bson_date(&n.created_at));
    d.insert("updatedAt", bson_date(&n.updated_at));
    d
}

/// A voiceRecordings document: the recording's metadata and its GridFS file id.
pub fn voice_document(v: &VoiceRecording, size_bytes: u64) -> Document {
    doc! {
        "_id": v.id.to_string(),
        "encounterId": v.encounter_id.to_string(),
        "patientId": v.patient_id.to_string(),
        "doctorId": v.doctor_id.to_string(),
        "fileId": gridfs_file_id(&v.id),
        "filename": &v.filename,
        "contentType": "audio/wav",
        "durationSeconds": v.duration_seconds as i64,
        "sampleRateHz": v.sample_rate_hz as i64,
        "sizeBytes": size_bytes as i64,
        "createdAt": bson_date(&v.created_at),
    }
}

/// The size of a recording's WAV file, computed without rendering it.
pub fn wav_size(v: &VoiceRecording) -> u64 {
    crate::generate::audio::wav_len(v) as u64
}

/// All MongoDB documents of one clinic, built on a generator thread.
pub struct ClinicDocs {
    pub notes: Vec<RawDocumentBuf>,
    pub voices: Vec<RawDocumentBuf>,
    pub recordings: Vec<VoiceRecording>,
}

impl ClinicDocs {
    /// Turns the clinic's notes and recordings into encoded BSON, consuming them one by one:
    /// a clinic waiting for a writer holds each document once, as compact bytes, instead of
    /// the model structs plus a tree of `Bson` values (the notes are most of a clinic's memory).
    pub fn build(c: ClinicData) -> ClinicDocs {
        let mut attachments: HashMap<Uuid, Vec<ObjectId>> = HashMap::new();
        for v in &c.voice_recordings {
            attachments
                .entry(v.encounter_id)
                .or_default()
                .push(gridfs_file_id(&v.id));
        }
        let clinic_index = c.clinic_index;
        let notes = c
            .clinical_notes
            .into_iter()
            .map(|n| {
                let a = attachments
                    .get(&n.encounter_id)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                raw(&note_document(&n, clinic_index, a))
            })
            .collect();
        let voices = c
            .voice_recordings
            .iter()
            .map(|v| raw(&voice_document(v, wav_size(v))))
            .collect();
        ClinicDocs {
            notes,
            voices,
            recordings: c.voice_recordings,
        }
    }

    /// BSON bytes of the documents (for MB/s figures and the memory budget).
    pub fn note_bytes(&self) -> u64 {
        self.notes.iter().map(|d| d.as_bytes().len() as u64).sum()
    }

    pub fn voice_bytes(&self) -> u64 {
        self.voices.iter().map(|d| d.as_bytes().len() as u64).sum()
    }

    pub fn audio_bytes(&self) -> u64 {
        self.recordings.iter().map(wav_size).sum()
    }
}

/// Encodes a document built by this module; only a value BSON cannot hold could fail, and the
/// documents are made of strings, numbers, dates and ids.
/// The encoder grows its buffer by doubling; the slack is given back, since the document
/// may wait in the queue and the memory budget counts its bytes.
fn raw(d: &Document) -> RawDocumentBuf {
    let mut bytes = Vec::new();
    d.to_writer(&mut bytes)
        .expect("generated documents encode as BSON");
    bytes.shrink_to_fit();
    RawDocumentBuf::from_bytes(bytes).expect("the encoder wrote valid BSON")
}

/// Inserts documents with unordered insert_many in large batches; documents already present
/// (duplicate `_id`) count as written. Returns how many were newly inserted.
pub async fn insert_idempotent(
    db: &Database,
    collection: &str,
    docs: &[RawDocumentBuf],
) -> Result<u64> {
    let coll = db.collection::<RawDocumentBuf>(collection);
    let mut inserted = 0u64;
    for batch in batches(docs) {
        match coll.insert_many(batch).ordered(false).await {
            Ok(r) => inserted += r.inserted_ids.len() as u64,
            Err(e) => match e.kind.as_ref() {
                ErrorKind::InsertMany(im)
                    if im.write_concern_error.is_none()
                        && im
                            .write_errors
                            .as_ref()
                            .is_some_and(|w| w.iter().all(|we| we.code == DUPLICATE_KEY)) =>
                {
                    let dups = im.write_errors.as_ref().map_or(0, Vec::len);
                    inserted += (batch.len() - dups) as u64;
                }
                _ => return Err(failure::mongo(e, format!("inserting into {collection}"))),
            },
        }
    }
    Ok(inserted)
}

/// Consecutive runs of documents within [`INSERT_BATCH`] and [`INSERT_BATCH_BYTES`] (a single
/// larger document makes a batch of its own).
fn batches(docs: &[RawDocumentBuf]) -> impl Iterator<Item = &[RawDocumentBuf]> {
    let mut rest = docs;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut bytes = 0;
        let mut n = 0;
        while n < rest.len() && n < INSERT_BATCH {
            bytes += rest[n].as_bytes().len();
            if n > 0 && bytes > INSERT_BATCH_BYTES {
                break;
            }
            n += 1;
        }
        let (batch, tail) = rest.split_at(n);
        rest = tail;
        Some(batch)
    })
}

/// Uploads each recording's WAV through the GridFS bucket under its deterministic file id,
/// skipping files that already exist. `wav` produces the bytes (on a blocking thread: it is
/// CPU work). Returns (files uploaded, bytes uploaded).
pub async fn upload_recordings(
    db: &Database,
    recordings: &[VoiceRecording],
    wav: fn(&VoiceRecording) -> Vec<u8>,
) -> Result<(u64, u64)> {
    if recordings.is_empty() {
        return Ok((0, 0));
    }
    let ids: Vec<Bson> = recordings
        .iter()
        .map(|r| Bson::ObjectId(gridfs_file_id(&r.id)))
        .collect();
    let files = db.collection::<Document>(GRIDFS_FILES);
    let existing: Vec<ObjectId> = files
        .find(doc! { "_id": { "$in": ids } })
        .projection(doc! { "_id": 1 })
        .await
        .context("listing existing GridFS files")?
        .map_ok(|d| d.get_object_id("_id").ok())
        .try_filter_map(|o| async move { Ok(o) })
        .try_collect()
        .await
        .context("listing existing GridFS files")?;
    let missing: Vec<&VoiceRecording> = recordings
        .iter()
        .filter(|r| !existing.contains(&gridfs_file_id(&r.id)))
        .collect();
    if missing.is_empty() {
        return Ok((0, 0));
    }
    // Chunks without a files document are the remains of an interrupted upload.
    let missing_ids: Vec<Bson> = missing
        .iter()
        .map(|r| Bson::ObjectId(gridfs_file_id(&r.id)))
        .collect();
    db.collection::<Document>(GRIDFS_CHUNKS)
        .delete_many(doc! { "files_id": { "$in": missing_ids } })
        .await
        .context("removing chunks of interrupted GridFS uploads")?;

    let bucket = db.gridfs_bucket(
        mongodb::options::GridFsBucketOptions::builder()
            .bucket_name(GRIDFS_BUCKET.to_string())
            .build(),
    );
    // Owned tasks on the runtime, a few at a time: each generates its audio on a blocking
    // thread and streams it into the bucket.
    let mut n = 0;
    let mut bytes = 0;
    let mut tasks = tokio::task::JoinSet::new();
    let mut queue = missing.into_iter().cloned();
    loop {
        while tasks.len() < UPLOADS_IN_FLIGHT {
            let Some(r) = queue.next() else { break };
            tasks.spawn(upload_one(bucket.clone(), r, wav));
        }
        match tasks.join_next().await {
            None => break,
            Some(joined) => {
                bytes += joined.context("a GridFS upload task failed")??;
                n += 1;
            }
        }
    }
    Ok((n, bytes))
}

async fn upload_one(
    bucket: mongodb::gridfs::GridFsBucket,
    r: VoiceRecording,
    wav: fn(&VoiceRecording) -> Vec<u8>,
) -> Result<u64> {
    let meta = r.clone();
    let bytes = tokio::task::spawn_blocking(move || wav(&meta))
        .await
        .context("audio generation thread panicked")?;
    let mut up = bucket
        .open_upload_stream(&r.filename)
        .id(Bson::ObjectId(gridfs_file_id(&r.id)))
        .metadata(doc! {
            "voiceRecordingId": r.id.to_string(),
            "encounterId": r.encounter_id.to_string(),
            "contentType": "audio/wav",
        })
        .await
        .context("opening a GridFS upload")?;
    up.write_all(&bytes)
        .await
        .with_context(|| format!("uploading {} to GridFS", r.filename))?;
    up.close()
        .await
        .with_context(|| format!("finishing the GridFS upload of {}", r.filename))?;
    Ok(bytes.len() as u64)
}

/// Writes one clinic's documents: GridFS audio first, then the voiceRecordings that point at
/// it, then the clinicalNotes. Safe to repeat.
pub async fn write_clinic(
    db: &Database,
    docs: &ClinicDocs,
    wav: fn(&VoiceRecording) -> Vec<u8>,
) -> Result<()> {
    upload_recordings(db, &docs.recordings, wav).await?;
    insert_idempotent(db, VOICE_RECORDINGS, &docs.voices).await?;
    insert_idempotent(db, CLINICAL_NOTES, &docs.notes).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc_of(len: usize) -> RawDocumentBuf {
        raw(&doc! { "t": "x".repeat(len) })
    }

    #[test]
    fn batches_stay_within_the_byte_limit_and_keep_every_document_in_order() {
        let docs: Vec<RawDocumentBuf> = (0..40).map(|i| doc_of(300_000 + i * 1000)).collect();
        let got: Vec<&[RawDocumentBuf]> = batches(&docs).collect();
        assert!(
            got.len() > 1,
            "40 documents of ~300 kB need several 4 MB batches"
        );
        for b in &got {
            let bytes: usize = b.iter().map(|d| d.as_bytes().len()).sum();
            assert!(bytes <= INSERT_BATCH_BYTES, "{bytes} bytes in one batch");
        }
        let flat: Vec<&RawDocumentBuf> = got.iter().flat_map(|b| b.iter()).collect();
        assert_eq!(flat.len(), docs.len());
        assert!(flat.iter().zip(&docs).all(|(a, b)| *a == b));
        // A document over the limit still goes, alone.
        let big = [doc_of(INSERT_BATCH_BYTES + 1), doc_of(10)];
        assert_eq!(batches(&big).map(<[_]>::len).collect::<Vec<_>>(), [1, 1]);
    }
}
