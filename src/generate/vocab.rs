//! Clinical and demographic vocabularies as plain static data: specialties, insurers,
//! allergies, chronic conditions, drugs, complaints with their ICD-10 codes and coherent
//! assessments/plans, lab tests (LOINC, units, reference ranges) and imaging studies (CPT).
//! Kept as Rust statics rather than parsed files so generation never parses anything and the
//! compiler checks every entry's shape.
//!
//! Codes are real (ICD-10-CM, LOINC, CPT) and doses are common adult doses; the data is for
//! synthetic load testing, not clinical use.

/// Doctor specialties and how often a clinic's doctor has one (primary care dominates,
/// NAMCS: most ambulatory visits are to primary care).
pub const DOCTOR_SPECIALTIES: &[(&str, u32)] = &[
    ("Family Medicine", 30),
    ("Internal Medicine", 20),
    ("Pediatrics", 10),
    ("Cardiology", 6),
    ("Endocrinology", 5),
    ("Dermatology", 5),
    ("Orthopedics", 5),
    ("Obstetrics and Gynecology", 5),
    ("Psychiatry", 4),
    ("Pulmonology", 4),
    ("Gastroenterology", 3),
    ("Neurology", 3),
];

pub const NURSE_SPECIALTIES: &[(&str, u32)] = &[
    ("Primary Care Nursing", 40),
    ("Pediatric Nursing", 15),
    ("Cardiac Nursing", 10),
    ("Diabetes Education", 10),
    ("Wound Care", 10),
    ("Women's Health Nursing", 15),
];

/// Insurer names (fictional variants of common plan types) and weights; None = self-pay.
pub const INSURERS: &[(&str, &str, u32)] = &[
    ("BlueShield Health", "BSH", 18),
    ("UnitedCare Plans", "UCP", 16),
    ("Aetna Mutual", "AEM", 10),
    ("Cigna Select", "CGS", 8),
    ("Humana Gold", "HUG", 7),
    ("Kaiser Community", "KPC", 7),
    ("Medicare Part B", "MCR", 14),
    ("Medicaid State Plan", "MCD", 12),
    ("Anthem Choice", "ANC", 6),
    ("Molina Health", "MOL", 4),
];

/// Blood types with approximate US population frequencies (per mille).
pub const BLOOD_TYPES: &[(&str, u32)] = &[
    ("O+", 374),
    ("O-", 66),
    ("A+", 357),
    ("A-", 63),
    ("B+", 85),
    ("B-", 15),
    ("AB+", 34),
    ("AB-", 6),
];

/// Allergy substance, typical reaction, severity, prevalence (per mille of patients).
pub const ALLERGIES: &[(&str, &str, &str, u32)] = &[
    ("Penicillin", "Hives", "moderate", 100),
    ("Sulfonamides", "Rash", "mild", 30),
    ("Codeine", "Nausea and vomiting", "mild", 20),
    ("Aspirin", "Bronchospasm", "moderate", 10),
    ("Ibuprofen", "Angioedema", "severe", 10),
    ("Latex", "Contact dermatitis", "mild", 15),
    ("Peanuts", "Anaphylaxis", "severe", 20),
    ("Shellfish", "Hives", "moderate", 20),
    ("Eggs", "Rash", "mild", 10),
    ("Cephalexin", "Rash", "mild", 10),
    ("Iodinated contrast", "Urticaria", "moderate", 8),
    ("Bee venom", "Anaphylaxis", "severe", 8),
];

/// A chronic condition: ICD-10 code, name, prevalence per mille by age band
/// (0-17, 18-44, 45-64, 65+), and the long-term drug usually prescribed for it.
pub struct Chronic {
    pub code: &'static str,
    pub name: &'static str,
    pub prevalence: [u32; 4],
    pub drug: &'static str,
    /// Index of the follow-up complaint in COMPLAINTS-like terms: its visit reason.
    pub reason: &'static str,
}

pub const CHRONIC: &[Chronic] = &[
    Chronic {
        code: "I10",
        name: "Essential (primary) hypertension",
        prevalence: [5, 120, 400, 650],
        drug: "Lisinopril",
        reason: "Blood pressure follow-up",
    },
    Chronic {
        code: "E11.9",
        name: "Type 2 diabetes mellitus without complications",
        prevalence: [2, 40, 150, 250],
        drug: "Metformin",
        reason: "Diabetes follow-up",
    },
    Chronic {
        code: "E78.5",
        name: "Hyperlipidemia, unspecified",
        prevalence: [5, 100, 300, 450],
        drug: "Atorvastatin",
        reason: "Cholesterol follow-up",
    },
    Chronic {
        code: "J45.909",
        name: "Unspecified asthma, uncomplicated",
        prevalence: [80, 80, 80, 70],
        drug: "Albuterol HFA",
        reason: "Asthma follow-up",
    },
    Chronic {
        code: "J44.9",
        name: "Chronic obstructive pulmonary disease, unspecified",
        prevalence: [0, 10, 60, 110],
        drug: "Tiotropium",
        reason: "COPD follow-up",
    },
    Chronic {
        code: "E03.9",
        name: "Hypothyroidism, unspecified",
        prevalence: [5, 40, 80, 120],
        drug: "Levothyroxine",
        reason: "Thyroid follow-up",
    },
    Chronic {
        code: "F32.A",
        name: "Depression, unspecified",
        prevalence: [30, 90, 80, 60],
        drug: "Sertraline",
        reason: "Depression follow-up",
    },
    Chronic {
        code: "M17.9",
        name: "Osteoarthritis of knee, unspecified",
        prevalence: [0, 10, 120, 300],
        drug: "Acetaminophen",
        reason: "Knee pain follow-up",
    },
    Chronic {
        code: "I48.91",
        name: "Unspecified atrial fibrillation",
        prevalence: [0, 2, 20, 90],
        drug: "Apixaban",
        reason: "Atrial fibrillation follow-up",
    },
    Chronic {
        code: "N18.3",
        name: "Chronic kidney disease, stage 3",
        prevalence: [0, 5, 40, 150],
        drug: "Losartan",
        reason: "Kidney function follow-up",
    },
    Chronic {
        code: "K21.9",
        name: "Gastro-esophageal reflux disease without esophagitis",
        prevalence: [10, 100, 180, 200],
        drug: "Omeprazole",
        reason: "Reflux follow-up",
    },
    Chronic {
        code: "F41.1",
        name: "Generalized anxiety disorder",
        prevalence: [30, 80, 60, 40],
        drug: "Escitalopram",
        reason: "Anxiety follow-up",
    },
];

/// Relationships for emergency contacts.
pub const RELATIONSHIPS: &[&str] = &[
    "Spouse", "Parent", "Child", "Sibling", "Partner", "Friend", "Guardian",
];

/// A drug as prescribed in primary care: name, dose, route (one of the schema's routes),
/// frequency, units per day (for the dispensed quantity), course length (None = long-term),
/// and the instruction to the patient.
pub struct Drug {
    pub name: &'static str,
    pub dose: &'static str,
    pub route: &'static str,
    pub frequency: &'static str,
    pub per_day: u32,
    pub days: Option<i32>,
    pub instructions: &'static str,
}

macro_rules! drug {
    ($name:expr, $dose:expr, $route:expr, $freq:expr, $per_day:expr, $days:expr, $instr:expr) => {
        Drug {
            name: $name,
            dose: $dose,
            route: $route,
            frequency: $freq,
            per_day: $per_day,
            days: $days,
            instructions: $instr,
        }
    };
}

pub const DRUGS: &[Drug] = &[
    drug!(
        "Amoxicillin",
        "500 mg",
        "oral",
        "three times daily",
        3,
        Some(10),
        "Take with food. Finish the whole course."
    ),
    drug!(
        "Amoxicillin-clavulanate",
        "875-125 mg",
        "oral",
        "twice daily",
        2,
        Some(10),
        "Take at the start of a meal."
    ),
    drug!(
        "Azithromycin",
        "250 mg",
        "oral",
        "once daily",
        1,
        Some(5),
        "Take 500 mg on day 1, then 250 mg daily."
    ),
    drug!(
        "Cephalexin",
        "500 mg",
        "oral",
        "four times daily",
        4,
        Some(7),
        "Finish the whole course."
    ),
    drug!(
        "Nitrofurantoin",
        "100 mg",
        "oral",
        "twice daily",
        2,
        Some(5),
        "Take with food; urine may turn dark yellow."
    ),
    drug!(
        "Doxycycline",
        "100 mg",
        "oral",
        "twice daily",
        2,
        Some(7),
        "Take with a full glass of water; avoid sun exposure."
    ),
    drug!(
        "Ibuprofen",
        "400 mg",
        "oral",
        "every 6 hours as needed",
        4,
        Some(7),
        "Take with food. Do not exceed 1200 mg a day."
    ),
    drug!(
        "Naproxen",
        "500 mg",
        "oral",
        "twice daily",
        2,
        Some(10),
        "Take with food."
    ),
    drug!(
        "Acetaminophen",
        "650 mg",
        "oral",
        "every 6 hours as needed",
        4,
        Some(14),
        "Do not exceed 3 g a day."
    ),
    drug!(
        "Lisinopril",
        "10 mg",
        "oral",
        "once daily",
        1,
        None,
        "Check blood pressure at home; report dizziness."
    ),
    drug!(
        "Amlodipine",
        "5 mg",
        "oral",
        "once daily",
        1,
        None,
        "May cause ankle swelling."
    ),
    drug!(
        "Losartan",
        "50 mg",
        "oral",
        "once daily",
        1,
        None,
        "Labs in 2 weeks to check potassium."
    ),
    drug!(
        "Hydrochlorothiazide",
        "25 mg",
        "oral",
        "once daily in the morning",
        1,
        None,
        "Take in the morning."
    ),
    drug!(
        "Metoprolol succinate",
        "50 mg",
        "oral",
        "once daily",
        1,
        None,
        "Do not stop suddenly."
    ),
    drug!(
        "Metformin",
        "500 mg",
        "oral",
        "twice daily with meals",
        2,
        None,
        "Take with meals to reduce stomach upset."
    ),
    drug!(
        "Glipizide",
        "5 mg",
        "oral",
        "once daily before breakfast",
        1,
        None,
        "Watch for low blood sugar."
    ),
    drug!(
        "Insulin glargine",
        "10 units",
        "subcutaneous",
        "once daily at bedtime",
        1,
        None,
        "Check fasting glucose daily."
    ),
    drug!(
        "Atorvastatin",
        "20 mg",
        "oral",
        "once daily at bedtime",
        1,
        None,
        "Report unexplained muscle pain."
    ),
    drug!(
        "Rosuvastatin",
        "10 mg",
        "oral",
        "once daily",
        1,
        None,
        "Report unexplained muscle pain."
    ),
    drug!(
        "Levothyroxine",
        "50 mcg",
        "oral",
        "once daily before breakfast",
        1,
        None,
        "Take on an empty stomach, 30 minutes before food."
    ),
    drug!(
        "Sertraline",
        "50 mg",
        "oral",
        "once daily",
        1,
        None,
        "Takes 4-6 weeks for full effect; do not stop suddenly."
    ),
    drug!(
        "Escitalopram",
        "10 mg",
        "oral",
        "once daily",
        1,
        None,
        "Takes 4-6 weeks for full effect."
    ),
    drug!(
        "Omeprazole",
        "20 mg",
        "oral",
        "once daily before breakfast",
        1,
        Some(56),
        "Take 30 minutes before breakfast."
    ),
    drug!(
        "Pantoprazole",
        "40 mg",
        "oral",
        "once daily",
        1,
        Some(56),
        "Take before a meal."
    ),
    drug!(
        "Albuterol HFA",
        "90 mcg, 2 puffs",
        "inhaled",
        "every 4-6 hours as needed",
        4,
        None,
        "Use a spacer; seek care if needed more than every 4 hours."
    ),
    drug!(
        "Fluticasone-salmeterol",
        "250-50 mcg, 1 inhalation",
        "inhaled",
        "twice daily",
        2,
        None,
        "Rinse mouth after use."
    ),
    drug!(
        "Tiotropium",
        "18 mcg",
        "inhaled",
        "once daily",
        1,
        None,
        "Inhale the contents of one capsule daily."
    ),
    drug!(
        "Fluticasone nasal spray",
        "50 mcg, 2 sprays each nostril",
        "nasal",
        "once daily",
        1,
        Some(30),
        "Aim away from the septum."
    ),
    drug!(
        "Montelukast",
        "10 mg",
        "oral",
        "once daily at bedtime",
        1,
        None,
        "Report mood changes."
    ),
    drug!(
        "Cetirizine",
        "10 mg",
        "oral",
        "once daily",
        1,
        Some(30),
        "May cause drowsiness."
    ),
    drug!(
        "Prednisone",
        "40 mg",
        "oral",
        "once daily",
        1,
        Some(5),
        "Take in the morning with food."
    ),
    drug!(
        "Benzonatate",
        "100 mg",
        "oral",
        "three times daily as needed",
        3,
        Some(7),
        "Swallow whole; do not chew."
    ),
    drug!(
        "Ondansetron",
        "4 mg",
        "oral",
        "every 8 hours as needed",
        3,
        Some(3),
        "Let the tablet dissolve on the tongue."
    ),
    drug!(
        "Apixaban",
        "5 mg",
        "oral",
        "twice daily",
        2,
        None,
        "Do not miss doses; report bleeding."
    ),
    drug!(
        "Hydrocortisone 1% cream",
        "thin layer",
        "topical",
        "twice daily",
        1,
        Some(14),
        "Apply to affected skin only."
    ),
    drug!(
        "Triamcinolone 0.1% cream",
        "thin layer",
        "topical",
        "twice daily",
        1,
        Some(14),
        "Do not use on the face."
    ),
    drug!(
        "Mupirocin 2% ointment",
        "thin layer",
        "topical",
        "three times daily",
        1,
        Some(10),
        "Keep the area clean and covered."
    ),
    drug!(
        "Cyclobenzaprine",
        "10 mg",
        "oral",
        "three times daily as needed",
        3,
        Some(7),
        "May cause drowsiness; do not drive."
    ),
    drug!(
        "Gabapentin",
        "300 mg",
        "oral",
        "once daily at bedtime",
        1,
        None,
        "May cause dizziness."
    ),
    drug!(
        "Sumatriptan",
        "50 mg",
        "oral",
        "at onset of migraine, may repeat in 2 hours",
        2,
        Some(30),
        "Max 200 mg in 24 hours."
    ),
    drug!(
        "Ciprofloxacin-dexamethasone otic",
        "4 drops",
        "otic",
        "twice daily",
        2,
        Some(7),
        "Warm the bottle in your hands before use."
    ),
    drug!(
        "Erythromycin ophthalmic ointment",
        "1 cm ribbon",
        "ophthalmic",
        "four times daily",
        4,
        Some(7),
        "Apply to the lower eyelid."
    ),
    drug!(
        "Cholecalciferol",
        "2000 IU",
        "oral",
        "once daily",
        1,
        None,
        "Take with a meal."
    ),
    drug!(
        "Ferrous sulfate",
        "325 mg",
        "oral",
        "once daily",
        1,
        Some(90),
        "May darken stools; take with vitamin C."
    ),
    drug!(
        "Ceftriaxone",
        "500 mg",
        "intramuscular",
        "once",
        1,
        Some(1),
        "Given in clinic."
    ),
    drug!(
        "Nitroglycerin",
        "0.4 mg",
        "sublingual",
        "every 5 minutes as needed for chest pain, up to 3 doses",
        3,
        None,
        "Call 911 if pain persists after the first dose."
    ),
    drug!(
        "Nicotine patch",
        "21 mg/24 hr",
        "transdermal",
        "once daily",
        1,
        Some(28),
        "Rotate the site daily."
    ),
    drug!(
        "Medroxyprogesterone",
        "150 mg",
        "intramuscular",
        "every 3 months",
        1,
        Some(1),
        "Next injection due in 12 weeks."
    ),
    drug!(
        "Oseltamivir",
        "75 mg",
        "oral",
        "twice daily",
        2,
        Some(5),
        "Start within 48 hours of symptoms."
    ),
    drug!(
        "Valacyclovir",
        "1 g",
        "oral",
        "three times daily",
        3,
        Some(7),
        "Drink plenty of fluids."
    ),
    drug!(
        "Bisacodyl suppository",
        "10 mg",
        "rectal",
        "once daily as needed",
        1,
        Some(7),
        "Use for constipation only as needed."
    ),
    drug!(
        "Sodium chloride 0.9%",
        "1000 mL",
        "intravenous",
        "once over 1 hour",
        1,
        Some(1),
        "Given in clinic."
    ),
    drug!(
        "Prenatal multivitamin",
        "1 tablet",
        "oral",
        "once daily",
        1,
        None,
        "Contains folic acid and iron."
    ),
    drug!(
        "Tamsulosin",
        "0.4 mg",
        "oral",
        "once daily after the same meal",
        1,
        None,
        "Rise slowly from sitting."
    ),
];

pub fn drug(name: &str) -> Option<&'static Drug> {
    DRUGS.iter().find(|d| d.name == name)
}

/// A lab test: LOINC code, long name, unit, reference range, and whether results are
/// qualitative (Negative/Positive). Ordered by how often clinics order them, so a Zipf draw
/// over the index reproduces the skew (the top 10 tests ~half of lab orders, Uppsala study).
pub struct LabTest {
    pub loinc: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    pub low: f64,
    pub high: f64,
    pub decimals: usize,
    pub qualitative: bool,
}

macro_rules! lab {
    ($loinc:expr, $name:expr, $unit:expr, $low:expr, $high:expr, $dec:expr) => {
        LabTest {
            loinc: $loinc,
            name: $name,
            unit: $unit,
            low: $low,
            high: $high,
            decimals: $dec,
            qualitative: false,
        }
    };
    ($loinc:expr, $name:expr) => {
        LabTest {
            loinc: $loinc,
            name: $name,
            unit: "",
            low: 0.0,
            high: 0.0,
            decimals: 0,
            qualitative: true,
        }
    };
}

pub const LABS: &[LabTest] = &[
    lab!("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70.0, 99.0, 0),
    lab!("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 12.0, 17.5, 1),
    lab!("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4.5, 11.0, 1),
    lab!("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.3, 2),
    lab!("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1, 1),
    lab!("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 136.0, 145.0, 0),
    lab!("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.0, 5.6, 1),
    lab!("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", 100.0, 199.0, 0),
    lab!("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "mIU/L", 0.4, 4.0, 2),
    lab!("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150.0, 400.0, 0),
    lab!("1742-6", "Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 7.0, 56.0, 0),
    lab!("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", 40.0, 149.0, 0),
    lab!("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", 40.0, 90.0, 0),
    lab!("13457-7", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by calculation", "mg/dL", 50.0, 99.0, 0),
    lab!("3094-0", "Urea nitrogen [Mass/volume] in Serum or Plasma", "mg/dL", 7.0, 20.0, 0),
    lab!("33914-3", "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum or Plasma by Creatinine-based formula (MDRD)", "mL/min/1.73m2", 60.0, 120.0, 0),
    lab!("1920-8", "Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 10.0, 40.0, 0),
    lab!("5799-2", "Leukocyte esterase [Presence] in Urine by Test strip"),
    lab!("1988-5", "C reactive protein [Mass/volume] in Serum or Plasma", "mg/L", 0.0, 10.0, 1),
    lab!("20570-8", "Hematocrit [Volume Fraction] of Blood", "%", 36.0, 50.0, 1),
    lab!("2276-4", "Ferritin [Mass/volume] in Serum or Plasma", "ng/mL", 20.0, 250.0, 0),
    lab!("62292-8", "25-Hydroxyvitamin D2+D3 [Mass/volume] in Serum or Plasma", "ng/mL", 30.0, 100.0, 0),
    lab!("2132-9", "Cobalamin (Vitamin B12) [Mass/volume] in Serum or Plasma", "pg/mL", 200.0, 900.0, 0),
    lab!("14959-1", "Microalbumin/Creatinine [Mass Ratio] in Urine", "mg/g", 0.0, 30.0, 0),
    lab!("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 8.6, 10.3, 1),
    lab!("2028-9", "Carbon dioxide, total [Moles/volume] in Serum or Plasma", "mmol/L", 22.0, 29.0, 0),
    lab!("78012-2", "Streptococcus pyogenes Ag [Presence] in Throat by Rapid immunoassay"),
    lab!("630-4", "Bacteria identified in Urine by Culture"),
    lab!("3024-7", "Thyroxine (T4) free [Mass/volume] in Serum or Plasma", "ng/dL", 0.8, 1.8, 2),
    lab!("2857-1", "Prostate specific Ag [Mass/volume] in Serum or Plasma", "ng/mL", 0.0, 4.0, 2),
    lab!("6301-6", "INR in Platelet poor plasma by Coagulation assay", "{INR}", 0.8, 1.2, 1),
    lab!("3040-3", "Lipase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 10.0, 160.0, 0),
    lab!("2498-4", "Iron [Mass/volume] in Serum or Plasma", "ug/dL", 60.0, 170.0, 0),
    lab!("4537-7", "Erythrocyte sedimentation rate by Westergren method", "mm/h", 0.0, 20.0, 0),
    lab!("789-8", "Erythrocytes [#/volume] in Blood by Automated count", "10*6/uL", 4.2, 5.9, 2),
    lab!("5794-3", "Hemoglobin [Presence] in Urine by Test strip"),
    lab!("2106-3", "Choriogonadotropin (pregnancy test) [Presence] in Urine"),
    lab!("5811-5", "Specific gravity of Urine by Test strip", "", 1.005, 1.030, 3),
];

pub fn lab(loinc: &str) -> Option<usize> {
    LABS.iter().position(|l| l.loinc == loinc)
}

/// An imaging study: CPT code, description, typical normal and abnormal report impressions.
pub struct Imaging {
    pub cpt: &'static str,
    pub description: &'static str,
    pub normal: &'static str,
    pub abnormal: &'static str,
}

pub const IMAGING: &[Imaging] = &[
    Imaging { cpt: "71046", description: "Radiologic examination, chest; 2 views", normal: "No acute cardiopulmonary process", abnormal: "Right lower lobe consolidation" },
    Imaging { cpt: "73562", description: "Radiologic examination, knee; 3 views", normal: "No fracture or dislocation", abnormal: "Moderate medial joint space narrowing" },
    Imaging { cpt: "73610", description: "Radiologic examination, ankle; complete, minimum of 3 views", normal: "No fracture", abnormal: "Nondisplaced distal fibular fracture" },
    Imaging { cpt: "72100", description: "Radiologic examination, spine, lumbosacral; 2 or 3 views", normal: "Normal alignment, no acute findings", abnormal: "Degenerative disc disease at L4-L5" },
    Imaging { cpt: "73030", description: "Radiologic examination, shoulder; complete, minimum of 2 views", normal: "No acute osseous abnormality", abnormal: "Calcific tendinopathy of the supraspinatus" },
    Imaging { cpt: "76700", description: "Ultrasound, abdominal, real time with image documentation; complete", normal: "Unremarkable abdominal ultrasound", abnormal: "Cholelithiasis without cholecystitis" },
    Imaging { cpt: "77067", description: "Screening mammography, bilateral (2-view study of each breast)", normal: "BI-RADS 1: negative", abnormal: "BI-RADS 0: additional imaging needed" },
    Imaging { cpt: "93306", description: "Echocardiography, transthoracic, complete, with spectral and color flow Doppler", normal: "Normal LV size and function, EF 60%", abnormal: "Mildly reduced LV function, EF 45%" },
    Imaging { cpt: "77080", description: "Dual-energy X-ray absorptiometry (DXA), bone density study; axial skeleton", normal: "Normal bone density", abnormal: "Osteopenia, T-score -1.8" },
    Imaging { cpt: "70450", description: "Computed tomography, head or brain; without contrast material", normal: "No acute intracranial abnormality", abnormal: "Chronic small vessel ischemic changes" },
    Imaging { cpt: "72148", description: "Magnetic resonance imaging, spinal canal and contents, lumbar; without contrast material", normal: "No significant stenosis", abnormal: "L5-S1 disc protrusion contacting the S1 nerve root" },
    Imaging { cpt: "70551", description: "Magnetic resonance imaging, brain (including brain stem); without contrast material", normal: "Normal MRI of the brain", abnormal: "Scattered nonspecific white matter hyperintensities" },
    Imaging { cpt: "76805", description: "Ultrasound, pregnant uterus, fetal and maternal evaluation, after first trimester", normal: "Single live intrauterine pregnancy, growth appropriate", abnormal: "Low-lying placenta, follow-up advised" },
    Imaging { cpt: "74177", description: "Computed tomography, abdomen and pelvis; with contrast material(s)", normal: "No acute abdominal or pelvic process", abnormal: "Uncomplicated sigmoid diverticulitis" },
    Imaging { cpt: "76536", description: "Ultrasound, soft tissues of head and neck (thyroid)", normal: "Normal thyroid gland", abnormal: "1.2 cm TI-RADS 3 nodule, right lobe" },
];

pub fn imaging(cpt: &str) -> Option<usize> {
    IMAGING.iter().position(|i| i.cpt == cpt)
}

/// Why a patient comes: the booking reason, the chief complaint in the patient's words, the
/// ICD-10-CM diagnosis it usually ends in, and the note text and orders that go with it, so a
/// note's complaint, assessment and plan agree with the encounter's codes and prescriptions.
/// `weight` 0 marks chronic-condition follow-ups, chosen only for patients with that condition.
pub struct Complaint {
    pub reason: &'static str,
    pub chief: &'static str,
    pub icd10: &'static str,
    pub diagnosis: &'static str,
    pub specialty: &'static str,
    pub tag: &'static str,
    pub weight: u32,
    pub ages: (u32, u32),
    /// Only for patients of this sex (prenatal visits, prostate symptoms).
    pub sex: Option<&'static str>,
    /// History of present illness; `{days}` is replaced by the symptom duration.
    pub hpi: &'static str,
    pub exam: &'static str,
    pub impression: &'static str,
    pub drugs: &'static [&'static str],
    pub labs: &'static [&'static str],
    pub imaging: &'static [&'static str],
    pub education: &'static str,
    pub follow_up: &'static str,
}

macro_rules! complaint {
    ($reason:expr, $chief:expr, $icd:expr, $dx:expr, $spec:expr, $tag:expr, $w:expr, $ages:expr, $fem:expr,
     $hpi:expr, $exam:expr, $imp:expr, $drugs:expr, $labs:expr, $img:expr, $edu:expr, $fu:expr) => {
        Complaint {
            reason: $reason,
            chief: $chief,
            icd10: $icd,
            diagnosis: $dx,
            specialty: $spec,
            tag: $tag,
            weight: $w,
            ages: $ages,
            sex: $fem,
            hpi: $hpi,
            exam: $exam,
            impression: $imp,
            drugs: $drugs,
            labs: $labs,
            imaging: $img,
            education: $edu,
            follow_up: $fu,
        }
    };
}

const ALL_AGES: (u32, u32) = (0, 120);
const ADULT: (u32, u32) = (18, 120);
const FM: &str = "Family Medicine";

pub const COMPLAINTS: &[Complaint] = &[
    complaint!("Sore throat", "My throat has been really sore", "J02.9", "Acute pharyngitis, unspecified", FM, "respiratory", 60, ALL_AGES, None,
        "Sore throat for {days} days with painful swallowing and low-grade fever. No cough.",
        "Pharyngeal erythema with tonsillar exudate; tender anterior cervical nodes.",
        "Acute pharyngitis, possibly streptococcal.",
        &["Amoxicillin", "Ibuprofen"], &["78012-2"], &[],
        "Warm salt-water gargles, fluids, rest; return if unable to swallow.", "Return if not improving in 3-5 days."),
    complaint!("Cold symptoms", "I have a cough and a stuffy nose", "J06.9", "Acute upper respiratory infection, unspecified", FM, "respiratory", 90, ALL_AGES, None,
        "Nasal congestion, rhinorrhea and dry cough for {days} days. No shortness of breath.",
        "Boggy nasal mucosa, clear rhinorrhea; lungs clear to auscultation.",
        "Viral upper respiratory infection.",
        &["Benzonatate", "Fluticasone nasal spray", "Acetaminophen"], &[], &[],
        "Supportive care; antibiotics are not helpful for viral infections.", "Return if fever persists beyond 3 days or breathing worsens."),
    complaint!("Cough and fever", "I've had a bad cough and fever", "J18.9", "Pneumonia, unspecified organism", FM, "respiratory", 25, ALL_AGES, None,
        "Productive cough, fever to 38.9 C and fatigue for {days} days; mild pleuritic chest pain.",
        "Crackles at the right base; no respiratory distress.",
        "Community-acquired pneumonia, outpatient management appropriate.",
        &["Amoxicillin-clavulanate", "Azithromycin"], &["6690-2", "1988-5"], &["71046"],
        "Rest, fluids; seek care urgently for breathlessness or confusion.", "Recheck in 48-72 hours."),
    complaint!("Sinus pain", "My sinuses hurt and I'm congested", "J01.90", "Acute sinusitis, unspecified", FM, "respiratory", 40, ADULT, None,
        "Facial pressure, purulent nasal discharge and congestion for {days} days, worse after initial improvement.",
        "Maxillary sinus tenderness; purulent drainage in the nares.",
        "Acute bacterial sinusitis.",
        &["Amoxicillin-clavulanate", "Fluticasone nasal spray"], &[], &[],
        "Saline irrigation and steam inhalation.", "Return if symptoms persist after the antibiotic course."),
    complaint!("Ear pain", "My ear hurts", "H66.90", "Otitis media, unspecified, unspecified ear", "Pediatrics", "ent", 35, (0, 17), None,
        "Ear pain and fussiness for {days} days with fever.",
        "Bulging, erythematous tympanic membrane.",
        "Acute otitis media.",
        &["Amoxicillin", "Ibuprofen"], &[], &[],
        "Pain control; complete antibiotics.", "Recheck ears in 2 weeks if symptoms persist."),
    complaint!("Burning urination", "It burns when I pee", "N39.0", "Urinary tract infection, site not specified", FM, "genitourinary", 45, ADULT, Some("female"),
        "Dysuria, frequency and urgency for {days} days. No flank pain or fever.",
        "Mild suprapubic tenderness; no costovertebral angle tenderness.",
        "Uncomplicated cystitis.",
        &["Nitrofurantoin"], &["5799-2", "630-4"], &[],
        "Hydration; return for fever or flank pain.", "Will call with culture results."),
    complaint!("Low back pain", "My lower back is killing me", "M54.50", "Low back pain, unspecified", FM, "musculoskeletal", 55, ADULT, None,
        "Low back pain for {days} days after lifting, no radiation, no bowel or bladder symptoms.",
        "Paraspinal muscle tenderness; negative straight-leg raise; normal strength and reflexes.",
        "Mechanical low back pain without red flags.",
        &["Naproxen", "Cyclobenzaprine"], &[], &["72100"],
        "Stay active, heat, core exercises; avoid bed rest.", "Return in 4-6 weeks if not improving; physical therapy referral if persistent."),
    complaint!("Headache", "I keep getting headaches", "G43.909", "Migraine, unspecified, not intractable, without status migrainosus", "Neurology", "neurology", 35, (12, 120), None,
        "Recurrent throbbing unilateral headaches with photophobia and nausea over {days} days.",
        "Normal neurological examination; no papilledema.",
        "Migraine without aura.",
        &["Sumatriptan", "Ibuprofen"], &[], &[],
        "Headache diary, regular sleep and meals, limit analgesic use to avoid rebound headaches.", "Follow up in 6 weeks to review the diary."),
    complaint!("Chest pain", "I've been having chest pain", "R07.9", "Chest pain, unspecified", "Cardiology", "cardiovascular", 20, (30, 120), None,
        "Intermittent substernal chest discomfort for {days} days, not clearly exertional, no radiation.",
        "Regular rate and rhythm, no murmurs; chest wall non-tender. ECG: sinus rhythm, no acute ST changes.",
        "Atypical chest pain; cardiac cause not excluded.",
        &["Omeprazole"], &["2093-3", "13457-7", "718-7"], &["71046", "93306"],
        "Call 911 for pain at rest or lasting more than 15 minutes.", "Follow up after the echocardiogram; consider stress testing."),
    complaint!("Rash", "I have an itchy rash", "L30.9", "Dermatitis, unspecified", "Dermatology", "dermatology", 40, ALL_AGES, None,
        "Itchy red rash on the forearms for {days} days; new detergent recently.",
        "Erythematous, scaly plaques on the flexor forearms without vesicles.",
        "Contact dermatitis.",
        &["Triamcinolone 0.1% cream", "Cetirizine"], &[], &[],
        "Avoid the suspected irritant; fragrance-free emollients.", "Return in 2 weeks if not resolved."),
    complaint!("Skin infection", "There's a red, swollen spot on my leg", "L03.90", "Cellulitis, unspecified", FM, "dermatology", 20, ALL_AGES, None,
        "Expanding redness, warmth and tenderness of the lower leg for {days} days.",
        "Warm, tender erythema with indistinct borders; no fluctuance.",
        "Non-purulent cellulitis.",
        &["Cephalexin", "Mupirocin 2% ointment"], &["6690-2"], &[],
        "Elevate the leg; mark the border and return if it spreads.", "Recheck in 48 hours."),
    complaint!("Knee pain", "My knee hurts when I walk", "M25.561", "Pain in right knee", "Orthopedics", "musculoskeletal", 35, (15, 120), None,
        "Right knee pain for {days} days, worse with stairs, occasional swelling.",
        "Medial joint line tenderness; no effusion; ligaments stable.",
        "Right knee pain, likely degenerative.",
        &["Naproxen"], &[], &["73562"],
        "Weight management, quadriceps strengthening, ice after activity.", "Follow up in 6 weeks; physical therapy referral."),
    complaint!("Ankle injury", "I twisted my ankle", "S93.401A", "Sprain of unspecified ligament of right ankle, initial encounter", "Orthopedics", "musculoskeletal", 25, (5, 70), None,
        "Inversion injury of the right ankle {days} days ago with swelling; able to bear weight with pain.",
        "Lateral ankle swelling and ATFL tenderness; no bony tenderness at the malleoli.",
        "Right ankle sprain.",
        &["Ibuprofen"], &[], &["73610"],
        "Rest, ice, compression, elevation; early mobilisation.", "Return in 2 weeks if still unable to bear weight."),
    complaint!("Shoulder pain", "My shoulder hurts when I lift my arm", "M25.511", "Pain in right shoulder", "Orthopedics", "musculoskeletal", 25, ADULT, None,
        "Right shoulder pain for {days} days, worse with overhead activity and at night.",
        "Painful arc between 60 and 120 degrees; positive impingement signs.",
        "Rotator cuff tendinopathy.",
        &["Naproxen"], &[], &["73030"],
        "Activity modification, pendulum exercises.", "Follow up in 4 weeks; consider injection."),
    complaint!("Abdominal pain", "My stomach hurts", "R10.9", "Unspecified abdominal pain", "Gastroenterology", "gastrointestinal", 30, ALL_AGES, None,
        "Intermittent upper abdominal pain for {days} days, worse after fatty meals.",
        "Soft abdomen, mild epigastric and right upper quadrant tenderness, no guarding.",
        "Abdominal pain, biliary colic versus gastritis.",
        &["Omeprazole", "Ondansetron"], &["1742-6", "3040-3", "6690-2"], &["76700"],
        "Small low-fat meals; seek care for fever or persistent pain.", "Follow up after the ultrasound."),
    complaint!("Vomiting and diarrhea", "I can't stop throwing up", "A09", "Infectious gastroenteritis and colitis, unspecified", FM, "gastrointestinal", 30, ALL_AGES, None,
        "Nausea, vomiting and watery diarrhea for {days} days; sick contacts at home.",
        "Mildly dry mucous membranes; diffuse mild tenderness; normal bowel sounds.",
        "Acute viral gastroenteritis with mild dehydration.",
        &["Ondansetron", "Sodium chloride 0.9%"], &["2823-3", "2951-2"], &[],
        "Oral rehydration, small sips often, hand hygiene.", "Return for blood in stool or inability to keep fluids down."),
    complaint!("Heartburn", "I get heartburn after eating", "K21.9", "Gastro-esophageal reflux disease without esophagitis", "Gastroenterology", "gastrointestinal", 30, ADULT, None,
        "Burning retrosternal discomfort after meals and at night for {days} days.",
        "Abdomen soft, non-tender.",
        "Gastro-esophageal reflux disease.",
        &["Omeprazole"], &[], &[],
        "Avoid late meals, alcohol and caffeine; raise the head of the bed.", "Follow up in 8 weeks."),
    complaint!("Feeling anxious", "I've been feeling very anxious", "F41.1", "Generalized anxiety disorder", "Psychiatry", "mental_health", 30, (12, 120), None,
        "Excessive worry, restlessness and poor sleep for {days} days; GAD-7 score 14.",
        "Anxious affect, linear thought process, no suicidal ideation.",
        "Generalized anxiety disorder, moderate.",
        &["Escitalopram"], &["3016-3"], &[],
        "Cognitive behavioural therapy referral; breathing exercises.", "Follow up in 4 weeks."),
    complaint!("Low mood", "I've been feeling down", "F32.A", "Depression, unspecified", "Psychiatry", "mental_health", 30, (12, 120), None,
        "Low mood, anhedonia and fatigue for {days} days; PHQ-9 score 15; no suicidal ideation.",
        "Flat affect, good eye contact, no psychotic features.",
        "Major depressive episode, moderate.",
        &["Sertraline"], &["3016-3", "718-7"], &[],
        "Counselling referral; crisis line information given.", "Follow up in 4 weeks."),
    complaint!("Fatigue", "I'm tired all the time", "R53.83", "Other fatigue", FM, "general", 35, ADULT, None,
        "Fatigue for {days} days despite adequate sleep; no weight loss or night sweats.",
        "Pale conjunctivae; otherwise unremarkable examination.",
        "Fatigue; evaluate for anemia, thyroid disease and vitamin deficiency.",
        &["Cholecalciferol", "Ferrous sulfate"], &["718-7", "3016-3", "2276-4", "2132-9", "62292-8"], &[],
        "Regular sleep schedule and activity.", "Will review results by phone."),
    complaint!("Annual physical", "Just here for my yearly check-up", "Z00.00", "Encounter for general adult medical examination without abnormal findings", FM, "preventive", 70, ADULT, None,
        "Presents for an annual wellness visit; no acute complaints.",
        "Normal general examination.",
        "Healthy adult; age-appropriate screening reviewed.",
        &[], &["2093-3", "13457-7", "2085-9", "2571-8", "4548-4", "2345-7", "2160-0"], &["77067"],
        "Diet, exercise, sleep and screening recommendations reviewed.", "Return in 1 year."),
    complaint!("Well-child visit", "Here for my child's check-up", "Z00.129", "Encounter for routine child health examination without abnormal findings", "Pediatrics", "preventive", 60, (0, 17), None,
        "Well-child visit; growth and development on track per parent.",
        "Growth along percentiles; normal developmental screening.",
        "Healthy child.",
        &[], &[], &[],
        "Immunizations per schedule; safety and nutrition guidance.", "Next well visit per schedule."),
    complaint!("Palpitations", "My heart is racing sometimes", "R00.2", "Palpitations", "Cardiology", "cardiovascular", 20, ADULT, None,
        "Episodes of rapid heartbeat lasting minutes over {days} days, no syncope.",
        "Regular rhythm at rest; normal heart sounds. ECG: sinus rhythm.",
        "Palpitations; evaluate for arrhythmia and thyroid disease.",
        &["Metoprolol succinate"], &["3016-3", "2823-3", "718-7"], &["93306"],
        "Limit caffeine and alcohol.", "Holter monitor; follow up in 2 weeks."),
    complaint!("Wheezing", "I'm wheezing and short of breath", "J45.901", "Unspecified asthma with (acute) exacerbation", "Pulmonology", "respiratory", 25, ALL_AGES, None,
        "Wheezing and shortness of breath for {days} days after a cold; using rescue inhaler often.",
        "Diffuse expiratory wheezes; SpO2 95% on room air; speaking full sentences.",
        "Mild asthma exacerbation.",
        &["Albuterol HFA", "Prednisone"], &[], &[],
        "Inhaler technique reviewed; asthma action plan given.", "Follow up in 1 week."),
    complaint!("Dizziness", "I feel dizzy when I stand up", "R42", "Dizziness and giddiness", FM, "neurology", 20, ADULT, None,
        "Light-headedness on standing for {days} days; no vertigo or syncope.",
        "Orthostatic drop of 15 mmHg systolic; normal neurological examination.",
        "Orthostatic dizziness, possibly volume depletion.",
        &[], &["718-7", "2951-2", "2823-3", "2345-7"], &[],
        "Hydration; rise slowly.", "Follow up in 2 weeks."),
    complaint!("High blood sugar", "My sugar readings have been high", "R73.9", "Hyperglycemia, unspecified", "Endocrinology", "endocrine", 20, ADULT, None,
        "Elevated home glucose readings and increased thirst for {days} days.",
        "BMI 31; normal foot examination.",
        "Hyperglycemia, likely new type 2 diabetes.",
        &["Metformin"], &["4548-4", "2345-7", "2160-0"], &[],
        "Diabetes education referral; carbohydrate awareness.", "Follow up in 3 months with HbA1c."),
    complaint!("Prenatal visit", "Here for my pregnancy check", "Z34.90", "Encounter for supervision of normal pregnancy, unspecified, unspecified trimester", "Obstetrics and Gynecology", "obstetrics", 25, (18, 45), Some("female"),
        "Routine prenatal visit; good fetal movement, no bleeding or contractions.",
        "Fundal height appropriate for dates; fetal heart tones 140 bpm.",
        "Normal intrauterine pregnancy.",
        &["Prenatal multivitamin"], &["718-7", "5799-2"], &["76805"],
        "Nutrition, warning signs of pre-eclampsia reviewed.", "Next prenatal visit in 4 weeks."),
    complaint!("Contraception", "I'd like to discuss birth control", "Z30.013", "Encounter for initial prescription of injectable contraceptive", "Obstetrics and Gynecology", "womens_health", 15, (15, 50), Some("female"),
        "Requests contraception; options reviewed.",
        "Normal examination.",
        "Contraceptive counselling.",
        &["Medroxyprogesterone"], &["2106-3"], &[],
        "Bone health and return-to-fertility discussed.", "Next injection in 12 weeks."),
    complaint!("Flu symptoms", "I have body aches and a high fever", "J11.1", "Influenza due to unidentified influenza virus with other respiratory manifestations", FM, "respiratory", 30, ALL_AGES, None,
        "Abrupt fever, myalgia and dry cough for {days} days during flu season.",
        "Febrile 38.6 C; lungs clear.",
        "Influenza-like illness.",
        &["Oseltamivir", "Acetaminophen"], &[], &[],
        "Rest, fluids, stay home until fever-free for 24 hours.", "Return for breathing difficulty."),
    complaint!("Red eye", "My eye is red and crusty", "H10.9", "Unspecified conjunctivitis", FM, "ophthalmology", 20, ALL_AGES, None,
        "Red eye with morning crusting for {days} days; no vision change.",
        "Conjunctival injection with mucopurulent discharge; visual acuity normal.",
        "Bacterial conjunctivitis.",
        &["Erythromycin ophthalmic ointment"], &[], &[],
        "Hand hygiene; avoid contact lenses.", "Return if vision changes."),
    complaint!("Painful rash", "I have a painful blistering rash", "B02.9", "Zoster without complications", FM, "dermatology", 10, (40, 120), None,
        "Burning pain followed by a band-like vesicular rash on the left flank for {days} days.",
        "Grouped vesicles on an erythematous base in a T10 dermatome.",
        "Herpes zoster.",
        &["Valacyclovir", "Gabapentin"], &[], &[],
        "Keep lesions covered; shingles vaccine after recovery.", "Follow up in 2 weeks."),
    complaint!("Quit smoking", "I want to quit smoking", "F17.210", "Nicotine dependence, cigarettes, uncomplicated", FM, "preventive", 15, ADULT, None,
        "Smokes 20 cigarettes a day; motivated to quit.",
        "Normal examination.",
        "Tobacco use disorder; ready to quit.",
        &["Nicotine patch"], &[], &[],
        "Quit line referral; set a quit date.", "Follow up in 4 weeks."),
    complaint!("Numbness", "My feet feel numb and tingly", "R20.2", "Paresthesia of skin", "Neurology", "neurology", 15, ADULT, None,
        "Numbness and tingling in both feet for {days} days.",
        "Decreased vibration sense at the toes; reflexes intact.",
        "Peripheral neuropathy; evaluate for diabetes and B12 deficiency.",
        &["Gabapentin"], &["2132-9", "4548-4"], &[],
        "Foot care and fall prevention.", "Follow up with results in 2 weeks."),
    complaint!("Memory concerns", "I keep forgetting things", "R41.3", "Other amnesia", "Neurology", "neurology", 10, (55, 120), None,
        "Family reports increasing forgetfulness over {days} days.",
        "MoCA 24/30; normal focal neurological examination.",
        "Mild cognitive impairment.",
        &[], &["2132-9", "3016-3"], &["70551"],
        "Cognitive activity, safety review.", "Follow up after MRI."),
    complaint!("Urinary frequency", "I'm up at night to pee", "N40.1", "Benign prostatic hyperplasia with lower urinary tract symptoms", FM, "genitourinary", 10, (50, 120), Some("male"),
        "Nocturia and weak stream for {days} days.",
        "Smooth, enlarged, non-tender prostate.",
        "Benign prostatic hyperplasia.",
        &["Tamsulosin"], &["2857-1"], &[],
        "Limit evening fluids.", "Follow up in 3 months."),
    // Chronic-condition follow-ups (weight 0): chosen for patients who have the condition.
    complaint!("Blood pressure follow-up", "Here for my blood pressure check", "I10", "Essential (primary) hypertension", "Internal Medicine", "chronic_care", 0, ADULT, None,
        "Hypertension follow-up; home readings averaging 138/86 over the last {days} days; adherent.",
        "BP 142/88; regular rhythm; no edema.",
        "Essential hypertension, not at goal.",
        &["Lisinopril", "Amlodipine"], &["2823-3", "2160-0", "2951-2"], &[],
        "Low-salt diet, regular exercise, home BP log.", "Follow up in 3 months."),
    complaint!("Diabetes follow-up", "Here for my diabetes check", "E11.9", "Type 2 diabetes mellitus without complications", "Endocrinology", "chronic_care", 0, ADULT, None,
        "Type 2 diabetes follow-up; fasting readings 110-160 over {days} days; no hypoglycemia.",
        "Normal monofilament foot examination.",
        "Type 2 diabetes mellitus.",
        &["Metformin", "Atorvastatin"], &["4548-4", "14959-1", "2160-0"], &[],
        "Diet and exercise reviewed; annual eye examination.", "Follow up in 3 months."),
    complaint!("Cholesterol follow-up", "Here to go over my cholesterol", "E78.5", "Hyperlipidemia, unspecified", "Internal Medicine", "chronic_care", 0, ADULT, None,
        "Hyperlipidemia follow-up; tolerating statin for {days} days without myalgia.",
        "Normal examination.",
        "Hyperlipidemia on statin therapy.",
        &["Atorvastatin"], &["2093-3", "13457-7", "2085-9", "2571-8", "1742-6"], &[],
        "Heart-healthy diet.", "Repeat lipids in 12 months."),
    complaint!("Asthma follow-up", "Here for my asthma", "J45.909", "Unspecified asthma, uncomplicated", "Pulmonology", "chronic_care", 0, ALL_AGES, None,
        "Asthma follow-up; rescue inhaler twice a week over the last {days} days.",
        "Lungs clear; peak flow 85% of predicted.",
        "Mild persistent asthma, partly controlled.",
        &["Fluticasone-salmeterol", "Albuterol HFA"], &[], &[],
        "Inhaler technique and trigger avoidance reviewed.", "Follow up in 3 months."),
    complaint!("COPD follow-up", "My breathing check-up", "J44.9", "Chronic obstructive pulmonary disease, unspecified", "Pulmonology", "chronic_care", 0, (40, 120), None,
        "COPD follow-up; stable dyspnea on exertion over {days} days; no recent exacerbation.",
        "Prolonged expiration, scattered wheeze; SpO2 94%.",
        "COPD, stable.",
        &["Tiotropium", "Albuterol HFA"], &[], &["71046"],
        "Smoking cessation and pulmonary rehab discussed; vaccines up to date.", "Follow up in 3 months."),
    complaint!("Thyroid follow-up", "Here for my thyroid", "E03.9", "Hypothyroidism, unspecified", "Endocrinology", "chronic_care", 0, ALL_AGES, None,
        "Hypothyroidism follow-up; energy improved over {days} days on levothyroxine.",
        "Thyroid not enlarged; normal reflexes.",
        "Hypothyroidism on replacement.",
        &["Levothyroxine"], &["3016-3", "3024-7"], &["76536"],
        "Take levothyroxine on an empty stomach.", "Repeat TSH in 6-8 weeks."),
    complaint!("Depression follow-up", "Follow-up for my mood", "F32.A", "Depression, unspecified", "Psychiatry", "chronic_care", 0, (12, 120), None,
        "Depression follow-up; mood improving over {days} days; PHQ-9 now 8.",
        "Brighter affect; no suicidal ideation.",
        "Depression, improving on treatment.",
        &["Sertraline"], &[], &[],
        "Continue counselling.", "Follow up in 8 weeks."),
    complaint!("Knee pain follow-up", "My knee arthritis", "M17.9", "Osteoarthritis of knee, unspecified", "Orthopedics", "chronic_care", 0, (40, 120), None,
        "Knee osteoarthritis follow-up; pain limiting walking over {days} days.",
        "Crepitus and medial joint line tenderness; mild effusion.",
        "Knee osteoarthritis.",
        &["Acetaminophen", "Naproxen"], &[], &["73562"],
        "Weight loss and strengthening exercises.", "Follow up in 3 months; consider injection."),
    complaint!("Atrial fibrillation follow-up", "Check on my heart rhythm", "I48.91", "Unspecified atrial fibrillation", "Cardiology", "chronic_care", 0, (40, 120), None,
        "Atrial fibrillation follow-up; no bleeding or palpitations over {days} days.",
        "Irregularly irregular rhythm, rate 78.",
        "Atrial fibrillation, rate controlled, anticoagulated.",
        &["Apixaban", "Metoprolol succinate"], &["718-7", "2160-0"], &["93306"],
        "Bleeding precautions reviewed.", "Follow up in 6 months."),
    complaint!("Kidney function follow-up", "Here to check my kidneys", "N18.3", "Chronic kidney disease, stage 3", "Internal Medicine", "chronic_care", 0, (40, 120), None,
        "CKD stage 3 follow-up; stable over {days} days; avoiding NSAIDs.",
        "BP 136/82; no edema.",
        "Chronic kidney disease stage 3, stable.",
        &["Losartan"], &["2160-0", "33914-3", "2823-3", "14959-1"], &[],
        "Avoid NSAIDs; renal diet basics.", "Repeat labs in 3 months."),
    complaint!("Reflux follow-up", "Follow-up for my reflux", "K21.9", "Gastro-esophageal reflux disease without esophagitis", "Gastroenterology", "chronic_care", 0, ADULT, None,
        "GERD follow-up; symptoms controlled over {days} days.",
        "Abdomen soft, non-tender.",
        "GERD, controlled.",
        &["Pantoprazole"], &[], &[],
        "Step down therapy if symptom-free.", "Follow up in 6 months."),
    complaint!("Anxiety follow-up", "Follow-up for my anxiety", "F41.1", "Generalized anxiety disorder", "Psychiatry", "chronic_care", 0, (12, 120), None,
        "Anxiety follow-up; sleeping better over {days} days; GAD-7 now 7.",
        "Calm, engaged.",
        "Generalized anxiety disorder, improving.",
        &["Escitalopram"], &[], &[],
        "Continue therapy and exercise.", "Follow up in 8 weeks."),
];

/// The follow-up complaint for a chronic condition (by its ICD-10 code).
pub fn chronic_complaint(code: &str) -> Option<usize> {
    COMPLAINTS
        .iter()
        .position(|c| c.weight == 0 && c.icd10 == code)
}
