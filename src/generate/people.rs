//! Staff and patients: names, contact details and addresses from `fake` driven by the entity's
//! own RNG, plus the demographics that shape everything downstream (age and sex mix, primary
//! doctor, chronic conditions, visit propensity). Usernames, emails and MRNs embed the clinic
//! index so they stay unique across clinics, as the schema's UNIQUE constraints require.

use chrono::{Datelike, Duration, NaiveDate, NaiveDateTime};
use fake::faker::address::en::{BuildingNumber, CityName, PostCode, StateAbbr, StreetName};
use fake::faker::name::en::{FirstName, LastName};
use fake::faker::phone_number::en::CellNumber;
use fake::Fake;
use rand::Rng;
use serde_json::{json, Value as Json};
use uuid::Uuid;

use super::rng::{entity_rng, entity_uuid, pick_weighted, EntityRng, Kind};
use super::schedule::Calendar;
use super::vocab;
use super::{as_of_noon, SeedParams};
use crate::model::{Patient, User};

/// A staff member's role, by position in the clinic's user list: doctors first, then nurses,
/// receptionists and admins.
pub fn role_of(shape: &super::ClinicShape, user_index: u32) -> &'static str {
    let d = shape.doctors;
    let n = d + shape.nurses;
    let r = n + shape.receptionists;
    if user_index < d {
        "doctor"
    } else if user_index < n {
        "nurse"
    } else if user_index < r {
        "receptionist"
    } else {
        "admin"
    }
}

pub fn staff_count(shape: &super::ClinicShape) -> u32 {
    shape.doctors + shape.nurses + shape.receptionists + shape.admins
}

pub fn user_id(params: &SeedParams, clinic: u32, user_index: u32) -> Uuid {
    entity_uuid(params.seed, clinic, Kind::User, u64::from(user_index))
}

pub fn patient_id(params: &SeedParams, clinic: u32, patient_index: u32) -> Uuid {
    entity_uuid(params.seed, clinic, Kind::Patient, u64::from(patient_index))
}

/// The specialty of doctor `i`: the first three are primary care (family, internal,
/// pediatrics) so every clinic has them; the rest are drawn from the weighted list.
pub fn doctor_specialty(params: &SeedParams, clinic: u32, i: u32) -> &'static str {
    match i {
        0 => "Family Medicine",
        1 => "Internal Medicine",
        2 => "Pediatrics",
        _ => {
            let mut rng = entity_rng(params.seed, clinic, Kind::Clinic, u64::from(i));
            let w: Vec<u32> = vocab::DOCTOR_SPECIALTIES.iter().map(|s| s.1).collect();
            vocab::DOCTOR_SPECIALTIES[pick_weighted(&mut rng, &w)].0
        }
    }
}

fn ascii_slug(s: &str, max: usize) -> String {
    s.chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .take(max)
        .collect::<String>()
        .to_lowercase()
}

fn bcrypt_like(rng: &mut EntityRng) -> String {
    const ALPHABET: &[u8] = b"./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut s = String::with_capacity(60);
    s.push_str("$2b$12$");
    for _ in 0..53 {
        s.push(ALPHABET[rng.gen_range(0..ALPHABET.len())] as char);
    }
    s
}

fn datetime(d: NaiveDate, minutes: u32) -> NaiveDateTime {
    d.and_hms_opt(0, 0, 0).expect("midnight") + Duration::minutes(i64::from(minutes))
}

/// One staff member. Doctors carry their weekly calendar in `preferences.workingHours`, so a
/// test against the database can check appointments against it.
pub fn user(params: &SeedParams, clinic: u32, i: u32, calendar: Option<&Calendar>) -> User {
    let shape = &params.shape;
    let mut rng = entity_rng(params.seed, clinic, Kind::User, u64::from(i));
    let role = role_of(shape, i);
    let first: &str = FirstName().fake_with_rng(&mut rng);
    let last: &str = LastName().fake_with_rng(&mut rng);
    let username = format!(
        "{}.{}.c{}u{}",
        ascii_slug(first, 12),
        ascii_slug(last, 12),
        clinic,
        i
    );
    let email = format!("{username}@clinic{clinic}.example.org");
    let full_name = if role == "doctor" {
        format!("Dr. {first} {last}")
    } else {
        format!("{first} {last}")
    };
    let specialty = match role {
        "doctor" => Some(doctor_specialty(params, clinic, i)),
        "nurse" => {
            let w: Vec<u32> = vocab::NURSE_SPECIALTIES.iter().map(|s| s.1).collect();
            Some(vocab::NURSE_SPECIALTIES[pick_weighted(&mut rng, &w)].0)
        }
        _ => None,
    };
    let phone: String = CellNumber().fake_with_rng(&mut rng);
    let tenure_days = params.shape.history_days + rng.gen_range(30..2500);
    let created_at = datetime(
        params.as_of - Duration::days(i64::from(tenure_days)),
        rng.gen_range(8 * 60..17 * 60),
    );
    // Staff log in on working days; the last login is within the last few days.
    let now = as_of_noon(params);
    let last_login_at = Some(now - Duration::minutes(rng.gen_range(5..4 * 24 * 60)));
    let updated_at = created_at + Duration::days(rng.gen_range(0..i64::from(tenure_days)));
    let mut prefs = json!({
        "theme": if rng.gen_bool(0.3) { "dark" } else { "light" },
        "language": "en",
        "notifications": { "email": rng.gen_bool(0.7), "push": rng.gen_bool(0.8) },
        "dashboardView": if rng.gen_bool(0.5) { "day" } else { "week" },
    });
    if let Some(cal) = calendar {
        prefs["workingHours"] = cal.to_json();
    }
    let status = if rng.gen_bool(0.02) && role != "doctor" {
        "inactive"
    } else {
        "active"
    };
    User {
        id: user_id(params, clinic, i),
        username,
        email,
        full_name,
        role,
        specialty,
        phone: Some(phone),
        profile_image_url: rng.gen_bool(0.6).then(|| {
            format!(
                "https://cdn.example.org/avatars/{}.jpg",
                user_id(params, clinic, i)
            )
        }),
        password_hash: bcrypt_like(&mut rng),
        created_at,
        updated_at,
        last_login_at,
        status,
        preferences: Some(prefs),
    }
}

/// What the scheduler and the clinical generators need to know about a patient beyond its row.
#[derive(Debug, Clone)]
pub struct PatientInfo {
    pub index: u32,
    pub id: Uuid,
    pub name: String,
    pub age: u32,
    pub sex: &'static str,
    /// First day the patient can have appointments (registration day).
    pub registered: NaiveDate,
    /// When the patient row was created (registration); nothing of theirs happens before it.
    pub created_at: NaiveDateTime,
    /// Index of the primary doctor among the clinic's users.
    pub primary_doctor: u32,
    /// Indexes into `vocab::CHRONIC`.
    pub chronic: Vec<usize>,
    /// Indexes into `vocab::ALLERGIES`.
    pub allergies: Vec<usize>,
    /// Expected attended visits per year.
    pub visits_per_year: f64,
}

/// Age bands of a primary-care list (share in per mille): 0-17, 18-44, 45-64, 65-74, 75-95.
const AGE_BANDS: &[(u32, u32, u32)] = &[
    (0, 17, 200),
    (18, 44, 350),
    (45, 64, 270),
    (65, 74, 100),
    (75, 95, 80),
];

fn age_band(age: u32) -> usize {
    match age {
        0..=17 => 0,
        18..=44 => 1,
        45..=64 => 2,
        _ => 3,
    }
}

/// Relative visit rate by age: about 3 visits per person-year on average and about 6.5 at 75+
/// (NAMCS 1997, clinic-realism.md); the factors keep the population mean near 1.
fn age_visit_factor(age: u32) -> f64 {
    match age {
        0..=4 => 1.3,
        5..=17 => 0.6,
        18..=44 => 0.7,
        45..=64 => 1.0,
        65..=74 => 1.6,
        _ => 2.1,
    }
}

/// Index in 0..n with weights 1/(k+1)^0.7: some doctors carry bigger panels than others,
/// which gives load tests busy doctors as well as hot patients.
fn skewed(rng: &mut EntityRng, n: usize) -> usize {
    let weights: Vec<u32> = (0..n.max(1))
        .map(|k| (1000.0 / ((k + 1) as f64).powf(0.7)) as u32)
        .collect();
    pick_weighted(rng, &weights)
}

/// Mean attended visits per person-year (NAMCS 1997 via clinic-realism.md).
pub const MEAN_VISITS_PER_YEAR: f64 = 3.0;

/// Sex mix of a primary-care list, per mille, as (upper bound of the draw 0..1000, sex).
const SEX_MIX: &[(i32, &str)] = &[
    (509, "female"),
    (989, "male"),
    (994, "other"),
    (999, "unknown"),
];

/// One patient and its scheduling facts.
pub fn patient(
    params: &SeedParams,
    clinic: u32,
    i: u32,
    doctor_specialties: &[&'static str],
) -> (Patient, PatientInfo) {
    let mut rng = entity_rng(params.seed, clinic, Kind::Patient, u64::from(i));
    let age = draw_age(&mut rng);
    let dob =
        params.as_of - Duration::days(i64::from(age) * 365 + i64::from(rng.gen_range(0..365u32)));
    let sex = draw_sex(&mut rng);
    let contact = draw_contact(&mut rng, age);
    let (insurance_provider, insurance_policy_number) = draw_insurance(&mut rng, age);
    let blood_type = rng.gen_bool(0.7).then(|| {
        let w: Vec<u32> = vocab::BLOOD_TYPES.iter().map(|s| s.1).collect();
        vocab::BLOOD_TYPES[pick_weighted(&mut rng, &w)].0
    });
    let allergies: Vec<usize> = (0..vocab::ALLERGIES.len())
        .filter(|&k| rng.gen_range(0..1000) < vocab::ALLERGIES[k].3)
        .collect();
    let chronic: Vec<usize> = (0..vocab::CHRONIC.len())
        .filter(|&k| rng.gen_range(0..1000) < vocab::CHRONIC[k].prevalence[age_band(age)])
        .collect();
    let allergies_json = allergies_json(&allergies);
    let chronic_json = chronic_json(&mut rng, &chronic, age, params.as_of);
    let primary_doctor = draw_primary_doctor(&mut rng, age, doctor_specialties);
    let registered = draw_registration(&mut rng, params).max(dob);
    let visits_per_year = draw_visit_propensity(&mut rng, age, chronic.len());
    let now = as_of_noon(params);
    let created_at = datetime(registered, rng.gen_range(8 * 60..17 * 60)).min(now);
    let updated_at = created_at.max(now - Duration::days(rng.gen_range(1..400)));
    let status = if rng.gen_bool(0.01) {
        "inactive"
    } else {
        "active"
    };
    let id = patient_id(params, clinic, i);
    let row = Patient {
        id,
        mrn: format!("M{clinic}-{i:07}"),
        first_name: contact.first.to_string(),
        last_name: contact.last.to_string(),
        date_of_birth: dob,
        sex,
        phone: Some(contact.phone),
        email: contact.email,
        address: Some(contact.address),
        emergency_contact: Some(contact.emergency_contact),
        insurance_provider,
        insurance_policy_number,
        blood_type,
        allergies: allergies_json,
        chronic_conditions: chronic_json,
        primary_doctor_id: Some(user_id(params, clinic, primary_doctor)),
        status,
        created_at,
        updated_at,
    };
    let info = PatientInfo {
        index: i,
        id,
        name: format!("{} {}", contact.first, contact.last),
        age,
        sex,
        registered,
        created_at,
        primary_doctor,
        chronic,
        allergies,
        visits_per_year,
    };
    (row, info)
}

/// An age from the weighted [`AGE_BANDS`], uniform within its band.
fn draw_age(rng: &mut EntityRng) -> u32 {
    let band = AGE_BANDS[pick_weighted(rng, &AGE_BANDS.iter().map(|b| b.2).collect::<Vec<_>>())];
    rng.gen_range(band.0..=band.1)
}

/// A sex from [`SEX_MIX`].
fn draw_sex(rng: &mut EntityRng) -> &'static str {
    let draw: i32 = rng.gen_range(0..1000);
    SEX_MIX
        .iter()
        .find(|(upper, _)| draw <= *upper)
        .map_or("unknown", |(_, sex)| *sex)
}

/// A patient's name and how to reach them.
struct Contact {
    first: &'static str,
    last: &'static str,
    phone: String,
    /// Only for some patients aged 16 or more.
    email: Option<String>,
    address: Json,
    emergency_contact: Json,
}

/// Name, phone, email (most adults), a US address and an emergency contact of the family.
fn draw_contact(rng: &mut EntityRng, age: u32) -> Contact {
    let first: &'static str = FirstName().fake_with_rng(rng);
    let last: &'static str = LastName().fake_with_rng(rng);
    let phone: String = CellNumber().fake_with_rng(rng);
    let email = (age >= 16 && rng.gen_bool(0.8)).then(|| {
        format!(
            "{}.{}{}@example.{}",
            ascii_slug(first, 20),
            ascii_slug(last, 20),
            rng.gen_range(1..100),
            ["com", "net", "org"][rng.gen_range(0..3)]
        )
    });
    let address = draw_address(rng);
    let ec_first: &str = FirstName().fake_with_rng(rng);
    let ec_phone: String = CellNumber().fake_with_rng(rng);
    let emergency_contact = json!({
        "name": format!("{ec_first} {last}"),
        "relationship": vocab::RELATIONSHIPS[rng.gen_range(0..vocab::RELATIONSHIPS.len())],
        "phone": ec_phone,
    });
    Contact {
        first,
        last,
        phone,
        email,
        address,
        emergency_contact,
    }
}

/// A US street address, one in five with an apartment number.
fn draw_address(rng: &mut EntityRng) -> Json {
    let street: String = StreetName().fake_with_rng(rng);
    let number: String = BuildingNumber().fake_with_rng(rng);
    let city: String = CityName().fake_with_rng(rng);
    let state: &str = StateAbbr().fake_with_rng(rng);
    let zip: String = PostCode().fake_with_rng(rng);
    json!({
        "line1": format!("{number} {street}"),
        "line2": if rng.gen_bool(0.2) { Json::String(format!("Apt {}", rng.gen_range(1..400))) } else { Json::Null },
        "city": city,
        "state": state,
        "postalCode": zip,
        "country": "US",
    })
}

/// Insurer and policy number: Medicare for most 65+, otherwise the weighted list; 8% self-pay.
fn draw_insurance(rng: &mut EntityRng, age: u32) -> (Option<String>, Option<String>) {
    if rng.gen_bool(0.08) {
        return (None, None);
    }
    let ins = if age >= 65 && rng.gen_bool(0.7) {
        &vocab::INSURERS[6]
    } else {
        let w: Vec<u32> = vocab::INSURERS.iter().map(|s| s.2).collect();
        &vocab::INSURERS[pick_weighted(rng, &w)]
    };
    (
        Some(ins.0.to_string()),
        Some(format!(
            "{}{:09}",
            ins.1,
            rng.gen_range(0..1_000_000_000u32)
        )),
    )
}

/// The `allergies` column: substance, reaction and severity of each allergy.
fn allergies_json(allergies: &[usize]) -> Json {
    Json::Array(
        allergies
            .iter()
            .map(|&k| {
                let a = &vocab::ALLERGIES[k];
                json!({"substance": a.0, "reaction": a.1, "severity": a.2})
            })
            .collect(),
    )
}

/// The `chronic_conditions` column: code, name and a drawn year of onset of each condition.
fn chronic_json(rng: &mut EntityRng, chronic: &[usize], age: u32, as_of: NaiveDate) -> Json {
    Json::Array(
        chronic
            .iter()
            .map(|&k| {
                let c = &vocab::CHRONIC[k];
                let since = as_of.year() - rng.gen_range(1..=(age.clamp(2, 30) as i32));
                json!({"code": c.code, "name": c.name, "sinceYear": since})
            })
            .collect(),
    )
}

/// Primary doctor: children to a pediatrician when the clinic has one; everyone else to a
/// primary-care doctor mostly, some to a specialist who follows them.
fn draw_primary_doctor(rng: &mut EntityRng, age: u32, doctor_specialties: &[&'static str]) -> u32 {
    let pediatricians: Vec<u32> = (0..doctor_specialties.len() as u32)
        .filter(|&d| doctor_specialties[d as usize] == "Pediatrics")
        .collect();
    let primary_care: Vec<u32> = (0..doctor_specialties.len() as u32)
        .filter(|&d| {
            matches!(
                doctor_specialties[d as usize],
                "Family Medicine" | "Internal Medicine"
            )
        })
        .collect();
    let n_doctors = doctor_specialties.len().max(1) as u32;
    if age < 16 && !pediatricians.is_empty() && rng.gen_bool(0.85) {
        pediatricians[rng.gen_range(0..pediatricians.len())]
    } else if !primary_care.is_empty() && rng.gen_bool(0.75) {
        primary_care[skewed(rng, primary_care.len())]
    } else {
        skewed(rng, n_doctors as usize) as u32
    }
}

/// Registration day: 10% joined during the history window, the rest earlier.
fn draw_registration(rng: &mut EntityRng, params: &SeedParams) -> NaiveDate {
    let history = i64::from(params.shape.history_days);
    if history > 0 && rng.gen_bool(0.10) {
        params.as_of - Duration::days(rng.gen_range(1..history.max(2)))
    } else {
        params.as_of - Duration::days(history + rng.gen_range(1..3650))
    }
}

/// Visit propensity: exponential (Gamma shape 1) around the age-adjusted mean. With Poisson
/// visit counts this gives ~24% of patients without a visit in a year (Smits 2008) and the
/// top 1%/10% of patients making ~6%/~35-40% of visits (Neal 1998), see clinic-realism.md.
fn draw_visit_propensity(rng: &mut EntityRng, age: u32, chronic_conditions: usize) -> f64 {
    let u: f64 = rng.gen_range(f64::EPSILON..1.0);
    let chronic_factor = 1.0 + 0.15 * chronic_conditions as f64;
    -u.ln() * MEAN_VISITS_PER_YEAR * age_visit_factor(age) * chronic_factor / 1.25
}
