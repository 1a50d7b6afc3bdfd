//! MongoDB operations on clinicalNotes and the GridFS bucket `fs`: note by encounter, a
//! patient's notes newest first, a doctor's drafts, full-text search, a voice recording
//! streamed from GridFS, and signing a note. The query text of each is written in mongo
//! shell syntax next to its name.
//!
//! Full-text search needs a text index, which some MongoDB-compatible servers (FerretDB)
//! lack. The server's refusal is reported as "unsupported by this server" with its own
//! words, once; the runner then stops issuing the operation rather than counting the same
//! refusal thousands of times as errors.

use futures::{AsyncReadExt, TryStreamExt};
use mongodb::bson::{doc, Document};
use mongodb::error::ErrorKind;
use mongodb::Database;
use rand::rngs::SmallRng;
use rand::Rng;

use super::{OpError, OpKind, Outcome};
use crate::scenario::catalog::{pick_index, Catalog, Entity};
use crate::scenario::spec::OpSpec;
use crate::schema::mongo::{is_unsupported_error, server_message, CLINICAL_NOTES};

pub const NOTE_BY_ENCOUNTER: &str = "db.clinicalNotes.findOne({ encounterId: :encounterId })";

pub const PATIENT_NOTES: &str =
    "db.clinicalNotes.find({ patientId: :patientId }).sort({ createdAt: -1 }).limit(20)";

pub const DOCTOR_DRAFTS: &str =
    "db.clinicalNotes.find({ doctorId: :doctorId, status: \"draft\" }).sort({ updatedAt: -1 }).limit(50)";

pub const NOTES_TEXT_SEARCH: &str =
    "db.clinicalNotes.find({ $text: { $search: :terms } }).limit(20)";

pub const VOICE_RECORDING: &str =
    "GridFSBucket(\"fs\").openDownloadStream(:fileId)  // read to the end";

pub const SIGN_NOTE: &str = "db.clinicalNotes.updateOne({ _id: :noteId, status: \"draft\" }, { $set: { status: \"signed\", signedBy: :doctorId, signedAt: new Date(), updatedAt: new Date() } })";

/// Search terms for full-text search: complaints and findings clinical notes mention.
const TERMS: &[&str] = &[
    "chest pain",
    "cough",
    "fever",
    "headache",
    "hypertension",
    "diabetes",
    "shortness of breath",
    "abdominal pain",
    "back pain",
    "rash",
    "dizziness",
    "fatigue",
];

/// The filter, sort and limit of a keyed read of clinicalNotes, drawn from the dataset as the
/// run draws it: shared by the run and by `explain`. None for other operations.
pub fn find_query(
    kind: OpKind,
    spec: &OpSpec,
    catalog: &Catalog,
    rng: &mut SmallRng,
) -> Option<(Document, Option<Document>, i64)> {
    Some(match kind {
        OpKind::NoteByEncounter => {
            let i = pick_index(catalog.note_encounters.len(), spec.dist("encounter"), rng);
            (doc! { "encounterId": &catalog.note_encounters[i] }, None, 1)
        }
        OpKind::PatientNotes => {
            let i = pick_index(catalog.note_patients.len(), spec.dist("patient"), rng);
            (
                doc! { "patientId": &catalog.note_patients[i] },
                Some(doc! { "createdAt": -1 }),
                20,
            )
        }
        OpKind::DoctorDrafts => {
            let i = pick_index(catalog.note_doctors.len(), spec.dist("doctor"), rng);
            (
                doc! { "doctorId": &catalog.note_doctors[i], "status": "draft" },
                Some(doc! { "updatedAt": -1 }),
                50,
            )
        }
        _ => return None,
    })
}

/// The error kind ("mongo:IndexNotFound", "io", ...) and message of a driver error.
pub fn mongo_error(e: &mongodb::error::Error) -> OpError {
    match e.kind.as_ref() {
        ErrorKind::Command(c) => OpError::new(format!("mongo:{}", c.code_name), server_message(e)),
        ErrorKind::Io(_) => OpError::new("io", e.to_string()),
        _ => OpError::new("mongo", e.to_string()),
    }
}

/// Whether the server's answer to a `$text` query means it cannot do full-text search:
/// "not implemented"-style answers, MongoDB's IndexNotFound (27, "text index required for
/// $text query"), or a server that does not know the operator at all (FerretDB 1.x answers
/// BadValue (2) "unknown top level operator: $text").
pub fn is_text_search_unsupported(e: &mongodb::error::Error) -> bool {
    is_unsupported_error(e)
        || matches!(e.kind.as_ref(), ErrorKind::Command(c)
            if c.code == 27 || (c.code == 2 && c.message.contains("$text")))
}

pub async fn execute(
    kind: OpKind,
    spec: &OpSpec,
    db: &Database,
    catalog: &Catalog,
    rng: &mut SmallRng,
) -> Result<Outcome, OpError> {
    let notes = db.collection::<Document>(CLINICAL_NOTES);
    match kind {
        OpKind::NoteByEncounter => {
            let (filter, _, _) = find_query(kind, spec, catalog, rng).expect("a keyed find");
            notes
                .find_one(filter)
                .await
                .map(|d| Outcome::rows(d.is_some() as u64))
                .map_err(|e| mongo_error(&e))
        }
        OpKind::PatientNotes | OpKind::DoctorDrafts => {
            let (filter, sort, limit) = find_query(kind, spec, catalog, rng).expect("a keyed find");
            count(
                notes
                    .find(filter)
                    .sort(sort.unwrap_or_default())
                    .limit(limit)
                    .await,
            )
            .await
        }
        OpKind::NotesTextSearch => {
            let terms = TERMS[rng.gen_range(0..TERMS.len())];
            let res = notes
                .find(doc! { "$text": { "$search": terms } })
                .limit(20)
                .await;
            match res {
                Ok(c) => count(Ok(c)).await,
                Err(e) if is_text_search_unsupported(&e) => Err(OpError {
                    kind: "unsupported".into(),
                    message: server_message(&e),
                    unsupported: true,
                }),
                Err(e) => Err(mongo_error(&e)),
            }
        }
        OpKind::VoiceRecording => {
            let i = pick_index(catalog.recordings.len(), spec.dist("recording"), rng);
            let id = catalog.recordings[i].clone();
            let bucket = db.gridfs_bucket(None);
            let mut stream = bucket
                .open_download_stream(id)
                .await
                .map_err(|e| mongo_error(&e))?;
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            loop {
                let n = stream
                    .read(&mut buf)
                    .await
                    .map_err(|e| OpError::new("gridfs", e.to_string()))?;
                if n == 0 {
                    break;
                }
                total += n as u64;
            }
            Ok(Outcome::rows(total))
        }
        OpKind::SignNote => {
            let Some(i) = catalog.next(Entity::DraftNote) else {
                return Ok(Outcome::noop());
            };
            let (id, doctor) = &catalog.draft_notes[i];
            let now = mongodb::bson::DateTime::now();
            notes
                .update_one(
                    doc! { "_id": id.clone(), "status": "draft" },
                    doc! { "$set": { "status": "signed", "signedBy": doctor, "signedAt": now, "updatedAt": now } },
                )
                .await
                .map(|r| Outcome::written(r.modified_count))
                .map_err(|e| mongo_error(&e))
        }
        other => Err(OpError::new(
            "setup",
            format!("{other:?} is not a MongoDB operation"),
        )),
    }
}

async fn count(
    cursor: mongodb::error::Result<mongodb::Cursor<Document>>,
) -> Result<Outcome, OpError> {
    let mut cursor = cursor.map_err(|e| mongo_error(&e))?;
    let mut n = 0u64;
    while cursor
        .try_next()
        .await
        .map_err(|e| mongo_error(&e))?
        .is_some()
    {
        n += 1;
    }
    Ok(Outcome::rows(n))
}
