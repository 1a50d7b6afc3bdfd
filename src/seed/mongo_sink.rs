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
use mongodb::bson::{doc, oid::ObjectId, Bson, DateTime, Document};
use mongodb::error::ErrorKind;
use mongodb::Database;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::model::{ClinicData, ClinicalNote, VoiceRecording};
use crate::schema::mongo::{
    CLINICAL_NOTES, GRIDFS_BUCKET, GRIDFS_CHUNKS, GRIDFS_FILES, VOICE_RECORDINGS,
};

/// Documents per insert_many: far under MongoDB's 100,000-operation and 48 MB batch limits for
/// notes of a few kB, and the driver splits larger batches itself.
const INSERT_BATCH: usize = 5_000;
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
    pub notes: Vec<Document>,
    pub voices: Vec<Document>,
    pub recordings: Vec<VoiceRecording>,
}

impl ClinicDocs {
    pub fn build(c: &ClinicData) -> ClinicDocs {
        let mut attachments: HashMap<Uuid, Vec<ObjectId>> = HashMap::new();
        for v in &c.voice_recordings {
            attachments
                .entry(v.encounter_id)
                .or_default()
                .push(gridfs_file_id(&v.id));
        }
        let notes = c
            .clinical_notes
            .iter()
            .map(|n| {
                let a = attachments
                    .get(&n.encounter_id)
                    .map(Vec::as_slice)
                    .unwrap_or(&[]);
                note_document(n, c.clinic_index, a)
            })
            .collect();
        let voices = c
            .voice_recordings
            .iter()
            .map(|v| voice_document(v, wav_size(v)))
            .collect();
        ClinicDocs {
            notes,
            voices,
            recordings: c.voice_recordings.clone(),
        }
    }

    /// Approximate BSON bytes of the documents (for MB/s figures).
    pub fn note_bytes(&self) -> u64 {
        self.notes.iter().map(doc_size).sum()
    }

    pub fn voice_bytes(&self) -> u64 {
        self.voices.iter().map(doc_size).sum()
    }

    pub fn audio_bytes(&self) -> u64 {
        self.recordings.iter().map(wav_size).sum()
    }
}

fn doc_size(d: &Document) -> u64 {
    let mut buf = Vec::new();
    d.to_writer(&mut buf).map(|_| buf.len() as u64).unwrap_or(0)
}

/// Inserts documents with unordered insert_many in large batches; documents already present
/// (duplicate `_id`) count as written. Returns how many were newly inserted.
pub async fn insert_idempotent(db: &Database, collection: &str, docs: &[Document]) -> Result<u64> {
    let coll = db.collection::<Document>(collection);
    let mut inserted = 0u64;
    for batch in docs.chunks(INSERT_BATCH) {
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
                _ => {
                    return Err(anyhow::Error::new(e))
                        .with_context(|| format!("inserting into MongoDB {collection}"))
                }
            },
        }
    }
    Ok(inserted)
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
