//! MongoDB side of the schema, declared as data: the collections (clinicalNotes with its
//! `$jsonSchema` validator mirroring the Mongoose schema of MVP-004, voiceRecordings, the
//! GridFS bucket `fs`) and every index the document lists.
//!
//! Everything is written for a real MongoDB. A MongoDB-compatible server that rejects a
//! feature (FerretDB has no text indexes and no validators) is detected from its answer, and
//! the feature is reported as unsupported by that server; nothing is weakened for MongoDB.

use anyhow::{Context, Result};
use mongodb::bson::{doc, Document};
use mongodb::error::{ErrorKind, Result as MongoResult};
use mongodb::{Database, IndexModel};
use serde::Serialize;

pub const CLINICAL_NOTES: &str = "clinicalNotes";
pub const VOICE_RECORDINGS: &str = "voiceRecordings";
pub const GRIDFS_BUCKET: &str = "fs";
pub const GRIDFS_FILES: &str = "fs.files";
pub const GRIDFS_CHUNKS: &str = "fs.chunks";
pub const COLLECTIONS: [&str; 4] = [
    CLINICAL_NOTES,
    VOICE_RECORDINGS,
    GRIDFS_FILES,
    GRIDFS_CHUNKS,
];

/// A feature of the schema that a server may not implement.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    TextIndex,
    DocumentValidation,
}

impl Feature {
    pub fn describe(self) -> &'static str {
        match self {
            Feature::TextIndex => "text indexes (full-text search over clinical notes)",
            Feature::DocumentValidation => "$jsonSchema document validation",
        }
    }
}

/// One index of the MongoDB schema.
#[derive(Debug, Clone)]
pub struct IndexSpec {
    pub collection: &'static str,
    pub name: &'static str,
    pub keys: Document,
    pub unique: bool,
    /// Set for indexes that need a feature some compatible servers lack.
    pub feature: Option<Feature>,
}

fn index(collection: &'static str, name: &'static str, keys: Document) -> IndexSpec {
    IndexSpec {
        collection,
        name,
        keys,
        unique: false,
        feature: None,
    }
}

/// Every index of the MongoDB schema (MVP-004's Mongoose schema and init script, plus the
/// compound indexes the documented note queries need).
pub fn indexes() -> Vec<IndexSpec> {
    vec![
        index(CLINICAL_NOTES, "encounterId_1", doc! { "encounterId": 1 }),
        index(CLINICAL_NOTES, "patientId_1", doc! { "patientId": 1 }),
        index(CLINICAL_NOTES, "doctorId_1", doc! { "doctorId": 1 }),
        index(CLINICAL_NOTES, "status_1", doc! { "status": 1 }),
        index(CLINICAL_NOTES, "noteType_1", doc! { "noteType": 1 }),
        index(CLINICAL_NOTES, "createdAt_1", doc! { "createdAt": 1 }),
        index(CLINICAL_NOTES, "updatedAt_1", doc! { "updatedAt": 1 }),
        // A patient's notes newest first; a doctor's drafts.
        index(
            CLINICAL_NOTES,
            "patientId_1_createdAt_-1",
            doc! { "patientId": 1, "createdAt": -1 },
        ),
        index(
            CLINICAL_NOTES,
            "doctorId_1_status_1_updatedAt_-1",
            doc! { "doctorId": 1, "status": 1, "updatedAt": -1 },
        ),
        IndexSpec {
            collection: CLINICAL_NOTES,
            name: "clinicalNotes_text",
            keys: doc! {
                "content.subjective.chiefComplaint": "text",
                "content.subjective.historyOfPresentIllness": "text",
                "content.assessment.clinicalImpression": "text",
                "content.plan.followUp": "text",
                "rawTranscription": "text",
            },
            unique: false,
            feature: Some(Feature::TextIndex),
        },
        index(VOICE_RECORDINGS, "encounterId_1", doc! { "encounterId": 1 }),
        index(VOICE_RECORDINGS, "patientId_1", doc! { "patientId": 1 }),
        index(VOICE_RECORDINGS, "doctorId_1", doc! { "doctorId": 1 }),
        index(VOICE_RECORDINGS, "createdAt_1", doc! { "createdAt": 1 }),
        index(GRIDFS_FILES, "filename_1", doc! { "filename": 1 }),
        index(GRIDFS_FILES, "uploadDate_1", doc! { "uploadDate": 1 }),
        IndexSpec {
            unique: true,
            ..index(
                GRIDFS_CHUNKS,
                "files_id_1_n_1",
                doc! { "files_id": 1, "n": 1 },
            )
        },
    ]
}

/// The `$jsonSchema` validator of clinicalNotes, mirroring the Mongoose ClinicalNoteSchema.
pub fn clinical_notes_validator() -> Document {
    let string = doc! { "bsonType": "string" };
    let section = |props: Document| doc! { "bsonType": "object", "properties": props };
    doc! {
        "$jsonSchema": {
            "bsonType": "object",
            "required": ["encounterId", "patientId", "doctorId", "status", "noteType"],
            "properties": {
                "encounterId": { "bsonType": "string", "description": "UUID of the PostgreSQL encounter" },
                "patientId": { "bsonType": "string", "description": "UUID of the PostgreSQL patient" },
                "doctorId": { "bsonType": "string", "description": "UUID of the PostgreSQL user (doctor)" },
                "status": { "enum": ["draft", "signed", "amended"] },
                "noteType": { "enum": ["soap", "progress", "procedure", "discharge", "referral", "consultation"] },
                "content": {
                    "bsonType": "object",
                    "properties": {
                        "subjective": section(doc! {
                            "chiefComplaint": string.clone(),
                            "historyOfPresentIllness": string.clone(),
                            "reviewOfSystems": { "bsonType": "object" },
                            "pastMedicalHistory": string.clone(),
                            "medications": string.clone(),
                            "allergies": string.clone(),
                            "familyHistory": string.clone(),
                            "socialHistory": string.clone(),
                        }),
                        "objective": { "bsonType": "object" },
                        "assessment": { "bsonType": "object" },
                        "plan": { "bsonType": "object" },
                    }
                },
                "rawTranscription": string.clone(),
                "aiSummary": string.clone(),
                "aiConfidenceScore": { "bsonType": ["double", "int", "long", "decimal"], "minimum": 0, "maximum": 1 },
                "signedBy": string.clone(),
                "signedAt": { "bsonType": "date" },
                "metadata": { "bsonType": "object" },
                "tags": { "bsonType": "array", "items": { "bsonType": "string" } },
                "attachments": { "bsonType": "array", "items": { "bsonType": "objectId" } },
                "createdAt": { "bsonType": "date" },
                "updatedAt": { "bsonType": "date" },
            }
        }
    }
}

/// A feature the server refused, with its own words.
#[derive(Debug, Clone, Serialize)]
pub struct Unsupported {
    pub feature: Feature,
    pub server_said: String,
}

/// What `apply` did.
#[derive(Debug, Default, Serialize)]
pub struct MongoReport {
    pub collections_created: Vec<String>,
    pub indexes: Vec<String>,
    pub unsupported: Vec<Unsupported>,
}

/// Error codes and messages by which servers say "this feature is not implemented".
/// 115 CommandNotSupported and 238 NotImplemented are MongoDB's own; FerretDB v1 answers a
/// text index with 27 IndexNotFound ("can't find index with key"), so for an index that
/// needs an optional feature, `is_unsupported_index_error` also accepts that answer.
pub fn is_unsupported_error(err: &mongodb::error::Error) -> bool {
    if let ErrorKind::Command(c) = err.kind.as_ref() {
        if matches!(c.code, 115 | 238) {
            return true;
        }
    }
    let msg = err.to_string().to_lowercase();
    msg.contains("not implemented") || msg.contains("not supported") || msg.contains("unsupported")
}

fn is_unsupported_index_error(err: &mongodb::error::Error) -> bool {
    is_unsupported_error(err)
        || matches!(err.kind.as_ref(), ErrorKind::Command(c) if matches!(c.code, 2 | 27 | 67))
}

fn is_namespace_exists(err: &mongodb::error::Error) -> bool {
    matches!(err.kind.as_ref(), ErrorKind::Command(c) if c.code == 48)
}

/// Creates the collections, the validator and the indexes. Idempotent.
pub async fn apply(db: &Database) -> Result<MongoReport> {
    let mut report = MongoReport::default();
    let existing = db
        .list_collection_names()
        .await
        .context("listing MongoDB collections")?;

    for name in COLLECTIONS {
        if existing.iter().any(|c| c == name) {
            continue;
        }
        let created = if name == CLINICAL_NOTES {
            create_with_validator(db, &mut report).await
        } else {
            db.create_collection(name).await
        };
        match created {
            Ok(()) => report.collections_created.push(name.to_string()),
            Err(e) if is_namespace_exists(&e) => {}
            Err(e) => return Err(e).with_context(|| format!("creating MongoDB collection {name}")),
        }
    }
    if existing.iter().any(|c| c == CLINICAL_NOTES) {
        // Bring an existing collection's validator up to date.
        let res: MongoResult<Document> = db
            .run_command(doc! { "collMod": CLINICAL_NOTES, "validator": clinical_notes_validator(), "validationLevel": "strict" })
            .await;
        if let Err(e) = res {
            if is_unsupported_error(&e) {
                push_unsupported(
                    &mut report,
                    Feature::DocumentValidation,
                    &server_message(&e),
                );
            } else {
                return Err(e).context("updating the clinicalNotes validator (collMod)");
            }
        }
    }
    if !report
        .unsupported
        .iter()
        .any(|u| u.feature == Feature::DocumentValidation)
        && !has_validator(db).await?
    {
        // Accepted but silently ignored by the server.
        push_unsupported(
            &mut report,
            Feature::DocumentValidation,
            "the server accepted the validator but listCollections shows none on clinicalNotes",
        );
    }

    for spec in indexes() {
        let model = IndexModel::builder()
            .keys(spec.keys.clone())
            .options(
                mongodb::options::IndexOptions::builder()
                    .name(spec.name.to_string())
                    .unique(spec.unique.then_some(true))
                    .build(),
            )
            .build();
        match db
            .collection::<Document>(spec.collection)
            .create_index(model)
            .await
        {
            Ok(_) => report
                .indexes
                .push(format!("{}.{}", spec.collection, spec.name)),
            Err(e) => match spec.feature {
                Some(feature) if is_unsupported_index_error(&e) => {
                    push_unsupported(&mut report, feature, &server_message(&e))
                }
                _ => {
                    return Err(e).with_context(|| {
                        format!(
                            "creating MongoDB index {} on {}",
                            spec.name, spec.collection
                        )
                    })
                }
            },
        }
    }
    Ok(report)
}

async fn create_with_validator(db: &Database, report: &mut MongoReport) -> MongoResult<()> {
    let with_validator = db
        .create_collection(CLINICAL_NOTES)
        .validator(clinical_notes_validator())
        .validation_level(mongodb::options::ValidationLevel::Strict)
        .validation_action(mongodb::options::ValidationAction::Error)
        .await;
    match with_validator {
        Err(e) if is_unsupported_error(&e) => {
            push_unsupported(report, Feature::DocumentValidation, &server_message(&e));
            db.create_collection(CLINICAL_NOTES).await
        }
        other => other,
    }
}

/// The server's own words for a command error ("IndexNotFound (27): ..."), else the error.
pub fn server_message(err: &mongodb::error::Error) -> String {
    match err.kind.as_ref() {
        ErrorKind::Command(c) => format!("{} ({}): {}", c.code_name, c.code, c.message),
        _ => err.to_string(),
    }
}

fn push_unsupported(report: &mut MongoReport, feature: Feature, said: &str) {
    let server_said = said
        .lines()
        .next()
        .unwrap_or(said)
        .chars()
        .take(300)
        .collect();
    report.unsupported.push(Unsupported {
        feature,
        server_said,
    });
}

/// Whether clinicalNotes carries a validator, as listCollections reports it.
pub async fn has_validator(db: &Database) -> Result<bool> {
    let mut cursor = db
        .list_collections()
        .filter(doc! { "name": CLINICAL_NOTES })
        .await
        .context("listing MongoDB collections")?;
    use futures::TryStreamExt;
    Ok(cursor
        .try_next()
        .await?
        .is_some_and(|spec| spec.options.validator.is_some()))
}

/// Names of the indexes present on each collection.
pub async fn existing_indexes(db: &Database) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for coll in COLLECTIONS {
        let names = db
            .collection::<Document>(coll)
            .list_index_names()
            .await
            .unwrap_or_default();
        out.extend(names.into_iter().map(|n| (coll.to_string(), n)));
    }
    Ok(out)
}

/// `buildInfo.version` of the server, and whether it calls itself FerretDB.
pub async fn server_version(db: &Database) -> Result<String> {
    let info = db
        .run_command(doc! { "buildInfo": 1 })
        .await
        .context("buildInfo")?;
    let version = info.get_str("version").unwrap_or("unknown").to_string();
    // FerretDB adds its own version under a key of its name (ferretdbVersion in v1).
    let ferret = info.iter().find_map(|(k, v)| {
        if !k.to_lowercase().starts_with("ferretdb") {
            return None;
        }
        match v {
            mongodb::bson::Bson::String(s) => Some(s.clone()),
            mongodb::bson::Bson::Document(d) => d.get_str("version").ok().map(str::to_string),
            _ => Some(String::from("unknown version")),
        }
    });
    Ok(match ferret {
        Some(fv) => format!("FerretDB {fv} (MongoDB {version} compatible)"),
        None => format!("MongoDB {version}"),
    })
}
