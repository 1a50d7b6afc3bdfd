//! The clinical note (MongoDB `clinicalNotes`) of each encounter: SOAP content built from the
//! same complaint, diagnoses, prescriptions and orders as the PostgreSQL rows so they agree;
//! a raw transcription whose length follows the visit length and `note_length`; an AI summary
//! and confidence; and a status by age (recent drafts, older signed after the encounter ended,
//! a few amended).

use chrono::{Duration, NaiveDateTime};
use rand::seq::SliceRandom;
use rand::Rng;
use std::borrow::Cow;

use super::clinical::VisitFacts;
use super::people::PatientInfo;
use super::rng::{entity_rng, entity_uuid, EntityRng, Kind};
use super::{vocab, SeedParams};
use crate::model::{ClinicalNote, Encounter, SoapContent};

/// Transcribed words per minute of visit at `note_length` 1.0: conversation with the pauses
/// of history-taking and examination (a 20-minute visit gives ~1,200 words, ~7 kB).
pub const WORDS_PER_MINUTE: f64 = 60.0;

/// Share of signed notes amended later.
pub const AMENDED_SHARE: f64 = 0.04;

fn diagnosis_name(code: &str) -> &'static str {
    vocab::COMPLAINTS
        .iter()
        .find(|c| c.icd10 == code)
        .map(|c| c.diagnosis)
        .or_else(|| {
            vocab::CHRONIC
                .iter()
                .find(|c| c.code == code)
                .map(|c| c.name)
        })
        .unwrap_or("Unspecified condition")
}

fn drug_line(d: &vocab::Drug) -> String {
    match d.days {
        Some(days) => format!(
            "{} {} {} {} for {} days",
            d.name, d.dose, d.route, d.frequency, days
        ),
        None => format!(
            "{} {} {} {}, long-term",
            d.name, d.dose, d.route, d.frequency
        ),
    }
}

const FAMILY: &[&str] = &[
    "Father with hypertension; mother with type 2 diabetes.",
    "Mother with breast cancer at 62; father with coronary artery disease.",
    "Non-contributory.",
    "Sibling with asthma.",
    "Father with colon cancer at 70.",
];

const SOCIAL_ADULT: &[&str] = &[
    "Non-smoker, drinks alcohol socially, works in an office.",
    "Former smoker (10 pack-years), quit 5 years ago; retired teacher.",
    "Current smoker, half a pack a day; construction worker.",
    "Never smoker, no alcohol; exercises three times a week.",
    "Lives with spouse; works night shifts as a nurse.",
];

const SOCIAL_CHILD: &[&str] = &[
    "Lives with parents; attends school; no smoke exposure at home.",
    "Lives with mother and sibling; in daycare.",
];

const SMALL_TALK: &[(&str, &str)] = &[
    (
        "Have you noticed anything that makes it better or worse?",
        "Resting helps a bit, but it comes back.",
    ),
    (
        "Are you taking anything for it at the moment?",
        "Just some over-the-counter stuff, it didn't do much.",
    ),
    (
        "Any fever or chills?",
        "Not that I've noticed, maybe felt a little warm.",
    ),
    (
        "How are you sleeping?",
        "Not great, I wake up a couple of times.",
    ),
    (
        "Any changes in appetite or weight?",
        "No, eating about the same.",
    ),
    (
        "Has anyone at home been sick?",
        "My partner had something similar last week.",
    ),
    (
        "Does it affect your work or daily activities?",
        "Yeah, it's been hard to concentrate.",
    ),
    ("Any new medications or supplements?", "No, nothing new."),
    (
        "Any shortness of breath or chest pain?",
        "No, none of that.",
    ),
    (
        "On a scale of one to ten, how bad is it?",
        "I'd say about a six.",
    ),
    (
        "Let me take a look. Can you take a deep breath for me?",
        "Okay.",
    ),
    (
        "Any allergies to medicines that I should know about?",
        "Not that I know of, it should be in my chart.",
    ),
];

/// The body system of the review of systems that a complaint's tag concerns; any other tag
/// concerns "constitutional".
const ROS_SYSTEM_BY_TAG: &[(&str, &str)] = &[
    ("respiratory", "respiratory"),
    ("ent", "respiratory"),
    ("cardiovascular", "cardiovascular"),
    ("gastrointestinal", "gastrointestinal"),
    ("musculoskeletal", "musculoskeletal"),
    ("dermatology", "skin"),
    ("neurology", "neurological"),
    ("mental_health", "psychiatric"),
    ("genitourinary", "genitourinary"),
];

/// The negative findings every review of systems starts from, in order.
const ROS_NEGATIVES: &[(&str, &str)] = &[
    ("constitutional", "No fever, weight loss or night sweats."),
    ("cardiovascular", "No chest pain or palpitations."),
    ("respiratory", "No cough or shortness of breath."),
];

/// The note of one encounter. Without `with_transcript` its `raw_transcription` is left empty
/// (every other field is the same): the transcript is most of a note's bytes and of its
/// generation time, and a PostgreSQL-only seed needs only the note's status.
pub fn note(
    params: &SeedParams,
    clinic: u32,
    key: u64,
    f: &VisitFacts<'_>,
    now: NaiveDateTime,
    with_transcript: bool,
) -> ClinicalNote {
    let mut rng = entity_rng(params.seed, clinic, Kind::Note, key);
    let enc = f.encounter;
    let days: u32 = rng.gen_range(2..15);
    let content = soap_content(&mut rng, f, days);
    let raw_transcription = if with_transcript {
        let mut rng = entity_rng(params.seed, clinic, Kind::Transcript, key);
        transcription(&mut rng, params.shape.note_length, f, days, &content)
    } else {
        String::new()
    };
    let ai_summary = ai_summary(f);
    let signing = signing(&mut rng, enc, now);
    let note_type = note_type(&mut rng, f);
    ClinicalNote {
        id: entity_uuid(params.seed, clinic, Kind::Note, key),
        encounter_id: enc.id,
        patient_id: enc.patient_id,
        doctor_id: enc.doctor_id,
        status: signing.status,
        note_type,
        content,
        raw_transcription,
        ai_summary,
        ai_confidence_score: (rng.gen_range(0.70..0.995_f64) * 1000.0).round() / 1000.0,
        signed_by: signing.signed_at.map(|_| enc.doctor_id),
        signed_at: signing.signed_at,
        tags: tags(f),
        created_at: signing.created_at,
        updated_at: signing.updated_at.max(signing.created_at),
    }
}

/// The SOAP content, from the visit's facts plus a drawn social and family history.
fn soap_content(rng: &mut EntityRng, f: &VisitFacts<'_>, days: u32) -> SoapContent {
    let (p, c) = (f.patient, f.complaint);
    let social = if p.age < 18 {
        SOCIAL_CHILD[rng.gen_range(0..SOCIAL_CHILD.len())]
    } else {
        SOCIAL_ADULT[rng.gen_range(0..SOCIAL_ADULT.len())]
    };
    SoapContent {
        chief_complaint: c.chief.to_string(),
        history_of_present_illness: format!(
            "{}-year-old {} patient. {}",
            p.age,
            p.sex,
            c.hpi.replace("{days}", &days.to_string())
        ),
        review_of_systems: review_of_systems(c),
        past_medical_history: past_medical_history(p),
        medications: current_medications(p),
        allergies: allergy_list(p),
        family_history: FAMILY[rng.gen_range(0..FAMILY.len())].to_string(),
        social_history: social.to_string(),
        vital_signs: vital_signs(f.encounter.vitals.as_ref()),
        physical_exam: format!("General: alert, in no acute distress. {}", c.exam),
        clinical_impression: c.impression.to_string(),
        diagnoses: f
            .encounter
            .diagnosis_codes
            .iter()
            .map(|code| (code.clone(), diagnosis_name(code).to_string()))
            .collect(),
        plan_medications: f.drugs.iter().map(|d| drug_line(d)).collect(),
        plan_orders: f.orders.clone(),
        patient_education: c.education.to_string(),
        follow_up: c.follow_up.to_string(),
    }
}

/// The patient's chronic conditions, or a line saying there are none.
fn past_medical_history(p: &PatientInfo) -> String {
    if p.chronic.is_empty() {
        return "No significant past medical history.".to_string();
    }
    p.chronic
        .iter()
        .map(|&k| vocab::CHRONIC[k].name)
        .collect::<Vec<_>>()
        .join("; ")
}

/// The long-term medicines of the patient's chronic conditions, or "None".
fn current_medications(p: &PatientInfo) -> String {
    if p.chronic.is_empty() {
        return "None".to_string();
    }
    p.chronic
        .iter()
        .filter_map(|&k| vocab::drug(vocab::CHRONIC[k].drug))
        .map(|d| format!("{} {} {}", d.name, d.dose, d.frequency))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The patient's allergies with their reactions, or "No known drug allergies".
fn allergy_list(p: &PatientInfo) -> String {
    if p.allergies.is_empty() {
        return "No known drug allergies".to_string();
    }
    p.allergies
        .iter()
        .map(|&k| {
            format!(
                "{} ({})",
                vocab::ALLERGIES[k].0,
                vocab::ALLERGIES[k].1.to_lowercase()
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// The encounter's vitals on one line, or a note that a telehealth visit measured none.
fn vital_signs(vitals: Option<&serde_json::Value>) -> String {
    match vitals {
        Some(v) => format!(
            "BP {}/{}, HR {}, Temp {} C, RR {}, SpO2 {}%, Wt {} kg, Ht {} cm",
            v["systolic"],
            v["diastolic"],
            v["heartRate"],
            v["temperatureC"],
            v["respiratoryRate"],
            v["spo2"],
            v["weightKg"],
            v["heightCm"]
        ),
        None => "Telehealth visit; vitals not measured.".to_string(),
    }
}

/// The usual negatives, with the complaint's body system marked positive (added if missing).
fn review_of_systems(c: &vocab::Complaint) -> Vec<(&'static str, String)> {
    let system = ROS_SYSTEM_BY_TAG
        .iter()
        .find(|(tag, _)| *tag == c.tag)
        .map_or("constitutional", |(_, system)| *system);
    let mut ros: Vec<(&'static str, String)> = ROS_NEGATIVES
        .iter()
        .map(|(system, finding)| (*system, finding.to_string()))
        .collect();
    let positive = format!("Positive as per HPI: {}.", c.chief.to_lowercase());
    match ros.iter_mut().find(|e| e.0 == system) {
        Some(e) => e.1 = positive,
        None => ros.push((system, positive)),
    }
    ros
}

/// One paragraph: who was seen for what, the assessment, medicines, orders and follow-up.
fn ai_summary(f: &VisitFacts<'_>) -> String {
    let (p, c) = (f.patient, f.complaint);
    format!(
        "{}-year-old {} seen for {}. Assessment: {} ({}). Plan: {}{}{} {}",
        p.age,
        p.sex,
        c.reason.to_lowercase(),
        c.impression.trim_end_matches('.'),
        f.encounter.diagnosis_codes.join(", "),
        if f.drugs.is_empty() {
            "no new medications".to_string()
        } else {
            f.drugs
                .iter()
                .map(|d| d.name)
                .collect::<Vec<_>>()
                .join(", ")
        },
        if f.orders.is_empty() {
            ""
        } else {
            "; orders: "
        },
        f.orders
            .iter()
            .map(|o| o.split(" (").next().unwrap_or(o))
            .collect::<Vec<_>>()
            .join(", "),
        c.follow_up
    )
}

/// When a note was created and how far it got by now.
struct Signing {
    created_at: NaiveDateTime,
    status: &'static str,
    signed_at: Option<NaiveDateTime>,
    updated_at: NaiveDateTime,
}

/// Status by age: drafts for encounters still open or ended in the last two days (most of
/// them), signed after the encounter ended for older ones, a few amended later.
fn signing(rng: &mut EntityRng, enc: &Encounter, now: NaiveDateTime) -> Signing {
    let created_at =
        (enc.start_time + Duration::minutes(rng.gen_range(1..5))).min(now.max(enc.start_time));
    let (status, signed_at, updated_at) = match enc.end_time {
        None => ("draft", None, created_at),
        Some(end) => {
            let age_h = (now - end).num_hours();
            let sign_delay = Duration::minutes(if rng.gen_bool(0.7) {
                rng.gen_range(5..240)
            } else {
                rng.gen_range(240..48 * 60)
            });
            let signed = end + sign_delay;
            let stays_draft = (age_h < 48 && rng.gen_bool(0.6)) || rng.gen_bool(0.01);
            if stays_draft || signed > now {
                ("draft", None, end.max(created_at))
            } else if rng.gen_bool(AMENDED_SHARE) {
                let amended = signed + Duration::days(rng.gen_range(1..20));
                let amended = amended.min(now);
                ("amended", Some(signed), amended)
            } else {
                ("signed", Some(signed), signed)
            }
        }
    };
    Signing {
        created_at,
        status,
        signed_at,
        updated_at,
    }
}

/// Procedure and progress notes where the visit calls for them, a few consultations, else SOAP.
fn note_type(rng: &mut EntityRng, f: &VisitFacts<'_>) -> &'static str {
    match f.encounter.encounter_type {
        "procedure" => "procedure",
        "follow_up" => "progress",
        _ if f.complaint.tag == "chronic_care" => "progress",
        _ if rng.gen_bool(0.03) => "consultation",
        _ => "soap",
    }
}

/// Search tags: complaint tag, specialty, encounter type, ICD-10 code, and whether the visit
/// had a prescription or orders.
fn tags(f: &VisitFacts<'_>) -> Vec<String> {
    let c = f.complaint;
    let mut tags = vec![
        c.tag.to_string(),
        f.specialty.to_lowercase().replace(' ', "-"),
        f.encounter.encounter_type.to_string(),
        format!("icd10:{}", c.icd10),
    ];
    if !f.drugs.is_empty() {
        tags.push("prescription".to_string());
    }
    if !f.orders.is_empty() {
        tags.push("orders".to_string());
    }
    tags
}

/// The general exchanges of [`SMALL_TALK`] as transcript lines, formatted once per process
/// rather than once per note (they were a visible share of the generator's profile).
fn small_talk_lines() -> &'static [String] {
    static LINES: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    LINES.get_or_init(|| {
        SMALL_TALK
            .iter()
            .map(|(q, a)| format!("Doctor: {q}\nPatient: {a}\n"))
            .collect()
    })
}

/// A doctor-patient dialogue: the specific exchange about the complaint, generic history
/// questions to fill the visit's length, then the assessment and plan read back.
fn transcription(
    rng: &mut EntityRng,
    note_length: f64,
    f: &VisitFacts<'_>,
    days: u32,
    content: &SoapContent,
) -> String {
    let minutes = match f.encounter.end_time {
        Some(e) => ((e - f.encounter.start_time).num_minutes() as f64).max(5.0),
        None => f64::from(f.minutes),
    };
    let target_bytes = (minutes * WORDS_PER_MINUTE * note_length.max(0.0) * 6.0) as usize;
    let mut s = String::with_capacity(target_bytes + 512);
    let first = f.patient.name.split(' ').next().unwrap_or("there");
    s.push_str(&format!(
        "Doctor: Hi {first}, good to see you. What brings you in today?\nPatient: {}.\nDoctor: How long has this been going on?\nPatient: About {days} days now.\n",
        f.complaint.chief
    ));
    let closing = closing_exchange(content);
    // Visit-specific exchanges first (history, medicines, examination, orders), then general
    // questions; each pass shuffles the pool so long transcripts do not simply repeat.
    let mut pool = visit_exchanges(f, days, content);
    pool.extend(small_talk_lines().iter().map(|l| Cow::Borrowed(l.as_str())));
    'fill: while s.len() + closing.len() < target_bytes {
        pool.shuffle(rng);
        for line in &pool {
            if s.len() + closing.len() >= target_bytes {
                break 'fill;
            }
            s.push_str(line);
        }
    }
    s.push_str(&closing);
    s
}

/// The doctor reads back the impression, the prescriptions, the advice and the follow-up.
fn closing_exchange(content: &SoapContent) -> String {
    format!(
        "Doctor: So, my impression is {}. {}\nDoctor: {} {}\nPatient: Okay, thank you.\n",
        content
            .clinical_impression
            .trim_end_matches('.')
            .to_lowercase(),
        if content.plan_medications.is_empty() {
            "We won't start any new medication today.".to_string()
        } else {
            format!("I'm prescribing {}.", content.plan_medications.join("; "))
        },
        content.patient_education,
        content.follow_up
    )
}

/// The exchanges specific to this visit: history, medicines, allergies, family and social
/// history, vitals, examination, the complaint's story, and one per ordered test.
fn visit_exchanges(f: &VisitFacts<'_>, days: u32, content: &SoapContent) -> Vec<Cow<'static, str>> {
    let mut pool: Vec<Cow<'static, str>> = vec![
        format!(
            "Doctor: Let me go over your history. I have {}.\nPatient: Yes, that's right.\n",
            content
                .past_medical_history
                .trim_end_matches('.')
                .to_lowercase()
        )
        .into(),
        format!(
            "Doctor: And you're taking {}?\nPatient: Yes, every day.\n",
            content.medications
        )
        .into(),
        format!(
            "Doctor: Allergies: {}.\nPatient: Correct.\n",
            content.allergies.to_lowercase()
        )
        .into(),
        format!(
            "Doctor: Anything in the family I should know about?\nPatient: {}\n",
            content.family_history
        )
        .into(),
        format!(
            "Doctor: Tell me a bit about your routine.\nPatient: {}\n",
            content.social_history
        )
        .into(),
        format!(
            "Doctor: Your vitals today: {}.\nPatient: Is that okay?\nDoctor: Mostly fine.\n",
            content.vital_signs.trim_end_matches('.')
        )
        .into(),
        format!(
            "Doctor: I'm going to examine you now. {}\nPatient: Alright.\n",
            content.physical_exam
        )
        .into(),
        format!(
            "Doctor: {}\nPatient: I see.\n",
            f.complaint.hpi.replace("{days}", &days.to_string())
        )
        .into(),
    ];
    for o in &content.plan_orders {
        pool.push(format!("Doctor: I'd like to order a {}.\nPatient: When will I get the results?\nDoctor: Usually within a few days; we'll call you.\n", o.split(" (").next().unwrap_or(o).to_lowercase()).into());
    }
    pool
}
