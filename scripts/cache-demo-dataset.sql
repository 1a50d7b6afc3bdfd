-- A small dataset for trying the cache scenarios before the seeder is at hand: 40 doctors,
-- 4000 patients, 16 appointments a day per doctor from 10 days before to 20 days after
-- CURRENT_DATE (19,840 appointments). Apply to an empty, migrated database:
--   createdb ...; DATABASE_URL=... clinicload migrate; psql "$DATABASE_URL" -f scripts/cache-demo-dataset.sql
INSERT INTO users (username, email, full_name, role, specialty, password_hash)
SELECT 'dr' || i, 'dr' || i || '@example.org', 'Dr. Number ' || i, 'doctor', 'family_medicine', 'x'
FROM generate_series(1, 40) i;

INSERT INTO patients (mrn, first_name, last_name, date_of_birth, sex)
SELECT 'MRN' || i, 'First' || i, 'Last' || i, DATE '1960-01-01' + (i % 20000), 'unknown'
FROM generate_series(1, 4000) i;

INSERT INTO appointments (patient_id, doctor_id, patient_name, start_time, end_time, status,
                          appointment_type, reason, booked_at)
SELECT p.id, d.id, p.first_name || ' ' || p.last_name,
       t, t + INTERVAL '20 minutes', 'scheduled', 'routine', 'Routine visit', t - INTERVAL '14 days'
FROM (SELECT id, row_number() OVER (ORDER BY id) AS dn FROM users WHERE role = 'doctor') d
CROSS JOIN generate_series(-10, 20) day
CROSS JOIN generate_series(0, 15) slot
CROSS JOIN LATERAL (SELECT CURRENT_DATE + day + TIME '08:00' + slot * INTERVAL '30 minutes' AS t) ts
JOIN LATERAL (SELECT id, first_name, last_name FROM patients
              WHERE mrn = 'MRN' || (1 + ((d.dn * 977 + day * 131 + slot * 17 + 4000000) % 4000))) p ON true;

ANALYZE;
