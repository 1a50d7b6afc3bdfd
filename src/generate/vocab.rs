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
