//! MongoDB side of a seed: clinicalNotes and voiceRecordings documents shaped like the
//! Mongoose schema of MVP-004, written with unordered `insert_many`, and the recordings'
//! audio uploaded through the driver's GridFS bucket.
//!
//! Why it is idempotent: every `_id` is derived from the model's deterministic UUID (the
//! documents' `_id` is the UUID string, the GridFS file id an ObjectId hashed from it), so a
//! re-run after an interruption meets its own earlier writes. What a re-run meets is
//! verified, never trusted: a document that already exists (duplicate key, E11000) is read
//! back and replaced if it differs from what this run writes; a GridFS file that already
//! exists is kept only if its fs.files document and its chunks are exactly what the upload
//! writes (an upload whose last insert was applied but whose reply was lost leaves fs.files
//! without chunks: the driver's cleanup deleted them), otherwise it is deleted and uploaded
//! again; stray chunks of a half-finished upload are deleted before uploading again.
//! MongoDB is written before the clinic's PostgreSQL transaction, so a clinic recorded as
//! complete in PostgreSQL always has its documents.

use std::collections::HashMap;
use std::sync::Arc;

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

/// Inserts documents with unordered insert_many in large batches. A document already present
/// (duplicate `_id`, from an earlier interrupted run) is read back and compared with the one
/// this run would write, and replaced when it differs, so resume never keeps a wrong document.
/// Returns how many documents were written (inserted or replaced).
pub async fn insert_idempotent(
    db: &Database,
    collection: &str,
    docs: &[RawDocumentBuf],
) -> Result<u64> {
    insert_idempotent_with(db, collection, docs, |_, _| {}).await
}

/// [`insert_idempotent`], calling `progress(documents, bytes)` after each batch is stored.
pub async fn insert_idempotent_with(
    db: &Database,
    collection: &str,
    docs: &[RawDocumentBuf],
    progress: impl Fn(u64, u64),
) -> Result<u64> {
    let coll = db.collection::<RawDocumentBuf>(collection);
    let doing = || format!("inserting into {collection}");
    let mut written = 0u64;
    for batch in batches(docs) {
        match coll.insert_many(batch).ordered(false).await {
            Ok(r) => written += r.inserted_ids.len() as u64,
            Err(e) => match e.kind.as_ref() {
                ErrorKind::InsertMany(im)
                    if im.write_concern_error.is_none()
                        && im
                            .write_errors
                            .as_ref()
                            .is_some_and(|w| w.iter().all(|we| we.code == DUPLICATE_KEY)) =>
                {
                    let dups: Vec<&RawDocumentBuf> = im
                        .write_errors
                        .as_ref()
                        .map_or(&[][..], Vec::as_slice)
                        .iter()
                        .filter_map(|we| batch.get(we.index))
                        .collect();
                    written += (batch.len() - dups.len()) as u64;
                    written += rewrite_differing(db, collection, &dups).await?;
                }
                _ => return Err(failure::mongo(e, doing())),
            },
        }
        progress(
            batch.len() as u64,
            batch.iter().map(|d| d.as_bytes().len() as u64).sum(),
        );
    }
    Ok(written)
}

/// Compares documents that already exist with the ones given (same `_id`) and replaces those
/// that differ. Returns how many were replaced.
async fn rewrite_differing(
    db: &Database,
    collection: &str,
    docs: &[&RawDocumentBuf],
) -> Result<u64> {
    if docs.is_empty() {
        return Ok(0);
    }
    let mut want: HashMap<String, Document> = HashMap::new();
    for d in docs {
        let d = Document::try_from(d.as_ref()).context("decoding a generated document")?;
        let id = d
            .get_str("_id")
            .context("a generated document without a string _id")?;
        want.insert(id.to_string(), d);
    }
    let coll = db.collection::<Document>(collection);
    let ids: Vec<&String> = want.keys().collect();
    let existing: Vec<Document> = coll
        .find(doc! { "_id": { "$in": ids } })
        .await
        .map_err(|e| failure::mongo(e, format!("reading back existing {collection}")))?
        .try_collect()
        .await
        .map_err(|e| failure::mongo(e, format!("reading back existing {collection}")))?;
    let mut replaced = 0;
    for have in existing {
        let Ok(id) = have.get_str("_id") else {
            continue;
        };
        let Some(d) = want.get(id) else { continue };
        if &have != d {
            coll.replace_one(doc! { "_id": id }, d).await.map_err(|e| {
                failure::mongo(e, format!("rewriting a differing {collection} document"))
            })?;
            replaced += 1;
        }
    }
    Ok(replaced)
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

/// The chunk size the driver's bucket writes (its default, 255 KiB).
const GRIDFS_CHUNK_SIZE: u64 = crate::generate::plan::GRIDFS_CHUNK as u64;

/// The `metadata` of a recording's fs.files document.
fn gridfs_metadata(r: &VoiceRecording) -> Document {
    doc! {
        "voiceRecordingId": r.id.to_string(),
        "encounterId": r.encounter_id.to_string(),
        "contentType": "audio/wav",
    }
}

/// Whether an existing GridFS file is exactly what uploading `r` writes: its fs.files
/// document (length, chunk size, filename, metadata) and chunks 0..k-1, each once, where k
/// follows from the length. A file whose final fs.files insert was applied but whose reply
/// was lost has its chunks deleted by the driver's cleanup: that file fails here.
fn file_is_complete(r: &VoiceRecording, files_doc: &Document, chunks: &[i64]) -> bool {
    let len = wav_size(r);
    let num = |k: &str| match files_doc.get(k) {
        Some(Bson::Int32(v)) => Some(i64::from(*v)),
        Some(Bson::Int64(v)) => Some(*v),
        Some(Bson::Double(v)) if v.fract() == 0.0 => Some(*v as i64),
        _ => None,
    };
    if num("length") != Some(len as i64) || num("chunkSize") != Some(GRIDFS_CHUNK_SIZE as i64) {
        return false;
    }
    if files_doc.get_str("filename").ok() != Some(r.filename.as_str())
        || files_doc.get_document("metadata").ok() != Some(&gridfs_metadata(r))
    {
        return false;
    }
    let expected = len.div_ceil(GRIDFS_CHUNK_SIZE) as i64;
    let mut n = chunks.to_vec();
    n.sort_unstable();
    n.len() as i64 == expected && n.iter().enumerate().all(|(i, &c)| c == i as i64)
}

/// Uploads each recording's WAV through the GridFS bucket under its deterministic file id.
/// A file that already exists (an earlier interrupted run) is verified against what this
/// run would write ([`file_is_complete`]) and skipped only if it matches; otherwise it is
/// deleted and uploaded again. `wav` produces the bytes (on a blocking thread: it is CPU
/// work); `progress` is called with the bytes of each piece once the bucket has taken it.
/// Returns (files uploaded, bytes uploaded).
pub async fn upload_recordings(
    db: &Database,
    recordings: &[VoiceRecording],
    wav: fn(&VoiceRecording) -> Vec<u8>,
) -> Result<(u64, u64)> {
    upload_recordings_with(db, recordings, wav, Arc::new(|_| {})).await
}

/// [`upload_recordings`] with a progress callback (bytes handed to the bucket).
pub async fn upload_recordings_with(
    db: &Database,
    recordings: &[VoiceRecording],
    wav: fn(&VoiceRecording) -> Vec<u8>,
    progress: Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<(u64, u64)> {
    if recordings.is_empty() {
        return Ok((0, 0));
    }
    let listing = |e| failure::mongo(e, "listing existing GridFS files");
    let ids: Vec<Bson> = recordings
        .iter()
        .map(|r| Bson::ObjectId(gridfs_file_id(&r.id)))
        .collect();
    let files = db.collection::<Document>(GRIDFS_FILES);
    let chunks = db.collection::<Document>(GRIDFS_CHUNKS);
    let existing: HashMap<ObjectId, Document> = files
        .find(doc! { "_id": { "$in": &ids } })
        .await
        .map_err(listing)?
        .try_collect::<Vec<Document>>()
        .await
        .map_err(listing)?
        .into_iter()
        .filter_map(|d| d.get_object_id("_id").ok().map(|id| (id, d)))
        .collect();
    let mut chunk_ns: HashMap<ObjectId, Vec<i64>> = HashMap::new();
    if !existing.is_empty() {
        let present: Vec<Bson> = existing.keys().map(|o| Bson::ObjectId(*o)).collect();
        let listed: Vec<Document> = chunks
            .find(doc! { "files_id": { "$in": present } })
            .projection(doc! { "files_id": 1, "n": 1 })
            .await
            .map_err(listing)?
            .try_collect()
            .await
            .map_err(listing)?;
        for c in listed {
            let n = match c.get("n") {
                Some(Bson::Int32(v)) => i64::from(*v),
                Some(Bson::Int64(v)) => *v,
                _ => -1,
            };
            if let Ok(f) = c.get_object_id("files_id") {
                chunk_ns.entry(f).or_default().push(n);
            }
        }
    }
    let mut missing: Vec<&VoiceRecording> = Vec::new();
    let mut broken: Vec<Bson> = Vec::new();
    for r in recordings {
        let id = gridfs_file_id(&r.id);
        match existing.get(&id) {
            None => missing.push(r),
            Some(d) => {
                let ns = chunk_ns.get(&id).map_or(&[][..], Vec::as_slice);
                if !file_is_complete(r, d, ns) {
                    broken.push(Bson::ObjectId(id));
                    missing.push(r);
                }
            }
        }
    }
    if missing.is_empty() {
        return Ok((0, 0));
    }
    if !broken.is_empty() {
        tracing::info!(files = broken.len(), "rewriting incomplete GridFS files");
        files
            .delete_many(doc! { "_id": { "$in": &broken } })
            .await
            .map_err(|e| failure::mongo(e, "removing incomplete GridFS files"))?;
    }
    // Chunks without a (complete) files document are the remains of an interrupted upload.
    let missing_ids: Vec<Bson> = missing
        .iter()
        .map(|r| Bson::ObjectId(gridfs_file_id(&r.id)))
        .collect();
    chunks
        .delete_many(doc! { "files_id": { "$in": missing_ids } })
        .await
        .map_err(|e| failure::mongo(e, "removing chunks of interrupted GridFS uploads"))?;

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
            tasks.spawn(upload_one(bucket.clone(), r, wav, progress.clone()));
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
    progress: Arc<dyn Fn(u64) + Send + Sync>,
) -> Result<u64> {
    let meta = r.clone();
    let bytes = tokio::task::spawn_blocking(move || wav(&meta))
        .await
        .context("audio generation thread panicked")?;
    let mut up = bucket
        .open_upload_stream(&r.filename)
        .id(Bson::ObjectId(gridfs_file_id(&r.id)))
        .metadata(gridfs_metadata(&r))
        .await
        .map_err(|e| failure::mongo(e, format!("opening the GridFS upload of {}", r.filename)))?;
    // A chunk at a time, so progress follows the bytes actually handed over.
    for piece in bytes.chunks(GRIDFS_CHUNK_SIZE as usize) {
        up.write_all(piece)
            .await
            .map_err(|e| failure::mongo_io(e, format!("uploading {} to GridFS", r.filename)))?;
        progress(piece.len() as u64);
    }
    up.close().await.map_err(|e| {
        failure::mongo_io(e, format!("finishing the GridFS upload of {}", r.filename))
    })?;
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
