SELECT s."id"::bigint AS _legacy_id, encode(set_byte(set_byte(s._uuid_h, 6, (get_byte(s._uuid_h, 6) & 15) | 128), 8, (get_byte(s._uuid_h, 8) & 63) | 128), 'hex')::uuid AS _uuid, (CASE WHEN (s."user_id" IS NULL OR r_profile IS NULL) THEN 'rejected' END) AS _outcome, (CASE WHEN (s."user_id" IS NULL OR r_profile IS NULL) THEN 'ORPHAN_PROFILE' END) AS _reason, (CASE WHEN (s."user_id" IS NULL OR r_profile IS NULL) THEN 'user_id=' || coalesce(s."user_id"::text, 'NULL') || ' has no migrated profiles row' END) AS _detail, s."_c_patient_number" AS "patient_number", s."_c_date_of_birth" AS "date_of_birth", s."_c_sex" AS "sex", s."_c_legacy_sex" AS "legacy_sex", s."_c_suffix" AS "suffix", s."_c_status" AS "status", s."_c_legacy_status" AS "legacy_status", s."_c_archived" AS "archived", s."_c_suspended" AS "suspended", s."_c_schemes" AS "schemes", s."_c_enrolled_at" AS "enrolled_at", s."_c_created_at" AS "created_at", s."_c_updated_at" AS "updated_at", r_profile AS "profile_id", r_doctor AS "doctor_id", s."doctor_id"::bigint AS "legacy_doctor_user_id", r_office AS "office_id", s."office_id"::bigint AS "legacy_office_id", coalesce((s.sex IS NOT NULL AND s.sex NOT IN (1, 2)), false) AS "_q_unknown_code_sex", coalesce((s.status IS NOT NULL AND s.status NOT IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)), false) AS "_q_unknown_code_status", coalesce((s."_c_schemes" IS NULL AND s.schemes IS NOT NULL), false) AS "_q_invalid_json_schemes", coalesce(false, false) AS "_q_python_literal_json_schemes", coalesce(s.birthdate < DATE '1901-01-01', false) AS "_q_placeholder_date_date_of_birth", coalesce(s.birthdate > now(), false) AS "_q_future_date_date_of_birth", coalesce((s."doctor_id" IS NOT NULL AND r_doctor IS NULL), false) AS "_q_missing_parent_doctor_id", coalesce((s."office_id" IS NOT NULL AND r_office IS NULL), false) AS "_q_missing_parent_office_id", CASE WHEN coalesce((s."_c_schemes" IS NULL AND s.schemes IS NOT NULL), false) THEN s."schemes" END AS "_raw_schemes", CASE WHEN coalesce((s.sex IS NOT NULL AND s.sex NOT IN (1, 2)), false) THEN s."sex" END AS "_raw_sex", CASE WHEN coalesce((s.status IS NOT NULL AND s.status NOT IN (1, 2, 3, 4, 5, 6, 7, 8, 9, 10)), false) THEN s."status" END AS "_raw_status"
FROM (SELECT s.*, CASE WHEN %(uuid_layout)s::smallint = 2 THEN s._uuid_prefix || substring(sha256(%(secret)s::bytea || convert_to(%(entity)s::text || ':' || (s."id")::bigint::text, 'UTF8'))
FROM 5 FOR 12) ELSE substring(sha256(%(secret)s::bytea || convert_to(%(entity)s::text || ':' || (s."id")::bigint::text, 'UTF8'))
FROM 1 FOR 16) END AS _uuid_h, (migration.padded_number('PAT-', s.id)) AS "_c_patient_number", (s.birthdate) AS "_c_date_of_birth", ((CASE s.sex WHEN 1 THEN 'male' WHEN 2 THEN 'female' ELSE 'unknown' END)::public.patient_sex) AS "_c_sex", ((CASE WHEN s.sex BETWEEN -32768 AND 32767 THEN s.sex::smallint END)) AS "_c_legacy_sex", (s.suffix) AS "_c_suffix", ((CASE s.status WHEN 1 THEN 'active' WHEN 2 THEN 'on_hold' WHEN 3 THEN 'in_treatment' WHEN 4 THEN 'active' WHEN 5 THEN 'retention' WHEN 6 THEN 'completed' WHEN 7 THEN 'cancelled' WHEN 8 THEN 'transferred' WHEN 9 THEN 'consultation' WHEN 10 THEN 'archived' ELSE 'unknown' END)::public.patient_status) AS "_c_status", ((CASE WHEN s.status BETWEEN -32768 AND 32767 THEN s.status::smallint END)) AS "_c_legacy_status", (coalesce(s.archived, false)) AS "_c_archived", (coalesce(s.suspended, false)) AS "_c_suspended", (migration.try_jsonb(s.schemes)) AS "_c_schemes", (s.submitted_at) AS "_c_enrolled_at", (s.submitted_at) AS "_c_created_at", (s.updated_at) AS "_c_updated_at"
FROM (SELECT st.*, m_profile.id AS r_profile, m_doctor.id AS r_doctor, m_office.id AS r_office, blk.prefix AS _uuid_prefix
FROM pg_temp.mdw_stage st
LEFT JOIN (SELECT m_profile_t.id, m_profile_t."legacy_user_id" AS legacy_id
FROM public."profiles" m_profile_t
WHERE NOT EXISTS (SELECT 1
FROM migration.pending_deletions q
WHERE q.entity = 'profiles' AND q.legacy_id = m_profile_t."legacy_user_id" AND NOT q.kept)) AS m_profile ON m_profile.legacy_id = st."user_id"
LEFT JOIN (SELECT m_doctor_t.id, m_doctor_t."legacy_user_id" AS legacy_id
FROM public."doctors" m_doctor_t
WHERE NOT EXISTS (SELECT 1
FROM migration.pending_deletions q
WHERE q.entity = 'doctors' AND q.legacy_id = m_doctor_t."legacy_user_id" AND NOT q.kept)) AS m_doctor ON m_doctor.legacy_id = st."doctor_id"
LEFT JOIN (SELECT m_office_t.id, m_office_t."legacy_office_id" AS legacy_id
FROM public."offices" m_office_t
WHERE NOT EXISTS (SELECT 1
FROM migration.pending_deletions q
WHERE q.entity = 'offices' AND q.legacy_id = m_office_t."legacy_office_id" AND NOT q.kept)) AS m_office ON m_office.legacy_id = st."office_id" 
LEFT JOIN (SELECT b.block, substring(sha256(%(secret)s::bytea || convert_to(%(entity)s::text || '#' || (b.block)::text, 'UTF8'))
FROM 1 FOR 4) AS prefix
FROM (SELECT DISTINCT (s0."id")::bigint >> 12 AS block
FROM pg_temp.mdw_stage s0) AS b) AS blk ON blk.block = (st."id")::bigint >> 12) AS s OFFSET 0) AS s
