-- Dr. Assistant clinical schema (MVP-004), version 1.
-- Ten tables: users, patients, appointments, encounters, prescriptions, prescription_items,
-- orders, order_items, tasks, alerts. Timestamps are clinic-local TIMESTAMP (no time zone)
-- as in MVP-004, which also keeps DATE(start_time) immutable for idx_appointments_doctor_date.

CREATE EXTENSION IF NOT EXISTS "uuid-ossp";

CREATE OR REPLACE FUNCTION update_timestamp()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- ---------------------------------------------------------------------------------------
-- users
-- ---------------------------------------------------------------------------------------
CREATE TABLE users (
    id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
    username VARCHAR(50) UNIQUE NOT NULL,
    email VARCHAR(100) UNIQUE NOT NULL,
    full_name VARCHAR(100) NOT NULL,
    role VARCHAR(20) NOT NULL,
    specialty VARCHAR(50),
    phone VARCHAR(20),
    profile_image_url VARCHAR(255),
    password_hash VARCHAR(255) NOT NULL,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    last_login_at TIMESTAMP,
    status VARCHAR(20) NOT NULL DEFAULT 'active',
    preferences JSONB,
    CONSTRAINT valid_role CHECK (role IN ('doctor', 'nurse', 'admin', 'receptionist')),
    CONSTRAINT valid_user_status CHECK (status IN ('active', 'inactive', 'suspended')),
    CONSTRAINT specialty_only_for_clinicians CHECK (specialty IS NULL OR role IN ('doctor', 'nurse'))
);

CREATE INDEX idx_users_role ON users(role);
CREATE INDEX idx_users_specialty ON users(specialty) WHERE specialty IS NOT NULL;
CREATE INDEX idx_users_email ON users(email);
CREATE INDEX idx_users_status ON users(status);

CREATE TRIGGER update_users_timestamp BEFORE UPDATE ON users
FOR EACH ROW EXECUTE FUNCTION update_timestamp();

COMMENT ON TABLE users IS 'Users of the system including doctors, nurses, and administrative staff';
COMMENT ON COLUMN users.id IS 'Unique identifier for the user';
COMMENT ON COLUMN users.username IS 'Username for login';
COMMENT ON COLUMN users.email IS 'Work email address, unique per user';
COMMENT ON COLUMN users.full_name IS 'Display name, e.g. "Dr. Asha Rao"';
COMMENT ON COLUMN users.role IS 'doctor, nurse, admin or receptionist';
COMMENT ON COLUMN users.specialty IS 'Clinical specialty of a doctor or nurse; NULL for other roles';
COMMENT ON COLUMN users.phone IS 'Work phone number';
COMMENT ON COLUMN users.profile_image_url IS 'URL of the profile picture';
COMMENT ON COLUMN users.password_hash IS 'Password hash (never the password itself)';
COMMENT ON COLUMN users.created_at IS 'When the account was created';
COMMENT ON COLUMN users.updated_at IS 'Last modification, maintained by the update_timestamp trigger';
COMMENT ON COLUMN users.last_login_at IS 'Last successful login';
COMMENT ON COLUMN users.status IS 'active, inactive or suspended';
COMMENT ON COLUMN users.preferences IS 'User preferences and settings (JSON)';

-- ---------------------------------------------------------------------------------------
-- patients
-- ---------------------------------------------------------------------------------------
CREATE TABLE patients (
    id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
    mrn VARCHAR(20) UNIQUE NOT NULL,
    first_name VARCHAR(50) NOT NULL,
    last_name VARCHAR(50) NOT NULL,
    date_of_birth DATE NOT NULL,
    sex VARCHAR(10) NOT NULL,
    phone VARCHAR(20),
    email VARCHAR(100),
    address JSONB,
    emergency_contact JSONB,
    insurance_provider VARCHAR(100),
    insurance_policy_number VARCHAR(50),
    blood_type VARCHAR(3),
    allergies JSONB NOT NULL DEFAULT '[]'::jsonb,
    chronic_conditions JSONB NOT NULL DEFAULT '[]'::jsonb,
    primary_doctor_id UUID REFERENCES users(id) ON DELETE SET NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'active',
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    CONSTRAINT valid_patient_sex CHECK (sex IN ('male', 'female', 'other', 'unknown')),
    CONSTRAINT valid_blood_type CHECK (blood_type IS NULL OR blood_type IN ('A+', 'A-', 'B+', 'B-', 'AB+', 'AB-', 'O+', 'O-')),
    CONSTRAINT valid_patient_status CHECK (status IN ('active', 'inactive', 'deceased')),
    CONSTRAINT allergies_is_array CHECK (jsonb_typeof(allergies) = 'array'),
    CONSTRAINT chronic_conditions_is_array CHECK (jsonb_typeof(chronic_conditions) = 'array')
);

CREATE INDEX idx_patients_name ON patients(last_name, first_name);
CREATE INDEX idx_patients_primary_doctor ON patients(primary_doctor_id);
CREATE INDEX idx_patients_date_of_birth ON patients(date_of_birth);

CREATE TRIGGER update_patients_timestamp BEFORE UPDATE ON patients
FOR EACH ROW EXECUTE FUNCTION update_timestamp();

COMMENT ON TABLE patients IS 'Patients registered with the clinic: demographics and summary medical information';
COMMENT ON COLUMN patients.id IS 'Unique identifier for the patient';
COMMENT ON COLUMN patients.mrn IS 'Medical record number, unique across the system';
COMMENT ON COLUMN patients.first_name IS 'Given name';
COMMENT ON COLUMN patients.last_name IS 'Family name';
COMMENT ON COLUMN patients.date_of_birth IS 'Date of birth';
COMMENT ON COLUMN patients.sex IS 'male, female, other or unknown';
COMMENT ON COLUMN patients.phone IS 'Contact phone number';
COMMENT ON COLUMN patients.email IS 'Contact email address';
COMMENT ON COLUMN patients.address IS 'Postal address as JSON {line1, line2, city, state, postalCode, country}';
COMMENT ON COLUMN patients.emergency_contact IS 'Emergency contact as JSON {name, relationship, phone}';
COMMENT ON COLUMN patients.insurance_provider IS 'Name of the insurer';
COMMENT ON COLUMN patients.insurance_policy_number IS 'Policy or member number at the insurer';
COMMENT ON COLUMN patients.blood_type IS 'ABO/Rh blood type when known';
COMMENT ON COLUMN patients.allergies IS 'Known allergies as a JSON array of {substance, reaction, severity}';
COMMENT ON COLUMN patients.chronic_conditions IS 'Chronic conditions as a JSON array of {code, description, since}';
COMMENT ON COLUMN patients.primary_doctor_id IS 'Primary care doctor; set to NULL if that user is deleted';
COMMENT ON COLUMN patients.status IS 'active, inactive or deceased';
COMMENT ON COLUMN patients.created_at IS 'When the patient was registered';
COMMENT ON COLUMN patients.updated_at IS 'Last modification, maintained by the update_timestamp trigger';

-- ---------------------------------------------------------------------------------------
-- appointments
-- ---------------------------------------------------------------------------------------
CREATE TABLE appointments (
    id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
    patient_id UUID NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    doctor_id UUID NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
    patient_name VARCHAR(101) NOT NULL,
    start_time TIMESTAMP NOT NULL,
    end_time TIMESTAMP NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'scheduled',
    appointment_type VARCHAR(20) NOT NULL,
    reason VARCHAR(255),
    notes TEXT,
    booked_at TIMESTAMP NOT NULL,
    checked_in_at TIMESTAMP,
    cancelled_at TIMESTAMP,
    cancellation_reason VARCHAR(255),
    created_by UUID REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    CONSTRAINT valid_appointment_status CHECK (status IN ('scheduled', 'confirmed', 'checked_in', 'in_progress', 'completed', 'cancelled', 'no_show')),
    CONSTRAINT valid_appointment_type CHECK (appointment_type IN ('new_patient', 'follow_up', 'routine', 'urgent', 'procedure', 'telehealth')),
    CONSTRAINT appointment_ends_after_start CHECK (end_time > start_time),
    CONSTRAINT appointment_booked_before_start CHECK (booked_at <= start_time),
    CONSTRAINT cancelled_has_timestamp CHECK (status <> 'cancelled' OR cancelled_at IS NOT NULL)
);

CREATE INDEX idx_appointments_doctor_date ON appointments(doctor_id, DATE(start_time));
CREATE INDEX idx_appointments_patient_time ON appointments(patient_id, start_time DESC);
CREATE INDEX idx_appointments_start_time ON appointments(start_time);

CREATE TRIGGER update_appointments_timestamp BEFORE UPDATE ON appointments
FOR EACH ROW EXECUTE FUNCTION update_timestamp();

COMMENT ON TABLE appointments IS 'Scheduled meetings between a doctor and a patient';
COMMENT ON COLUMN appointments.id IS 'Unique identifier for the appointment';
COMMENT ON COLUMN appointments.patient_id IS 'Patient; appointments are deleted with the patient';
COMMENT ON COLUMN appointments.doctor_id IS 'Doctor; a doctor with appointments cannot be deleted';
COMMENT ON COLUMN appointments.patient_name IS 'Denormalised "first last" of the patient, so listings need no join (MVP-004 strategic denormalization)';
COMMENT ON COLUMN appointments.start_time IS 'Scheduled start, clinic-local time';
COMMENT ON COLUMN appointments.end_time IS 'Scheduled end, clinic-local time';
COMMENT ON COLUMN appointments.status IS 'scheduled, confirmed, checked_in, in_progress, completed, cancelled or no_show';
COMMENT ON COLUMN appointments.appointment_type IS 'new_patient, follow_up, routine, urgent, procedure or telehealth';
COMMENT ON COLUMN appointments.reason IS 'Reason for the visit as given when booking';
COMMENT ON COLUMN appointments.notes IS 'Free-text booking notes';
COMMENT ON COLUMN appointments.booked_at IS 'When the appointment was booked (never after start_time)';
COMMENT ON COLUMN appointments.checked_in_at IS 'When the patient checked in at the front desk';
COMMENT ON COLUMN appointments.cancelled_at IS 'When the appointment was cancelled';
COMMENT ON COLUMN appointments.cancellation_reason IS 'Why the appointment was cancelled';
COMMENT ON COLUMN appointments.created_by IS 'Staff member who booked it; NULL if that user is deleted';
COMMENT ON COLUMN appointments.created_at IS 'Row creation time';
COMMENT ON COLUMN appointments.updated_at IS 'Last modification, maintained by the update_timestamp trigger';

-- ---------------------------------------------------------------------------------------
-- encounters
-- ---------------------------------------------------------------------------------------
CREATE TABLE encounters (
    id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
    patient_id UUID NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    doctor_id UUID NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
    appointment_id UUID UNIQUE REFERENCES appointments(id) ON DELETE SET NULL,
    encounter_type VARCHAR(20) NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'in_progress',
    start_time TIMESTAMP NOT NULL,
    end_time TIMESTAMP,
    chief_complaint VARCHAR(255),
    diagnosis_codes TEXT[] NOT NULL DEFAULT '{}',
    vitals JSONB,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    CONSTRAINT valid_encounter_type CHECK (encounter_type IN ('office_visit', 'walk_in', 'telehealth', 'procedure', 'follow_up', 'emergency')),
    CONSTRAINT valid_encounter_status CHECK (status IN ('in_progress', 'completed', 'cancelled')),
    CONSTRAINT encounter_ends_after_start CHECK (end_time IS NULL OR end_time >= start_time),
    CONSTRAINT completed_encounter_has_end CHECK (status <> 'completed' OR end_time IS NOT NULL)
);

CREATE INDEX idx_encounters_patient_time ON encounters(patient_id, start_time DESC);
CREATE INDEX idx_encounters_doctor_time ON encounters(doctor_id, start_time DESC);

CREATE TRIGGER update_encounters_timestamp BEFORE UPDATE ON encounters
FOR EACH ROW EXECUTE FUNCTION update_timestamp();

COMMENT ON TABLE encounters IS 'Actual clinical visits or interactions between a doctor and a patient';
COMMENT ON COLUMN encounters.id IS 'Unique identifier for the encounter; clinicalNotes.encounterId holds it as a string';
COMMENT ON COLUMN encounters.patient_id IS 'Patient seen; encounters are deleted with the patient';
COMMENT ON COLUMN encounters.doctor_id IS 'Doctor who saw the patient; a doctor with encounters cannot be deleted';
COMMENT ON COLUMN encounters.appointment_id IS 'Appointment this visit fulfilled, NULL for walk-ins; at most one encounter per appointment';
COMMENT ON COLUMN encounters.encounter_type IS 'office_visit, walk_in, telehealth, procedure, follow_up or emergency';
COMMENT ON COLUMN encounters.status IS 'in_progress, completed or cancelled';
COMMENT ON COLUMN encounters.start_time IS 'When the encounter started (at or after the appointment start)';
COMMENT ON COLUMN encounters.end_time IS 'When the encounter ended; required once completed';
COMMENT ON COLUMN encounters.chief_complaint IS 'Chief complaint in the patient''s words';
COMMENT ON COLUMN encounters.diagnosis_codes IS 'ICD-10-CM diagnosis codes, primary first';
COMMENT ON COLUMN encounters.vitals IS 'Vital signs as JSON {systolic, diastolic, heartRate, temperatureC, respiratoryRate, spo2, weightKg, heightCm}';
COMMENT ON COLUMN encounters.created_at IS 'Row creation time';
COMMENT ON COLUMN encounters.updated_at IS 'Last modification, maintained by the update_timestamp trigger';

-- ---------------------------------------------------------------------------------------
-- prescriptions and prescription_items
-- ---------------------------------------------------------------------------------------
CREATE TABLE prescriptions (
    id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
    encounter_id UUID NOT NULL REFERENCES encounters(id) ON DELETE CASCADE,
    patient_id UUID NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    doctor_id UUID NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
    status VARCHAR(20) NOT NULL DEFAULT 'active',
    prescribed_at TIMESTAMP NOT NULL,
    notes TEXT,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    CONSTRAINT valid_prescription_status CHECK (status IN ('active', 'completed', 'cancelled', 'expired'))
);

CREATE INDEX idx_prescriptions_patient_time ON prescriptions(patient_id, prescribed_at DESC);
CREATE INDEX idx_prescriptions_encounter ON prescriptions(encounter_id);

CREATE TRIGGER update_prescriptions_timestamp BEFORE UPDATE ON prescriptions
FOR EACH ROW EXECUTE FUNCTION update_timestamp();

COMMENT ON TABLE prescriptions IS 'Medications prescribed to a patient during an encounter';
COMMENT ON COLUMN prescriptions.id IS 'Unique identifier for the prescription';
COMMENT ON COLUMN prescriptions.encounter_id IS 'Encounter it was written in; deleted with the encounter';
COMMENT ON COLUMN prescriptions.patient_id IS 'Patient (denormalised from the encounter for the patient timeline)';
COMMENT ON COLUMN prescriptions.doctor_id IS 'Prescribing doctor; a doctor with prescriptions cannot be deleted';
COMMENT ON COLUMN prescriptions.status IS 'active, completed, cancelled or expired';
COMMENT ON COLUMN prescriptions.prescribed_at IS 'When it was prescribed';
COMMENT ON COLUMN prescriptions.notes IS 'Notes to the pharmacist';
COMMENT ON COLUMN prescriptions.created_at IS 'Row creation time';
COMMENT ON COLUMN prescriptions.updated_at IS 'Last modification, maintained by the update_timestamp trigger';

CREATE TABLE prescription_items (
    id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
    prescription_id UUID NOT NULL REFERENCES prescriptions(id) ON DELETE CASCADE,
    drug_name VARCHAR(100) NOT NULL,
    dose VARCHAR(50) NOT NULL,
    route VARCHAR(20) NOT NULL,
    frequency VARCHAR(50) NOT NULL,
    duration_days INTEGER,
    quantity INTEGER NOT NULL,
    refills INTEGER NOT NULL DEFAULT 0,
    instructions TEXT,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    CONSTRAINT valid_route CHECK (route IN ('oral', 'intravenous', 'intramuscular', 'subcutaneous', 'topical', 'inhaled', 'sublingual', 'rectal', 'ophthalmic', 'otic', 'nasal', 'transdermal')),
    CONSTRAINT positive_duration CHECK (duration_days IS NULL OR duration_days > 0),
    CONSTRAINT positive_quantity CHECK (quantity > 0),
    CONSTRAINT non_negative_refills CHECK (refills >= 0)
);

CREATE INDEX idx_prescription_items_prescription ON prescription_items(prescription_id);

CREATE TRIGGER update_prescription_items_timestamp BEFORE UPDATE ON prescription_items
FOR EACH ROW EXECUTE FUNCTION update_timestamp();

COMMENT ON TABLE prescription_items IS 'One drug line of a prescription';
COMMENT ON COLUMN prescription_items.id IS 'Unique identifier for the item';
COMMENT ON COLUMN prescription_items.prescription_id IS 'Prescription it belongs to; deleted with it';
COMMENT ON COLUMN prescription_items.drug_name IS 'Generic drug name and strength form, e.g. "Amoxicillin"';
COMMENT ON COLUMN prescription_items.dose IS 'Dose per administration, e.g. "500 mg"';
COMMENT ON COLUMN prescription_items.route IS 'Route of administration (oral, topical, inhaled, ...)';
COMMENT ON COLUMN prescription_items.frequency IS 'How often, e.g. "twice daily"';
COMMENT ON COLUMN prescription_items.duration_days IS 'Course length in days; NULL for long-term medication';
COMMENT ON COLUMN prescription_items.quantity IS 'Units dispensed';
COMMENT ON COLUMN prescription_items.refills IS 'Refills allowed';
COMMENT ON COLUMN prescription_items.instructions IS 'Instructions to the patient';
COMMENT ON COLUMN prescription_items.created_at IS 'Row creation time';
COMMENT ON COLUMN prescription_items.updated_at IS 'Last modification, maintained by the update_timestamp trigger';

-- ---------------------------------------------------------------------------------------
-- orders and order_items
-- ---------------------------------------------------------------------------------------
CREATE TABLE orders (
    id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
    encounter_id UUID NOT NULL REFERENCES encounters(id) ON DELETE CASCADE,
    patient_id UUID NOT NULL REFERENCES patients(id) ON DELETE CASCADE,
    doctor_id UUID NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
    order_type VARCHAR(20) NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'ordered',
    priority VARCHAR(10) NOT NULL DEFAULT 'routine',
    ordered_at TIMESTAMP NOT NULL,
    completed_at TIMESTAMP,
    notes TEXT,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    CONSTRAINT valid_order_type CHECK (order_type IN ('lab', 'imaging')),
    CONSTRAINT valid_order_status CHECK (status IN ('ordered', 'in_progress', 'completed', 'cancelled')),
    CONSTRAINT valid_order_priority CHECK (priority IN ('routine', 'urgent', 'stat')),
    CONSTRAINT order_completed_after_ordered CHECK (completed_at IS NULL OR completed_at >= ordered_at)
);

CREATE INDEX idx_orders_patient_time ON orders(patient_id, ordered_at DESC);
CREATE INDEX idx_orders_encounter ON orders(encounter_id);
CREATE INDEX idx_orders_open ON orders(status, ordered_at) WHERE status IN ('ordered', 'in_progress');

CREATE TRIGGER update_orders_timestamp BEFORE UPDATE ON orders
FOR EACH ROW EXECUTE FUNCTION update_timestamp();

COMMENT ON TABLE orders IS 'Clinical orders such as lab tests or imaging, placed during an encounter';
COMMENT ON COLUMN orders.id IS 'Unique identifier for the order';
COMMENT ON COLUMN orders.encounter_id IS 'Encounter it was placed in; deleted with the encounter';
COMMENT ON COLUMN orders.patient_id IS 'Patient (denormalised from the encounter for the patient timeline)';
COMMENT ON COLUMN orders.doctor_id IS 'Ordering doctor; a doctor with orders cannot be deleted';
COMMENT ON COLUMN orders.order_type IS 'lab or imaging';
COMMENT ON COLUMN orders.status IS 'ordered, in_progress, completed or cancelled';
COMMENT ON COLUMN orders.priority IS 'routine, urgent or stat';
COMMENT ON COLUMN orders.ordered_at IS 'When the order was placed';
COMMENT ON COLUMN orders.completed_at IS 'When all results were in';
COMMENT ON COLUMN orders.notes IS 'Clinical notes for the lab or radiology';
COMMENT ON COLUMN orders.created_at IS 'Row creation time';
COMMENT ON COLUMN orders.updated_at IS 'Last modification, maintained by the update_timestamp trigger';

CREATE TABLE order_items (
    id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
    order_id UUID NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    code VARCHAR(20) NOT NULL,
    code_system VARCHAR(10) NOT NULL,
    description VARCHAR(200) NOT NULL,
    status VARCHAR(20) NOT NULL DEFAULT 'pending',
    result_value VARCHAR(100),
    result_unit VARCHAR(30),
    reference_range VARCHAR(50),
    abnormal_flag VARCHAR(10),
    resulted_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    CONSTRAINT valid_code_system CHECK (code_system IN ('LOINC', 'CPT')),
    CONSTRAINT valid_order_item_status CHECK (status IN ('pending', 'resulted', 'cancelled')),
    CONSTRAINT valid_abnormal_flag CHECK (abnormal_flag IS NULL OR abnormal_flag IN ('normal', 'low', 'high', 'critical')),
    CONSTRAINT resulted_item_has_time CHECK (status <> 'resulted' OR resulted_at IS NOT NULL)
);

CREATE INDEX idx_order_items_order ON order_items(order_id);

CREATE TRIGGER update_order_items_timestamp BEFORE UPDATE ON order_items
FOR EACH ROW EXECUTE FUNCTION update_timestamp();

COMMENT ON TABLE order_items IS 'One test or study of an order, with its result';
COMMENT ON COLUMN order_items.id IS 'Unique identifier for the item';
COMMENT ON COLUMN order_items.order_id IS 'Order it belongs to; deleted with it';
COMMENT ON COLUMN order_items.code IS 'LOINC code (lab) or CPT code (imaging)';
COMMENT ON COLUMN order_items.code_system IS 'LOINC or CPT';
COMMENT ON COLUMN order_items.description IS 'Human-readable name of the test or study';
COMMENT ON COLUMN order_items.status IS 'pending, resulted or cancelled';
COMMENT ON COLUMN order_items.result_value IS 'Result value as reported (numeric or text)';
COMMENT ON COLUMN order_items.result_unit IS 'Unit of the result value';
COMMENT ON COLUMN order_items.reference_range IS 'Reference range as reported by the lab';
COMMENT ON COLUMN order_items.abnormal_flag IS 'normal, low, high or critical';
COMMENT ON COLUMN order_items.resulted_at IS 'When the result was reported';
COMMENT ON COLUMN order_items.created_at IS 'Row creation time';
COMMENT ON COLUMN order_items.updated_at IS 'Last modification, maintained by the update_timestamp trigger';

-- ---------------------------------------------------------------------------------------
-- tasks
-- ---------------------------------------------------------------------------------------
CREATE TABLE tasks (
    id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
    assigned_to UUID NOT NULL REFERENCES users(id) ON DELETE RESTRICT,
    created_by UUID REFERENCES users(id) ON DELETE SET NULL,
    patient_id UUID REFERENCES patients(id) ON DELETE CASCADE,
    encounter_id UUID REFERENCES encounters(id) ON DELETE SET NULL,
    task_type VARCHAR(30) NOT NULL,
    title VARCHAR(200) NOT NULL,
    description TEXT,
    priority SMALLINT NOT NULL DEFAULT 2,
    status VARCHAR(20) NOT NULL DEFAULT 'pending',
    due_date DATE,
    completed_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    CONSTRAINT valid_task_type CHECK (task_type IN ('review_result', 'follow_up_call', 'refill_request', 'documentation', 'referral', 'administrative')),
    CONSTRAINT valid_task_priority CHECK (priority BETWEEN 1 AND 4),
    CONSTRAINT valid_task_status CHECK (status IN ('pending', 'in_progress', 'completed', 'cancelled')),
    CONSTRAINT completed_task_has_time CHECK (status <> 'completed' OR completed_at IS NOT NULL)
);

-- Serves the documented "pending tasks" query: WHERE assigned_to = ? AND status = 'pending'
-- ORDER BY priority DESC, due_date.
CREATE INDEX idx_tasks_pending ON tasks(assigned_to, priority DESC, due_date) WHERE status = 'pending';
CREATE INDEX idx_tasks_assignee_status ON tasks(assigned_to, status);
CREATE INDEX idx_tasks_patient ON tasks(patient_id) WHERE patient_id IS NOT NULL;

CREATE TRIGGER update_tasks_timestamp BEFORE UPDATE ON tasks
FOR EACH ROW EXECUTE FUNCTION update_timestamp();

COMMENT ON TABLE tasks IS 'Work items for users to complete';
COMMENT ON COLUMN tasks.id IS 'Unique identifier for the task';
COMMENT ON COLUMN tasks.assigned_to IS 'User who must do it; reassign tasks before deleting a user';
COMMENT ON COLUMN tasks.created_by IS 'User who created it, NULL for system-generated tasks';
COMMENT ON COLUMN tasks.patient_id IS 'Patient concerned, if any; deleted with the patient';
COMMENT ON COLUMN tasks.encounter_id IS 'Encounter that gave rise to it, if any';
COMMENT ON COLUMN tasks.task_type IS 'review_result, follow_up_call, refill_request, documentation, referral or administrative';
COMMENT ON COLUMN tasks.title IS 'Short title shown on the dashboard';
COMMENT ON COLUMN tasks.description IS 'Details';
COMMENT ON COLUMN tasks.priority IS '1 low, 2 normal, 3 high, 4 urgent (higher sorts first)';
COMMENT ON COLUMN tasks.status IS 'pending, in_progress, completed or cancelled';
COMMENT ON COLUMN tasks.due_date IS 'Day it is due';
COMMENT ON COLUMN tasks.completed_at IS 'When it was completed';
COMMENT ON COLUMN tasks.created_at IS 'Row creation time';
COMMENT ON COLUMN tasks.updated_at IS 'Last modification, maintained by the update_timestamp trigger';

-- ---------------------------------------------------------------------------------------
-- alerts
-- ---------------------------------------------------------------------------------------
CREATE TABLE alerts (
    id UUID PRIMARY KEY DEFAULT uuid_generate_v4(),
    recipient_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    patient_id UUID REFERENCES patients(id) ON DELETE CASCADE,
    order_item_id UUID REFERENCES order_items(id) ON DELETE SET NULL,
    alert_type VARCHAR(30) NOT NULL,
    severity VARCHAR(10) NOT NULL DEFAULT 'info',
    title VARCHAR(200) NOT NULL,
    message TEXT NOT NULL,
    is_read BOOLEAN NOT NULL DEFAULT FALSE,
    read_at TIMESTAMP,
    acknowledged_at TIMESTAMP,
    acknowledged_by UUID REFERENCES users(id) ON DELETE SET NULL,
    created_at TIMESTAMP NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP NOT NULL DEFAULT NOW(),
    CONSTRAINT valid_alert_type CHECK (alert_type IN ('critical_result', 'abnormal_result', 'drug_interaction', 'appointment_reminder', 'task_overdue', 'system')),
    CONSTRAINT valid_alert_severity CHECK (severity IN ('info', 'warning', 'critical')),
    CONSTRAINT read_alert_has_time CHECK (NOT is_read OR read_at IS NOT NULL)
);

CREATE INDEX idx_alerts_unread ON alerts(recipient_id, created_at DESC) WHERE NOT is_read;
CREATE INDEX idx_alerts_recipient_time ON alerts(recipient_id, created_at DESC);
CREATE INDEX idx_alerts_patient ON alerts(patient_id) WHERE patient_id IS NOT NULL;

CREATE TRIGGER update_alerts_timestamp BEFORE UPDATE ON alerts
FOR EACH ROW EXECUTE FUNCTION update_timestamp();

COMMENT ON TABLE alerts IS 'Notifications of important events for a user';
COMMENT ON COLUMN alerts.id IS 'Unique identifier for the alert';
COMMENT ON COLUMN alerts.recipient_id IS 'User notified; alerts are deleted with the user';
COMMENT ON COLUMN alerts.patient_id IS 'Patient concerned, if any; deleted with the patient';
COMMENT ON COLUMN alerts.order_item_id IS 'Result that raised it, for result alerts';
COMMENT ON COLUMN alerts.alert_type IS 'critical_result, abnormal_result, drug_interaction, appointment_reminder, task_overdue or system';
COMMENT ON COLUMN alerts.severity IS 'info, warning or critical';
COMMENT ON COLUMN alerts.title IS 'Short title';
COMMENT ON COLUMN alerts.message IS 'Full message';
COMMENT ON COLUMN alerts.is_read IS 'Whether the recipient has opened it';
COMMENT ON COLUMN alerts.read_at IS 'When it was first read';
COMMENT ON COLUMN alerts.acknowledged_at IS 'When it was acknowledged';
COMMENT ON COLUMN alerts.acknowledged_by IS 'Who acknowledged it';
COMMENT ON COLUMN alerts.created_at IS 'When it was raised';
COMMENT ON COLUMN alerts.updated_at IS 'Last modification, maintained by the update_timestamp trigger';
