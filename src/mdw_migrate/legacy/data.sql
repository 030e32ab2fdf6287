-- Loads the synthetic legacy database (tables from ddl.sql), entirely on the server.
--
-- Every value is derived from a hash of (seed, salt, row id) through the session helpers that
-- legacy/generator.py creates first (pg_temp.h, ri, chance, pick, spread, ts, money, n, ...):
-- no random(), so the same seed and scale give byte-identical data. Row counts come from
-- pg_temp.n('<table or derived key>'), computed by generator.py from the scale.
--
-- Quirk rows are placed with pg_temp.spread(id, n, k, salt): exactly k ids of 1..n, evenly
-- spaced, at seed-dependent positions, never two adjacent. Mutually exclusive quirks of one
-- column share one spread and are told apart by the special row's ordinal (spread_idx), so each
-- of them is present at every scale.
--
-- Dangling references point far beyond the referenced table (n + 100000 + id and the like).
--
-- The file is split on the step markers; generator.py runs the steps in order, in one
-- transaction. Salts (the first argument of the helpers) are unique per value drawn.

-- @step text_helpers
-- Word lists for synthetic people and texts: nothing here comes from real data.
CREATE FUNCTION pg_temp.first_name(salt integer, id bigint) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT pg_temp.pick(salt, id, ARRAY[
        'James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David',
        'Elizabeth', 'William', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas',
        'Sarah', 'Charles', 'Karen', 'Daniel', 'Nancy', 'Matthew', 'Betty', 'Anthony', 'Margaret',
        'Mark', 'Sandra', 'José', 'Zoë', 'Renée', 'François', 'Søren', 'Björn', 'Ana', 'Priya',
        'Arjun', 'Hiroshi', 'Yuki', 'Wei', 'Mei', 'Olumide', 'Fatima', 'Ahmed', 'Aarav', 'Sofía',
        'Łukasz', 'Chloé', '翔太', '美咲', '伟', '娜', '민준', '서연']) $$;

CREATE FUNCTION pg_temp.last_name(salt integer, id bigint) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT pg_temp.pick(salt, id, ARRAY[
        'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez',
        'Martinez', 'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor',
        'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez',
        'Clark', 'Ramirez', 'Lewis', 'Robinson', 'Walker', 'Young', 'Allen', 'King', 'Wright',
        'Scott', 'Nguyen', 'Hill', 'Flores', 'Green', 'Müller', 'Núñez', 'O''Brien', 'Gómez',
        'Patel', 'Sharma', 'Tanaka', 'Suzuki', 'Kim', 'Park', 'Østergaard', 'Dubois', '佐藤', '王',
        '김']) $$;

-- ASCII handle of a name for usernames and emails; translate() before lower() keeps the
-- result independent of the database's locale. Names with no Latin letter give 'user'.
CREATE FUNCTION pg_temp.handle(name text) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT coalesce(nullif(regexp_replace(lower(translate(name,
        'ÁÀÂÄÃÅÇÉÈÊËÍÌÎÏÑÓÒÔÖÕØÚÙÛÜÝŁŠŽáàâäãåçéèêëíìîïñóòôöõøúùûüýÿłšž',
        'AAAAAACEEEEIIIINOOOOOOUUUUYLSZaaaaaaceeeeiiiinoooooouuuuyylsz')), '[^a-z]', '', 'g'),
        ''), 'user') $$;

-- Free-text phrases of doctors and technicians: plain English, accents, emoji, CJK, and the
-- keywords the feedback rules look for (urgent, asap, immediately, complaint, question, praise).
CREATE FUNCTION pg_temp.phrase(salt integer, id bigint) RETURNS text
    LANGUAGE sql IMMUTABLE
    AS $$ SELECT pg_temp.pick(salt, id, ARRAY[
        'Please check the upper arch before printing.',
        'The patient is unhappy with the fit of the aligners.',
        'Aligner #7 cracked, please remake ASAP.',
        'URGENT: the bite registration looks wrong.',
        'Can you move 13 distally by 0.5 mm?',
        'Why was the attachment on 24 removed?',
        'Great result, thank you! 👍',
        'Excellent work as always 😊',
        'Merci, très bien – résultat parfait.',
        'Bitte Überkorrektur der Rotation an 23.',
        'Necesita corrección inmediata, por favor.',
        '上顎の前歯にIPRは不要です。',
        '请确认下颌中线。',
        '환자가 통증을 호소합니다.',
        'Approved.',
        'Please call the office immediately.',
        'See attached photos 📷',
        'IPR 0.3 mm between 32-33 and 42-43.',
        'No changes needed.',
        'Patient moved to another city; transfer the case.',
        'Refinement requested after stage 14.',
        'Is the lower midline correct?',
        'Scans re-uploaded, the previous ones were distorted.',
        'Thanks for the quick turnaround!']) $$;

-- @step django_content_type
-- 60 content types. Ids differ on purpose from production (where 11 is dispatch.patient and
-- 58 is auth.user): the migration must resolve content types by (app_label, model).
INSERT INTO django_content_type (id, app_label, model)
SELECT t.ord, split_part(t.name, '.', 1), split_part(t.name, '.', 2)
FROM unnest(ARRAY[
    'admin.logentry', 'auth.permission', 'auth.group', 'auth.user', 'contenttypes.contenttype',
    'sessions.session', 'authtoken.token', 'authtoken.tokenproxy', 'sites.site',
    'dispatch.office', 'dispatch.agent', 'dispatch.course', 'dispatch.product',
    'dispatch.category', 'dispatch.template', 'dispatch.role', 'dispatch.globalsetting',
    'dispatch.doctorsetting', 'dispatch.usersetting', 'dispatch.jaw', 'dispatch.patient',
    'dispatch.state', 'dispatch.project', 'dispatch.bracket', 'dispatch.instruction',
    'dispatch.plan', 'dispatch.task', 'dispatch.file', 'dispatch.record', 'dispatch.comment',
    'dispatch.note', 'dispatch.notification', 'dispatch.payment', 'dispatch.operation',
    'dispatch.order', 'dispatch.purchase', 'dispatch.offer', 'dispatch.discount',
    'dispatch.action', 'dispatch.client', 'dispatch.client3d', 'dispatch.event',
    'dispatch.instance', 'dispatch.language', 'dispatch.link', 'dispatch.master',
    'dispatch.reading', 'dispatch.storage', 'dispatch.ware',
    -- models deleted long ago whose content types stayed behind
    'dispatch.scan', 'dispatch.message',
    'django_celery_beat.periodictask', 'django_celery_beat.crontabschedule',
    'django_celery_beat.intervalschedule', 'django_celery_beat.periodictasks',
    'django_celery_beat.solarschedule', 'django_celery_beat.clockedschedule',
    'django_celery_results.taskresult', 'django_celery_results.groupresult',
    'django_celery_results.chordcounter'
]) WITH ORDINALITY AS t(name, ord);

-- The content type ids the polymorphic columns need, looked up by (app_label, model).
CREATE TEMP TABLE ct ON COMMIT DROP AS
SELECT max(id) FILTER (WHERE app_label = 'dispatch' AND model = 'patient') AS patient,
       max(id) FILTER (WHERE app_label = 'auth' AND model = 'user') AS usr,
       max(id) FILTER (WHERE app_label = 'dispatch' AND model = 'instruction') AS instruction,
       max(id) FILTER (WHERE app_label = 'dispatch' AND model = 'plan') AS plan,
       max(id) FILTER (WHERE app_label = 'dispatch' AND model = 'file') AS file,
       max(id) FILTER (WHERE app_label = 'dispatch' AND model = 'payment') AS payment,
       max(id) FILTER (WHERE app_label = 'dispatch' AND model = 'task') AS task
FROM django_content_type;

-- @step auth_group
-- The 11 group names in use (the volume table says 10 rows; the spec lists 11 names).
INSERT INTO auth_group (id, name)
SELECT t.ord, t.name
FROM unnest(ARRAY['Patient', 'Doctor', 'Technician', 'Administrator', 'Master', 'Billing',
                  'Medical', 'Export', 'External Partners', 'Sales', 'Support'])
     WITH ORDINALITY AS t(name, ord);

-- @step auth_permission
-- Django's four permissions per content type (240) plus four custom ones for 40 dispatch
-- models (160): 400.
INSERT INTO auth_permission (id, name, content_type_id, codename)
SELECT row_number() OVER (ORDER BY p.kind, p.ct_id, p.ord), 'Can ' || p.verb || ' ' || p.model,
       p.ct_id, p.verb || '_' || p.model
FROM (
    SELECT 1 AS kind, c.id AS ct_id, c.model, v.verb, v.ord
    FROM django_content_type c
    CROSS JOIN unnest(ARRAY['add', 'change', 'delete', 'view']) WITH ORDINALITY AS v(verb, ord)
    UNION ALL
    SELECT 2, c.id, c.model, v.verb, v.ord
    FROM (SELECT id, model FROM django_content_type WHERE app_label = 'dispatch'
          ORDER BY id LIMIT 40) c
    CROSS JOIN unnest(ARRAY['approve', 'export', 'assign', 'review']) WITH ORDINALITY AS v(verb, ord)
) p;

-- @step user_plan
-- Who each user is. Staff take ids 1..staff and cycle through a 22-slot pattern, so every
-- group (and the three kinds of group-less staff) is present from the minimum scale on:
-- slot 10 is a group-less superuser, 19 a group-less is_staff user, 21 a group-less plain user.
-- Doctors and patient-users are interleaved evenly over the remaining ids; k is the ordinal
-- within the kind (doctor k, patient-user k).
CREATE TEMP TABLE tmp_user ON COMMIT DROP AS
WITH staff AS (
    SELECT g AS id, (g - 1) % 22 + 1 AS slot, g AS k
    FROM generate_series(1, pg_temp.n('staff')) g
), others AS (
    SELECT pg_temp.n('staff') + j AS id, j,
           (j * pg_temp.n('doctors')) / pg_temp.n('nonstaff') AS d_upto,
           ((j - 1) * pg_temp.n('doctors')) / pg_temp.n('nonstaff') AS d_before
    FROM generate_series(1, pg_temp.n('nonstaff')) j
), kinds AS (
    SELECT id, 'staff'::text AS kind, k, slot,
           (ARRAY['Administrator', 'Technician', 'Technician', 'Master', 'Technician', 'Billing',
                  'Technician', 'Medical', 'Technician', NULL, 'Technician', 'Export',
                  'Technician', 'External Partners', 'Technician', 'Sales', 'Technician',
                  'Support', NULL, 'Technician', NULL, 'Technician'])[slot] AS grp
    FROM staff
    UNION ALL
    SELECT id, CASE WHEN d_upto > d_before THEN 'doctor' ELSE 'patient' END,
           CASE WHEN d_upto > d_before THEN d_upto ELSE j - d_upto END, NULL, NULL
    FROM others
)
SELECT id, kind, k, slot,
       CASE
           WHEN kind = 'staff' THEN grp
           -- a few doctors in no group: they are doctors only through their doctorsetting row
           WHEN kind = 'doctor' AND k <= pg_temp.n('dispatch_doctorsetting')
                AND pg_temp.spread(k, pg_temp.n('dispatch_doctorsetting'),
                                   pg_temp.n('nogroup_doctors'), 1) THEN NULL
           WHEN kind = 'doctor' THEN 'Doctor'
           WHEN pg_temp.spread(k, pg_temp.n('patient_users'), pg_temp.n('nogroup_patients'), 2)
               THEN NULL
           ELSE 'Patient'
       END AS grp
FROM kinds;
ANALYZE tmp_user;

-- Users of a kind are picked by arithmetic rather than from an id array in a table: such an
-- array is TOASTed once it passes 2 KB, and reading it detoasts it for every row (the doctor
-- array made the notification load four times slower at scale 1). Doctor k sits at the first non-staff position j with floor(j * doctors / nonstaff) >= k.
CREATE FUNCTION pg_temp.doctor(k bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT pg_temp.n('staff')
                 + (k * pg_temp.n('nonstaff') + pg_temp.n('doctors') - 1) / pg_temp.n('doctors') $$;
CREATE FUNCTION pg_temp.any_doctor(salt integer, id bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT pg_temp.doctor(1 + pg_temp.ri(salt, id, pg_temp.n('doctors'))) $$;
-- Staff are users 1..staff; technician k is found through the 22-slot pattern above.
CREATE FUNCTION pg_temp.any_staff(salt integer, id bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT 1 + pg_temp.ri(salt, id, pg_temp.n('staff')) $$;
CREATE FUNCTION pg_temp.technician(k bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT (k - 1) / 11 * 22
                 + (ARRAY[2, 3, 5, 7, 9, 11, 13, 15, 17, 20, 22])[(k - 1) % 11 + 1] $$;
CREATE FUNCTION pg_temp.any_technician(salt integer, id bigint) RETURNS bigint
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    AS $$ SELECT pg_temp.technician(1 + pg_temp.ri(salt, id, pg_temp.n('technicians'))) $$;
-- Self-checks: the arithmetic must agree with the plan.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM tmp_user WHERE kind = 'doctor' AND id <> pg_temp.doctor(k))
       OR (SELECT count(*) FROM tmp_user WHERE kind = 'doctor') <> pg_temp.n('doctors') THEN
        RAISE EXCEPTION 'pg_temp.doctor() disagrees with the user plan';
    END IF;
    IF (SELECT array_agg(id ORDER BY id) FROM tmp_user WHERE grp = 'Technician')
       <> (SELECT array_agg(pg_temp.technician(k) ORDER BY k)
           FROM generate_series(1, pg_temp.n('technicians')) k) THEN
        RAISE EXCEPTION 'pg_temp.technician() disagrees with the user plan';
    END IF;
END $$;

-- Id pools of the small groups, for the small tables: pick(salt, id, pool.ids).
CREATE TEMP TABLE pool ON COMMIT DROP AS
SELECT 'technician' AS name, array_agg(id ORDER BY id) AS ids FROM tmp_user WHERE grp = 'Technician'
UNION ALL
SELECT 'master', array_agg(id ORDER BY id) FROM tmp_user WHERE grp = 'Master'
UNION ALL
SELECT 'sales', array_agg(id ORDER BY id) FROM tmp_user WHERE grp = 'Sales'
UNION ALL
SELECT 'admin', array_agg(id ORDER BY id) FROM tmp_user WHERE grp = 'Administrator'
UNION ALL
-- staff who are not doctors, named as a patient's doctor by a few patients
SELECT 'nondoctor', array_agg(id ORDER BY id) FROM tmp_user WHERE grp IN ('Support', 'Medical');

-- @step auth_user
-- Email quirks share one spread (never two adjacent ids), told apart by ordinal:
-- 0,1 duplicate of the previous user's email in another case; 2 test/demo account;
-- 3 invalid syntax; 4 valid but with surrounding spaces and mixed case.
INSERT INTO auth_user (id, password, last_login, is_superuser, username, first_name, last_name,
                       email, is_staff, is_active, date_joined)
WITH base AS (
    SELECT u.id, u.kind, u.slot,
           pg_temp.first_name(11, u.id) AS first_name,
           pg_temp.last_name(12, u.id) AS last_name,
           pg_temp.ts(13, u.id, pg_temp.n('auth_user')) AS joined,
           pg_temp.spread_idx(u.id, pg_temp.n('auth_user'), pg_temp.n('email_quirks'), 14) AS q,
           pg_temp.pick(15, u.id, ARRAY['example.com', 'example.org', 'example.net',
                                        'mail.example.com', 'clinic.example']) AS domain
    FROM tmp_user u
), named AS (
    SELECT b.*,
           pg_temp.handle(first_name) || '.' || pg_temp.handle(last_name) || id AS handle,
           CASE WHEN q > 0 AND q % 5 = 2 THEN id % 2 = 1 END AS is_demo
    FROM base b
), emailed AS (
    SELECT n.*,
           CASE
               WHEN q > 0 AND q % 5 = 2 AND is_demo THEN 'demo' || id || '@example.org'
               WHEN q > 0 AND q % 5 = 2 THEN 'test+' || id || '@example.com'
               WHEN q > 0 AND q % 5 = 3 THEN (ARRAY[
                   'no-at-sign.' || id || '.example.com',
                   '  spaced ' || id || ' @example.com',
                   '',
                   'double' || id || '@@example.com'])[(q / 5) % 4 + 1]
               WHEN q > 0 AND q % 5 = 4 THEN ' ' || initcap(handle) || '@' || upper(domain) || '  '
               ELSE handle || '@' || domain
           END AS email1
    FROM named n
)
SELECT id,
       CASE
           WHEN kind = 'patient' AND pg_temp.chance(16, id, 15)
               -- Django's unusable password: '!' and 40 random characters
               THEN '!' || substr(md5(pg_temp.h(17, id)::text) || md5(pg_temp.h(18, id)::text), 1, 40)
           ELSE 'pbkdf2_sha256$' || CASE WHEN pg_temp.chance(19, id, 30) THEN '260000' ELSE '600000' END
                || '$' || substr(md5(pg_temp.h(20, id)::text), 1, 22) || '$'
                || encode(sha256(convert_to(pg_temp.h(21, id)::text, 'UTF8')), 'base64')
       END,
       CASE WHEN pg_temp.chance(22, id, 25) THEN NULL
            ELSE joined + interval '1 second' * pg_temp.ri(23, id, 86400 * 400) END,
       coalesce(slot IN (1, 10), false),
       CASE WHEN q > 0 AND q % 5 = 2 AND is_demo THEN 'demo_' || id
            WHEN q > 0 AND q % 5 = 2 THEN 'test_' || id
            ELSE handle END,
       CASE WHEN is_demo THEN 'Demo'
            WHEN pg_temp.spread(id, pg_temp.n('auth_user'), greatest(1, pg_temp.n('auth_user') / 300), 24)
                THEN ''
            ELSE first_name END,
       CASE WHEN is_demo THEN 'Account'
            WHEN pg_temp.spread(id, pg_temp.n('auth_user'), greatest(1, pg_temp.n('auth_user') / 300), 25)
                THEN ''
            ELSE last_name END,
       CASE WHEN q > 0 AND q % 5 IN (0, 1) AND lag(email1) OVER w IS NOT NULL
                THEN initcap(lag(email1) OVER w)
            ELSE email1 END,
       kind = 'staff' AND slot <> 21,
       NOT pg_temp.chance(26, id, 4) OR coalesce(slot IN (1, 10), false),
       joined
FROM emailed
WINDOW w AS (ORDER BY id);

-- @step auth_user_groups
-- One row per grouped user for its primary group, then secondary groups for doctors and staff
-- (ranked by hash) until the table reaches its planned size.
INSERT INTO auth_user_groups (id, user_id, group_id)
WITH prim AS (
    SELECT id AS user_id, grp, 0 AS extra FROM tmp_user WHERE grp IS NOT NULL
), elig AS (
    SELECT id, kind, grp,
           CASE WHEN kind = 'doctor'
                THEN pg_temp.pick(31, id, ARRAY['Medical', 'External Partners', 'Sales', 'Billing',
                                                'Support', 'Export'])
                ELSE pg_temp.pick(32, id, ARRAY['Support', 'Medical', 'Export', 'Billing', 'Master',
                                                'Administrator'])
           END AS second,
           row_number() OVER (ORDER BY pg_temp.h(33, id), id) AS r
    FROM tmp_user
    WHERE grp IS NOT NULL AND kind IN ('doctor', 'staff')
), extra AS (
    SELECT id AS user_id,
           CASE WHEN second <> grp THEN second
                WHEN grp = 'Support' THEN 'Medical'
                ELSE 'Support' END AS grp,
           1 AS extra
    FROM elig
    WHERE r <= pg_temp.n('auth_user_groups') - (SELECT count(*) FROM prim)
), all_rows AS (
    SELECT * FROM prim UNION ALL SELECT * FROM extra
)
SELECT row_number() OVER (ORDER BY r.user_id, r.extra), r.user_id, g.id
FROM all_rows r
JOIN auth_group g ON g.name = r.grp;

-- @step dispatch_office
-- Countries: the first 24 offices cycle through every spelling (and NULL, and one unknown),
-- the rest are drawn from a list weighted towards the USA. A few offices have messy
-- whitespace in name, address and phone (the migration trims and collapses it).
INSERT INTO dispatch_office (id, name, address, apt, city, state, zip, country, phone, tax_rate,
                             valid, sq_customer_id, emails)
WITH o AS (
    SELECT g AS id, pg_temp.ri(41, g, 12) + 1 AS place,
           pg_temp.spread(g, pg_temp.n('dispatch_office'),
                          greatest(1, pg_temp.n('dispatch_office') / 40), 42) AS messy,
           pg_temp.pick(43, g, ARRAY['Bright', 'Smile', 'Family', 'Downtown', 'Lakeside',
                                     'Sunrise', 'Premier', 'Gentle', 'Harbor', 'Summit', 'Oak',
                                     'Maple']) AS n1,
           pg_temp.pick(44, g, ARRAY['Orthodontics', 'Dental', 'Dental Care', 'Smiles',
                                     'Ortho Studio', 'Dentistry', 'Clinic']) AS n2,
           (10 + pg_temp.ri(45, g, 9990))::text AS street_no,
           pg_temp.pick(46, g, ARRAY['Main', 'Oak', 'Pine', 'Maple', 'Cedar', 'Elm', 'Lake',
                                     'Hill', 'Park', 'Washington']) AS street,
           pg_temp.pick(47, g, ARRAY['St', 'Ave', 'Blvd', 'Rd', 'Dr']) AS street_kind,
           '(555) 01' || pg_temp.ri(48, g, 10) || '-'
               || lpad(pg_temp.ri(49, g, 10000)::text, 4, '0') AS phone
    FROM generate_series(1, pg_temp.n('dispatch_office')) g
)
SELECT id,
       CASE WHEN messy THEN '  ' || n1 || '   ' || n2 || ' ' ELSE n1 || ' ' || n2 END,
       CASE WHEN messy THEN street_no || '  ' || street || '   ' || street_kind || ' '
            ELSE street_no || ' ' || street || ' ' || street_kind END,
       CASE WHEN pg_temp.chance(50, id, 30) THEN 'Suite ' || (100 + pg_temp.ri(51, id, 900)) ELSE '' END,
       (ARRAY['Springfield', 'Riverside', 'Fairview', 'Madison', 'Georgetown', 'Mumbai',
              'Osaka', 'Toronto', 'London', 'Berlin', 'Monterrey', 'Salem'])[place],
       (ARRAY['IL', 'CA', 'TX', 'WI', 'DC', 'MH', 'Osaka', 'ON', '', 'BE', 'NL', 'OR'])[place],
       CASE WHEN pg_temp.chance(52, id, 5) THEN ''
            ELSE lpad((10000 + pg_temp.ri(53, id, 89999))::text, 5, '0') END,
       CASE WHEN id <= 24 THEN (ARRAY[
                'USA', 'us', 'United States', 'U.S.A.', 'usa ', 'America', 'India', 'IN',
                'Japan', 'JP', 'Canada', 'UK', 'United Kingdom', 'Germany', 'Deutschland',
                'Mexico', 'Atlantis', NULL, 'USA', 'United States', 'us', 'India', 'USA',
                NULL])[id]
            ELSE (ARRAY[
                'USA', 'USA', 'USA', 'USA', 'USA', 'United States', 'United States', 'us',
                'U.S.A.', 'Canada', 'Canada', 'India', 'Japan', 'Mexico', 'UK', 'Germany',
                NULL, NULL, 'USA', 'United States'])[pg_temp.ri(54, id, 20) + 1]
       END,
       CASE WHEN messy THEN ' ' || replace(phone, ' ', '   ') || ' ' ELSE phone END,
       pg_temp.pick(55, id, ARRAY[0.0000, 6.2500, 7.2500, 8.8750, 10.2500, 18.0000, 8.0000,
                                  19.0000, 13.0000, 10.0000]::numeric[]),
       NOT pg_temp.chance(56, id, 8),
       CASE WHEN pg_temp.chance(57, id, 60)
            THEN 'SQ' || upper(substr(md5(pg_temp.h(58, id)::text), 1, 24)) ELSE '' END,
       pg_temp.chance(59, id, 85)
FROM o;

-- @step dispatch_office_doctors
-- Base links (one per doctor, doctors spread over all ordinals), then second offices of some
-- doctors, repeated (user, office) pairs, and links whose user or office does not exist.
INSERT INTO dispatch_office_doctors (id, office_id, user_id)
WITH base AS (
    SELECT r, pg_temp.doctor(pg_temp.slot(61, r, pg_temp.n('doctors'), pg_temp.n('od_base'))) AS user_id,
           1 + pg_temp.ri(62, r, pg_temp.n('dispatch_office')) AS office_id
    FROM generate_series(1, pg_temp.n('od_base')) r
), extra AS (
    SELECT r, r - pg_temp.n('od_base') AS e
    FROM generate_series(pg_temp.n('od_base') + 1, pg_temp.n('dispatch_office_doctors')) r
), extra_kind AS (
    SELECT r, e,
           CASE WHEN e <= pg_temp.n('od_second') THEN 'second'
                WHEN e <= pg_temp.n('od_second') + pg_temp.n('od_dup') THEN 'dup'
                WHEN e <= pg_temp.n('od_second') + pg_temp.n('od_dup') + pg_temp.n('od_user_missing')
                    THEN 'user_missing'
                ELSE 'office_missing' END AS kind
    FROM extra
)
SELECT r, office_id, user_id FROM base
UNION ALL
SELECT x.r,
       CASE x.kind
           WHEN 'second' THEN (b.office_id + pg_temp.ri(63, x.r, pg_temp.n('dispatch_office') - 1))
                              % pg_temp.n('dispatch_office') + 1
           WHEN 'dup' THEN b.office_id
           WHEN 'user_missing' THEN 1 + pg_temp.ri(64, x.r, pg_temp.n('dispatch_office'))
           ELSE pg_temp.n('dispatch_office') + 100000 + x.r
       END,
       CASE x.kind
           WHEN 'user_missing' THEN pg_temp.n('auth_user') + 100000 + x.r
           ELSE b.user_id
       END
FROM extra_kind x
JOIN base b ON b.r = pg_temp.slot(65, x.e, pg_temp.n('od_base'), pg_temp.n('od_extra'));

-- @step dispatch_doctorsetting
-- Doctor ordinals 1..n have a settings row (the group-less doctors are among them).
INSERT INTO dispatch_doctorsetting (id, user_id, clinical_preferences, sq_customer_id,
                                    promised_payment, credit, tier_type, tier_finish,
                                    installment_payments, baa_agreed_at, eula_agreed_at,
                                    company_account)
SELECT g, pg_temp.doctor(g),
       CASE WHEN pg_temp.chance(71, g, 30) THEN '' ELSE pg_temp.phrase(72, g) END,
       CASE WHEN pg_temp.chance(73, g, 55)
            THEN 'SQ' || upper(substr(md5(pg_temp.h(74, g)::text), 1, 24)) ELSE '' END,
       pg_temp.chance(75, g, 10),
       CASE WHEN pg_temp.chance(76, g, 80) THEN 0.00 ELSE pg_temp.money(77, g, 1000, 250000) END,
       pg_temp.ri(78, g, 4)::integer,
       CASE WHEN pg_temp.chance(79, g, 30) THEN date '2020-01-01' + pg_temp.ri(80, g, 2500)::integer END,
       pg_temp.chance(81, g, 20),
       CASE WHEN pg_temp.chance(82, g, 60) THEN pg_temp.ts(83, g, pg_temp.n('dispatch_doctorsetting')) END,
       CASE WHEN pg_temp.chance(84, g, 80) THEN pg_temp.ts(85, g, pg_temp.n('dispatch_doctorsetting')) END,
       pg_temp.chance(86, g, 8)
FROM generate_series(1, pg_temp.n('dispatch_doctorsetting')) g;

-- @step dispatch_doctorsetting_m2m
INSERT INTO dispatch_doctorsetting_masters (id, doctorsetting_id, user_id)
SELECT r, pg_temp.slot(91, r, pg_temp.n('dispatch_doctorsetting'),
                       pg_temp.n('dispatch_doctorsetting_masters')),
       pg_temp.pick(92, r, m.ids)
FROM generate_series(1, pg_temp.n('dispatch_doctorsetting_masters')) r
CROSS JOIN (SELECT ids FROM pool WHERE name = 'master') m;

INSERT INTO dispatch_doctorsetting_sales (id, doctorsetting_id, user_id)
SELECT r, pg_temp.slot(93, r, pg_temp.n('dispatch_doctorsetting'),
                       pg_temp.n('dispatch_doctorsetting_sales')),
       pg_temp.any_staff(94, r)
FROM generate_series(1, pg_temp.n('dispatch_doctorsetting_sales')) r
CROSS JOIN (SELECT ids FROM pool WHERE name = 'sales') s;

INSERT INTO dispatch_usersetting (id, user_id, language_id, timezone)
SELECT r, pg_temp.slot(95, r, pg_temp.n('auth_user'), pg_temp.n('dispatch_usersetting')),
       CASE WHEN pg_temp.chance(96, r, 20) THEN NULL ELSE 1 + pg_temp.ri(97, r, 12) END,
       pg_temp.pick(98, r, ARRAY['America/New_York', 'America/Chicago', 'America/Los_Angeles',
                                 'Asia/Kolkata', 'Asia/Tokyo', 'Europe/Berlin', 'UTC', ''])
FROM generate_series(1, pg_temp.n('dispatch_usersetting')) r;

INSERT INTO dispatch_agent (id, user_id, name) VALUES (1, 1, 'System'), (2, 2, 'Notifier');

-- @step dispatch_patient
-- user_id: the patient-users in order; a few patients name a user that does not exist.
-- doctor_id: a doctor's user id; a few name no user, a few a staff user outside group Doctor.
-- office_id: the doctor's first office when there is one.
INSERT INTO dispatch_patient (id, user_id, doctor_id, office_id, birthdate, sex, suffix,
                              archived, suspended, status, schemes, submitted_at, updated_at)
WITH p AS (
    SELECT g AS id,
           pg_temp.spread(g, pg_temp.n('dispatch_patient'), pg_temp.n('patient_user_missing'), 101)
               AS user_missing
    FROM generate_series(1, pg_temp.n('dispatch_patient')) g
), pk AS (
    SELECT id, user_missing, row_number() OVER (PARTITION BY user_missing ORDER BY id) AS k,
           pg_temp.ts(102, id, pg_temp.n('dispatch_patient')) AS submitted,
           pg_temp.spread_idx(id, pg_temp.n('dispatch_patient'),
                              greatest(2, pg_temp.n('dispatch_patient') / 1000), 103) AS dq
    FROM p
), doc_office AS (
    SELECT DISTINCT ON (user_id) user_id, office_id
    FROM dispatch_office_doctors ORDER BY user_id, id
), pd AS (
    SELECT pk.*,
           -- doctor quirks by ordinal: odd, a user that does not exist; even, a staff user
           -- outside group Doctor
           CASE
               WHEN dq > 0 AND dq % 2 = 1 THEN pg_temp.n('auth_user') + 200000 + id
               WHEN dq > 0 THEN pg_temp.pick(105, id, nd.ids)
               ELSE pg_temp.any_doctor(106, id)
           END AS doctor_id,
           -- schemes quirks by ordinal: a Python literal, garbage, NULL (NULL also by chance)
           pg_temp.spread_idx(id, pg_temp.n('dispatch_patient'),
                              greatest(6, pg_temp.n('dispatch_patient') / 85), 107) AS sq,
           -- sex quirks by ordinal: NULL (also by chance), 0, 3
           pg_temp.spread_idx(id, pg_temp.n('dispatch_patient'),
                              greatest(3, pg_temp.n('dispatch_patient') / 1000), 108) AS sexq,
           -- birthdate quirks by ordinal: the 1900 placeholder, NULL (also by chance)
           pg_temp.spread_idx(id, pg_temp.n('dispatch_patient'),
                              greatest(2, pg_temp.n('dispatch_patient') / 500), 113) AS bq,
           pg_temp.spread_idx(id, pg_temp.n('dispatch_patient'),
                              greatest(2, pg_temp.n('dispatch_patient') / 50), 109) AS sufq
    FROM pk
    CROSS JOIN (SELECT ids FROM pool WHERE name = 'nondoctor') nd
)
SELECT pd.id,
       CASE WHEN pd.user_missing THEN pg_temp.n('auth_user') + 100000 + pd.id ELSE pu.id END,
       pd.doctor_id,
       CASE
           WHEN pg_temp.spread(pd.id, pg_temp.n('dispatch_patient'), 1, 110)
               THEN pg_temp.n('dispatch_office') + 100000 + pd.id
           WHEN pg_temp.chance(111, pd.id, 8) THEN NULL
           ELSE coalesce(o.office_id, 1 + pg_temp.ri(112, pd.id, pg_temp.n('dispatch_office')))
       END,
       CASE
           WHEN pd.bq > 0 AND pd.bq % 2 = 1 THEN date '1900-01-01'
           WHEN pd.bq > 0 OR pg_temp.chance(114, pd.id, 5) THEN NULL
           ELSE date '1940-01-01' + pg_temp.ri(115, pd.id, 27000)::integer
       END,
       CASE
           WHEN pd.sexq > 0 THEN (ARRAY[NULL, 0, 3])[pd.sexq % 3 + 1]
           WHEN pg_temp.chance(116, pd.id, 4) THEN NULL
           ELSE 1 + pg_temp.ri(117, pd.id, 2)::integer
       END,
       CASE
           WHEN pd.sufq > 0 AND pd.sufq % 2 = 1 THEN NULL
           WHEN pd.sufq > 0 THEN ''
           ELSE lpad(pg_temp.ri(118, pd.id, 100)::text, 2, '0')
                || chr(65 + pg_temp.ri(119, pd.id, 26)::integer)
                || chr(65 + pg_temp.ri(120, pd.id, 26)::integer)
       END,
       pg_temp.spread(pd.id, pg_temp.n('dispatch_patient'),
                      greatest(1, pg_temp.n('dispatch_patient') / 12), 121),
       pg_temp.spread(pd.id, pg_temp.n('dispatch_patient'),
                      greatest(1, pg_temp.n('dispatch_patient') / 40), 122),
       CASE
           WHEN pg_temp.spread(pd.id, pg_temp.n('dispatch_patient'),
                               greatest(1, pg_temp.n('dispatch_patient') / 2000), 123) THEN 99
           ELSE pg_temp.pick(124, pd.id, ARRAY[1, 1, 1, 2, 3, 3, 3, 4, 5, 5, 6, 6, 6, 7, 8, 9, 10])
       END,
       CASE
           WHEN pd.sq > 0 AND pd.sq % 3 = 1 THEN
               '{''upper'': [' || (11 + pg_temp.ri(125, pd.id, 8)) || ', '
               || (21 + pg_temp.ri(126, pd.id, 8)) || '], ''lower'': [], ''attachments'': '
               || CASE WHEN pg_temp.chance(127, pd.id, 50) THEN 'True' ELSE 'False' END
               || ', ''note'': ' || CASE WHEN pg_temp.chance(128, pd.id, 50) THEN 'None'
                                         ELSE '''señal fuerte''' END || '}'
           WHEN pd.sq > 0 AND pd.sq % 3 = 2 THEN (ARRAY['N/A', '{"upper": [11, 12', '<schemes/>',
                                                          'undefined', '', '{upper: [11]}'])
                                                   [(pd.sq / 3) % 6 + 1]
           WHEN pd.sq > 0 OR pg_temp.chance(129, pd.id, 12) THEN NULL
           ELSE jsonb_build_object(
                    'upper', ARRAY[11 + pg_temp.ri(130, pd.id, 8), 21 + pg_temp.ri(131, pd.id, 8)],
                    'lower', ARRAY[31 + pg_temp.ri(132, pd.id, 8)],
                    'attachments', pg_temp.chance(133, pd.id, 50),
                    'ipr', (pg_temp.ri(134, pd.id, 5)::numeric / 10)::numeric(3,1))::text
       END,
       pd.submitted,
       CASE
           WHEN pg_temp.spread(pd.id, pg_temp.n('dispatch_patient'),
                               greatest(1, pg_temp.n('dispatch_patient') / 2000), 135)
               THEN timestamptz '2031-03-01 12:00:00+00' + interval '1 second' * pg_temp.ri(136, pd.id, 86400 * 300)
           ELSE pd.submitted + interval '1 second' * pg_temp.ri(137, pd.id, 86400 * 400)
       END
FROM pd
LEFT JOIN tmp_user pu ON pu.kind = 'patient' AND pu.k = pd.k AND NOT pd.user_missing
LEFT JOIN doc_office o ON o.user_id = pd.doctor_id;

-- @step catalogue
-- Courses: the six documented ids plus 5 and 6, which no map knows.
INSERT INTO dispatch_course (id, name, type, customization) VALUES
    (1, 'Main', 1, '{"max_aligners": 40, "refinements": 3}'),
    (2, 'Refinement', 2, '{"max_aligners": 20}'),
    (3, 'Replacement', 3, '{"max_aligners": 4}'),
    (4, 'Any', 4, '{}'),
    (5, 'Retainer', 5, '{"sets": 2}'),
    (6, 'Consultation', 6, '{}'),
    (7, 'Invoice', 7, '{"billing": true}'),
    (8, 'Merchandise', 8, '{"shipping": true}');

-- Products: four soft-deleted (7, 19, 28, 36), one with customization that is not JSON (23).
INSERT INTO dispatch_product (id, name, description, free, deleted, customization, type,
                              substitute, course_id)
SELECT g, nm || CASE WHEN g > 20 THEN ' (2019)' ELSE '' END,
       CASE WHEN g % 6 = 0 THEN '' ELSE 'Synthetic product: ' || lower(nm) END,
       g IN (5, 17, 33),
       g IN (7, 19, 28, 36),
       CASE WHEN g = 23 THEN '{"stages": 20, "attachments": tru'
            ELSE jsonb_build_object('stages', 10 + pg_temp.ri(141, g, 40),
                                   'attachments', pg_temp.chance(142, g, 50),
                                   'label', nm)::text END,
       1 + (g - 1) % 5,
       g % 9 = 0,
       (ARRAY[1, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 1])[(g - 1) % 12 + 1]
FROM (SELECT g, (ARRAY['Full Arch Aligners', 'Lite Aligners', 'Express Aligners', 'Teen Aligners',
                       'Retainer Set', 'Night Guard', 'Refinement Set', 'Replacement Aligner',
                       'Indirect Bonding Tray', 'Treatment Plan', 'Bleaching Tray', 'Chewies',
                       'Aligner Case', 'Cleaning Crystals', 'Vivera-style Retainer',
                       'Clear Retainer', 'Bite Ramp Add-on', 'Power Ridge Add-on',
                       'Digital Setup', 'Model Printing'])[(g - 1) % 20 + 1] AS nm
      FROM generate_series(1, 40) g) p;

-- Roles: several of group Technician with the abbreviations the classification rules read,
-- some assigned to technicians (user slot tN = N-th technician), one to an administrator
-- (a1), a few with neither group nor user.
INSERT INTO dispatch_role (id, name, abbrev, type, "order", user_id, group_id)
SELECT r.ord, r.name, r.abbrev,
       CASE r.grp WHEN 'Technician' THEN 1 WHEN 'Doctor' THEN 2 ELSE 3 END,
       r.ord * 10,
       CASE WHEN r.usr LIKE 't%'
                THEN t.ids[(substr(r.usr, 2)::integer - 1) % cardinality(t.ids) + 1]
            WHEN r.usr LIKE 'a%' THEN a.ids[1] END,
       g.id
FROM (VALUES
    (1, 'Designing Technician', 'DT', 'Technician', 't1'),
    (2, 'Manufacturing Technician', 'MT', 'Technician', 't2'),
    (3, 'Sectioning', 'ST', 'Technician', NULL),
    (4, 'IDB Sectioning', 'IDB', 'Technician', 't3'),
    (5, 'Remote Technician', 'RT', 'Technician', 't4'),
    (6, 'Remote Design Technician', 'DTR', 'Technician', NULL),
    (7, 'Quality Control', 'QC', 'Technician', 't5'),
    (8, 'Master Technician', 'Master', 'Technician', 't6'),
    (9, 'Senior Designing Technician', 'DT', 'Technician', 't7'),
    (10, 'Trimming', 'TRM', 'Technician', NULL),
    (11, 'Printing', 'PRT', 'Technician', NULL),
    (12, 'Laser Marking', 'LM', 'Technician', 't8'),
    (13, 'Packaging', 'PKG', 'Technician', NULL),
    (14, 'Scan Cleanup', 'SC', 'Technician', 't9'),
    (15, 'Staging', 'STG', 'Technician', NULL),
    (16, 'Retainer Fabrication', 'RF', 'Technician', 't10'),
    (17, 'Technician Lead', 'TL', 'Technician', 'a1'),
    (18, 'Remote Sectioning', 'RST', 'Technician', NULL),
    (19, 'Night Shift DT', 'DT-N', 'Technician', 't11'),
    (20, 'QC Photos', 'QCP', 'Technician', NULL),
    (21, 'Doctor', 'DR', 'Doctor', NULL),
    (22, 'Clinic Manager', 'CM', 'Doctor', NULL),
    (23, 'Assistant', 'AS', 'Doctor', NULL),
    (24, 'Hygienist', 'HY', 'Doctor', NULL),
    (25, 'Administrator', 'ADM', 'Administrator', 'a1'),
    (26, 'Support Agent', 'SUP', 'Support', NULL),
    (27, 'Support Lead', 'SUPL', 'Support', NULL),
    (28, 'Billing Manager', 'BM', 'Billing', NULL),
    (29, 'Billing Clerk', 'BC', 'Billing', NULL),
    (30, 'Sales Representative', 'SR', 'Sales', NULL),
    (31, 'Sales Manager', 'SM', 'Sales', NULL),
    (32, 'Medical Reviewer', 'MR', 'Medical', NULL),
    (33, 'Medical Director', 'MD', 'Medical', NULL),
    (34, 'Exporter', 'EXP', 'Export', NULL),
    (35, 'Partner Lab', 'PL', 'External Partners', NULL),
    (36, 'Partner Designer', 'PD', 'External Partners', NULL),
    (37, 'Master', 'M', 'Master', NULL),
    (38, 'Master Planner', 'MP', 'Master', NULL),
    (39, 'Patient', 'PT', 'Patient', NULL),
    (40, 'Patient Guardian', 'PG', 'Patient', NULL),
    (41, 'Reviewer', 'REV', NULL, NULL),
    (42, 'Observer', 'OBS', NULL, NULL),
    (43, 'Auditor', 'AUD', NULL, 'a1'),
    (44, 'Dispatcher', 'DSP', 'Administrator', NULL),
    (45, 'Design Approver', 'DA', 'Technician', 't12'),
    (46, 'Refinement Designer', 'RD', 'Technician', NULL),
    (47, 'Intern', 'INT', 'Technician', NULL),
    (48, 'Legacy Role', '', NULL, NULL)
) AS r(ord, name, abbrev, grp, usr)
LEFT JOIN auth_group g ON g.name = r.grp
CROSS JOIN (SELECT ids FROM pool WHERE name = 'technician') t
CROSS JOIN (SELECT ids FROM pool WHERE name = 'admin') a;

-- Junctions with unique pairs by construction: for a fixed left key the right keys step by a
-- number coprime with the right table's size.
INSERT INTO dispatch_role_permissions (id, role_id, permission_id)
SELECT r, (r - 1) % 48 + 1, (((r - 1) / 48) * 13 + ((r - 1) % 48 + 1) * 7) % 400 + 1
FROM generate_series(1, 1346) r;

INSERT INTO dispatch_product_roles (id, product_id, role_id)
SELECT r, (r - 1) % 40 + 1, (((r - 1) / 40) * 17 + ((r - 1) % 40 + 1) * 5) % 48 + 1
FROM generate_series(1, 60) r;

INSERT INTO dispatch_product_successors (id, from_product_id, to_product_id)
SELECT r, r, (r + r % 3) % 40 + 1
FROM generate_series(1, 30) r;

-- Categories: a forest built over a permutation of the ids, so that some children have lower
-- ids than their parents; the last one names a parent that does not exist.
INSERT INTO dispatch_category (id, name, parent_id)
WITH ranked AS (
    SELECT q AS rank, ((q - 1) * 17) % 44 + 1 AS id FROM generate_series(1, 44) q
)
SELECT c.id,
       CASE WHEN c.rank <= 6
            THEN (ARRAY['Scanning', 'Design', 'Production', 'Shipping', 'Billing', 'Support'])[c.rank]
            ELSE pg_temp.pick(151, c.rank, ARRAY['Review', 'Upload', 'Approval', 'QC', 'Export',
                                                 'Prep', 'Print', 'Trim', 'Pack', 'Label',
                                                 'Refine']) || ' ' || c.rank END,
       CASE WHEN c.rank <= 6 THEN NULL WHEN c.rank = 44 THEN 999 ELSE p.id END
FROM ranked c
LEFT JOIN ranked p ON p.rank = 1 + pg_temp.ri(152, c.rank, greatest(c.rank - 1, 1));

INSERT INTO dispatch_template (id, task_name, action_name, "function", status, duration,
                               category_id, predefined, read_only, text_name, extensions, alerts,
                               separate)
SELECT g,
       CASE WHEN g % 13 = 0 THEN ''
            ELSE pg_temp.pick(161, g, ARRAY['Review scans', 'Segment teeth', 'Design setup',
                                            'Approve plan', 'Print models', 'Thermoform',
                                            'Trim aligners', 'Laser mark', 'Pack order',
                                            'Ship order', 'Quality check', 'Upload STL',
                                            'Prepare invoice', 'Send to partner']) || ' #' || g END,
       pg_temp.pick(162, g, ARRAY['review', 'segment', 'design', 'approve', 'print', 'form',
                                  'trim', 'mark', 'pack', 'ship', 'check', 'upload', 'invoice']),
       pg_temp.pick(163, g, ARRAY['dispatch.tasks.review', 'dispatch.tasks.design',
                                  'dispatch.tasks.produce', 'dispatch.tasks.ship', '']),
       CASE WHEN g % 11 = 0 THEN 0 WHEN g % 17 = 0 THEN 2 ELSE 1 END,
       5 + pg_temp.ri(164, g, 476)::integer,
       CASE WHEN g % 9 = 0 THEN NULL ELSE 1 + pg_temp.ri(165, g, 44) END,
       pg_temp.chance(166, g, 40),
       pg_temp.chance(167, g, 15),
       CASE WHEN g % 13 = 0 THEN 'Text task ' || g ELSE '' END,
       pg_temp.pick(168, g, ARRAY['stl,ply', '', 'pdf', 'jpg,png', 'zip']),
       pg_temp.pick(169, g, ARRAY['', '', '{"email": true}', '{"sms": false, "email": true}']),
       pg_temp.chance(170, g, 20)
FROM generate_series(1, 169) g;

INSERT INTO dispatch_template_edit_roles (id, template_id, role_id)
SELECT r, (r - 1) % 169 + 1, (((r - 1) / 169) * 11 + ((r - 1) % 169 + 1) * 3) % 48 + 1
FROM generate_series(1, 500) r;

INSERT INTO dispatch_template_view_roles (id, template_id, role_id)
SELECT r, (r - 1) % 169 + 1, (((r - 1) / 169) * 11 + ((r - 1) % 169 + 1) * 5) % 48 + 1
FROM generate_series(1, 700) r;

INSERT INTO dispatch_template_view_groups (id, template_id, group_id)
SELECT r, (r - 1) % 169 + 1, (((r - 1) / 169) * 3 + (r - 1) % 169 + 1) % 11 + 1
FROM generate_series(1, 400) r;

-- The last row names a product that does not exist.
INSERT INTO dispatch_template_products (id, template_id, product_id)
SELECT r, (r - 1) % 169 + 1,
       CASE WHEN r = 501 THEN 999 ELSE (((r - 1) / 169) * 7 + (r - 1) % 169 + 1) % 40 + 1 END
FROM generate_series(1, 501) r;

INSERT INTO dispatch_template_predecessors (id, from_template_id, to_template_id)
SELECT r, (r - 1) % 168 + 1, (r - 1) % 168 + 2 + (r - 1) / 168
FROM generate_series(1, 200) r;

INSERT INTO dispatch_globalsetting (id, setting, version, created_at, updated_at)
SELECT v, jsonb_build_object('tax_default', 8.25, 'support_email', 'support@example.com',
                            'features', jsonb_build_object('installments', v >= 2,
                                                          'remote_design', v >= 3))::text,
       v, timestamptz '2017-01-01 00:00:00+00' + (v - 1) * interval '700 days',
       timestamptz '2017-01-01 00:00:00+00' + (v - 1) * interval '700 days' + interval '3 days'
FROM generate_series(1, 3) v;

-- @step jaw_slots
-- Every instruction has an upper and a lower slot; spread() fills exactly as many slots as
-- there are referenced jaws plus the shared ones. Referenced jaws are all jaws but the
-- unreferenced ones; the last filled slots reuse an earlier slot's jaw (jaw named twice).
CREATE TEMP TABLE tmp_slot ON COMMIT DROP AS
WITH filled AS (
    SELECT (s + 1) / 2 AS instruction_id, s % 2 = 1 AS upper,
           row_number() OVER (ORDER BY s) AS rank
    FROM generate_series(1, 2 * pg_temp.n('dispatch_instruction')) s
    WHERE pg_temp.spread(s, 2 * pg_temp.n('dispatch_instruction'), pg_temp.n('jaw_filled_slots'), 181)
), ref AS (
    SELECT j AS jaw_id, row_number() OVER (ORDER BY j) AS rank
    FROM generate_series(1, pg_temp.n('dispatch_jaw')) j
    WHERE NOT pg_temp.spread(j, pg_temp.n('dispatch_jaw'), pg_temp.n('jaw_unreferenced'), 182)
)
SELECT f.instruction_id, f.upper, r.jaw_id
FROM filled f
JOIN ref r ON r.rank = CASE
    WHEN f.rank <= pg_temp.n('jaw_referenced') THEN f.rank
    ELSE (f.rank - pg_temp.n('jaw_referenced'))
         * (pg_temp.n('jaw_referenced') / (pg_temp.n('jaw_shared') + 1)) END;

-- @step dispatch_jaw
INSERT INTO dispatch_jaw (id, bond_teeth, extract_teeth, reason, product_id, labial)
SELECT g,
       pg_temp.ri(191, g, 65536)::integer::bit(16)::text,
       CASE WHEN pg_temp.chance(192, g, 85) THEN '0000000000000000'
            ELSE (pg_temp.ri(193, g, 65536)::integer & pg_temp.ri(194, g, 65536)::integer
                  & pg_temp.ri(195, g, 65536)::integer)::bit(16)::text END,
       CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_jaw'), greatest(1, pg_temp.n('dispatch_jaw') / 5000), 196)
                THEN 7
            WHEN pg_temp.chance(197, g, 85) THEN NULL
            ELSE 1 + pg_temp.ri(198, g, 3)::integer END,
       CASE WHEN pg_temp.chance(199, g, 30) THEN NULL ELSE 1 + pg_temp.ri(200, g, 40) END,
       pg_temp.chance(201, g, 20)
FROM generate_series(1, pg_temp.n('dispatch_jaw')) g;

-- @step dispatch_instruction
INSERT INTO dispatch_instruction (id, patient_id, course_id, status, deleted, submitted_at,
                                  updated_at, notes, complaint, price, suffix, exports, model,
                                  "order", scanner, scanner_notes, cbct, conditions,
                                  accept_extraction, objective, comprehensive, upper_jaw_id,
                                  lower_jaw_id)
WITH jaws AS (
    SELECT instruction_id, max(jaw_id) FILTER (WHERE upper) AS upper_jaw_id,
           max(jaw_id) FILTER (WHERE NOT upper) AS lower_jaw_id
    FROM tmp_slot GROUP BY instruction_id
), i AS (
    SELECT g AS id,
           CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_instruction'),
                                    greatest(1, pg_temp.n('dispatch_instruction') / 20000), 211)
                THEN timestamptz '2031-06-01 09:00:00+00' + interval '1 second' * pg_temp.ri(212, g, 86400 * 200)
                ELSE pg_temp.ts(213, g, pg_temp.n('dispatch_instruction')) END AS submitted
    FROM generate_series(1, pg_temp.n('dispatch_instruction')) g
)
SELECT i.id,
       CASE WHEN pg_temp.spread(i.id, pg_temp.n('dispatch_instruction'),
                                greatest(1, pg_temp.n('dispatch_instruction') / 1000), 214)
            THEN pg_temp.n('dispatch_patient') + 300000 + i.id
            ELSE 1 + pg_temp.ri(215, i.id, pg_temp.n('dispatch_patient')) END,
       pg_temp.pick(216, i.id, ARRAY[1, 1, 1, 1, 1, 1, 2, 2, 2, 3, 3, 4, 5, 6, 7, 8]),
       CASE WHEN pg_temp.spread(i.id, pg_temp.n('dispatch_instruction'),
                                greatest(1, pg_temp.n('dispatch_instruction') / 2500), 217) THEN 99
            ELSE pg_temp.pick(218, i.id, ARRAY[0, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4, 5, 6]) END,
       pg_temp.spread(i.id, pg_temp.n('dispatch_instruction'),
                      greatest(1, pg_temp.n('dispatch_instruction') / 25), 219),
       i.submitted,
       i.submitted + interval '1 second' * pg_temp.ri(220, i.id, 86400 * 200),
       CASE WHEN pg_temp.spread(i.id, pg_temp.n('dispatch_instruction'), 1, 221)
                -- one very long text (about 100 KB)
                THEN repeat('Very long scanner log line, kept verbatim by the old system. ', 1700)
            WHEN pg_temp.chance(222, i.id, 35) THEN ''
            ELSE pg_temp.phrase(223, i.id) || ' ' || pg_temp.phrase(224, i.id) END,
       CASE WHEN pg_temp.chance(225, i.id, 75) THEN '' ELSE pg_temp.phrase(226, i.id) END,
       CASE WHEN pg_temp.chance(227, i.id, 10)
                 OR pg_temp.spread(i.id, pg_temp.n('dispatch_instruction'), 1, 242) THEN NULL
            ELSE pg_temp.money(228, i.id, 19900, 450000) END,
       pg_temp.pick(229, i.id, ARRAY['', '', '', '', 'R1', 'R2', 'A', 'B']),
       CASE WHEN pg_temp.spread(i.id, pg_temp.n('dispatch_instruction'),
                                greatest(2, pg_temp.n('dispatch_instruction') / 100), 230)
            THEN jsonb_build_object('netsuite', jsonb_build_object(
                     'id', 100000 + i.id, 'exported_at', i.submitted + interval '2 days'))::text
            ELSE '{}' END,
       pg_temp.ri(231, i.id, 4)::integer,
       pg_temp.ri(232, i.id, 6)::integer,
       pg_temp.ri(233, i.id, 7)::integer,
       CASE WHEN pg_temp.chance(234, i.id, 80) THEN ''
            ELSE pg_temp.pick(235, i.id, ARRAY['iTero', '3Shape Trios', 'Medit i700',
                                               'Carestream']) || ' scan' END,
       pg_temp.chance(236, i.id, 10),
       CASE WHEN pg_temp.chance(237, i.id, 50) THEN ''
            ELSE pg_temp.pick(238, i.id, ARRAY['crowding', 'spacing', 'open bite', 'deep bite',
                                               'crossbite', 'class II', 'class III']) END,
       pg_temp.chance(239, i.id, 15),
       pg_temp.pick(240, i.id, ARRAY['Align both arches', 'Close spaces', 'Correct midline',
                                     'Improve overjet', '']),
       pg_temp.chance(241, i.id, 60),
       j.upper_jaw_id,
       j.lower_jaw_id
FROM i
LEFT JOIN jaws j ON j.instruction_id = i.id;

-- @step dispatch_state
INSERT INTO dispatch_state (id, status, "on", changed_at, actor_id, instruction_id)
SELECT g,
       CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_state'),
                                greatest(1, pg_temp.n('dispatch_state') / 2000), 251) THEN 99
            ELSE 11 + pg_temp.ri(252, g, 8)::integer END,
       pg_temp.chance(253, g, 70),
       pg_temp.ts(254, g, pg_temp.n('dispatch_state')),
       CASE WHEN pg_temp.chance(255, g, 20) THEN NULL ELSE pg_temp.any_staff(256, g) END,
       CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_state'),
                                greatest(1, pg_temp.n('dispatch_state') / 3000), 257)
            THEN pg_temp.n('dispatch_instruction') + 400000 + g
            ELSE 1 + pg_temp.ri(258, g, pg_temp.n('dispatch_instruction')) END
FROM generate_series(1, pg_temp.n('dispatch_state')) g;

-- @step dispatch_project
INSERT INTO dispatch_project (id, uid, created_at, name, size, public, type, status, creator_id)
SELECT g,
       md5(pg_temp.h(261, g)::text),
       pg_temp.ts(262, g, pg_temp.n('dispatch_project')),
       pg_temp.pick(263, g, ARRAY['upper', 'lower', 'bite', 'photo', 'plan', 'xray', 'cbct',
                                  'setup']) || '_' || g
           || pg_temp.pick(264, g, ARRAY['.stl', '.ply', '.jpg', '.zip', '.dcm', '']),
       10000 + pg_temp.ri(265, g, 200000000),
       pg_temp.chance(266, g, 10),
       CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_project'),
                                greatest(1, pg_temp.n('dispatch_project') / 5000), 267) THEN 7
            ELSE pg_temp.pick(268, g, ARRAY[0, 0, 1, 1, 2, 3, 3, 4, 5, 10, 11]) END,
       CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_project'),
                                greatest(1, pg_temp.n('dispatch_project') / 5000), 269) THEN 9
            ELSE pg_temp.pick(270, g, ARRAY[0, 1, 2, 2, 2, 3]) END,
       CASE WHEN pg_temp.chance(271, g, 15) THEN NULL ELSE pg_temp.any_technician(272, g) END
FROM generate_series(1, pg_temp.n('dispatch_project')) g;

-- @step dispatch_plan
-- Plans come in consecutive blocks per instruction (numbered from 1, the first is original)
-- and per project.
INSERT INTO dispatch_plan (id, instruction_id, project_id, notes, number, name, original)
SELECT g,
       CASE WHEN pg_temp.chance(281, g, 5) THEN NULL ELSE b.i END,
       pg_temp.block_of(g, pg_temp.n('dispatch_plan'), pg_temp.n('dispatch_project')),
       CASE WHEN pg_temp.chance(282, g, 60) THEN '' ELSE pg_temp.phrase(283, g) END,
       b.num,
       'Plan ' || b.num || CASE WHEN b.num = 1 THEN ' (original)' ELSE '' END,
       b.num = 1
FROM (
    SELECT g, pg_temp.block_of(g, pg_temp.n('dispatch_plan'), pg_temp.n('dispatch_instruction')) AS i,
           g - pg_temp.block_first(
                   pg_temp.block_of(g, pg_temp.n('dispatch_plan'), pg_temp.n('dispatch_instruction')),
                   pg_temp.n('dispatch_plan'), pg_temp.n('dispatch_instruction')) + 1 AS num
    FROM generate_series(1, pg_temp.n('dispatch_plan')) g
    OFFSET 0
) b;

INSERT INTO dispatch_bracket (id, name, project_id, type)
SELECT g,
       pg_temp.pick(291, g, ARRAY['Damon Q', 'Victory Series', 'Clarity Advanced', 'In-Ovation R',
                                  'Empower 2']),
       1 + pg_temp.ri(292, g, pg_temp.n('dispatch_project')),
       1 + pg_temp.ri(293, g, 4)::integer
FROM generate_series(1, pg_temp.n('dispatch_bracket')) g;

-- @step dispatch_record
-- Special targets share one spread, by ordinal: the first ones aim at another content type
-- (instruction, plan, file), then some have no content type, then some aim at a patient that
-- does not exist.
INSERT INTO dispatch_record (id, target_type_id, target_id, type, created_at, text, author_id,
                             group_id, public)
SELECT x.g,
       CASE x.kind WHEN 'patient' THEN ct.patient WHEN 'user' THEN ct.usr
                   WHEN 'other' THEN (ARRAY[ct.instruction, ct.plan, ct.file])[x.q % 3 + 1]
                   WHEN 'missing' THEN ct.patient END,
       CASE x.kind
           WHEN 'patient' THEN 1 + pg_temp.ri(301, x.g, pg_temp.n('dispatch_patient'))
           WHEN 'user' THEN 1 + pg_temp.ri(302, x.g, pg_temp.n('auth_user'))
           WHEN 'other' THEN 1 + pg_temp.ri(303, x.g, pg_temp.n('dispatch_instruction'))
           WHEN 'missing' THEN pg_temp.n('dispatch_patient') + 500000 + x.g
           ELSE 1 + pg_temp.ri(304, x.g, 1000)
       END,
       CASE WHEN pg_temp.spread(x.g, pg_temp.n('dispatch_record'),
                                greatest(1, pg_temp.n('dispatch_record') / 3000), 305) THEN 7
            WHEN pg_temp.chance(306, x.g, 3) THEN NULL
            ELSE pg_temp.pick(307, x.g, ARRAY[3, 3, 5, 5, 5, 6, 8]) END,
       pg_temp.ts(308, x.g, pg_temp.n('dispatch_record')),
       CASE WHEN pg_temp.chance(309, x.g, 5) THEN '' ELSE pg_temp.phrase(310, x.g) END,
       CASE WHEN pg_temp.chance(311, x.g, 5) THEN NULL
            WHEN pg_temp.chance(312, x.g, 60) THEN pg_temp.any_doctor(313, x.g)
            ELSE pg_temp.any_technician(314, x.g) END,
       CASE WHEN pg_temp.chance(315, x.g, 60) THEN NULL ELSE 1 + pg_temp.ri(316, x.g, 11) END,
       CASE WHEN pg_temp.chance(317, x.g, 10) THEN NULL ELSE pg_temp.chance(318, x.g, 50) END
FROM (
    SELECT g, q,
           CASE WHEN q = 0 THEN CASE WHEN pg_temp.chance(319, g, 75) THEN 'patient' ELSE 'user' END
                WHEN q <= pg_temp.n('record_other') THEN 'other'
                WHEN q <= pg_temp.n('record_other') + pg_temp.n('record_null') THEN 'null'
                ELSE 'missing' END AS kind
    FROM (SELECT g, pg_temp.spread_idx(g, pg_temp.n('dispatch_record'),
                                       pg_temp.n('record_other') + pg_temp.n('record_null')
                                       + pg_temp.n('record_missing'), 320) AS q
          FROM generate_series(1, pg_temp.n('dispatch_record')) g) s
) x
CROSS JOIN ct;

-- @step dispatch_file
-- Files come in consecutive blocks per instruction; a few are message attachments (record_id).
INSERT INTO dispatch_file (id, uid, name, ext, size, type, instruction_id, created_at,
                           description, product_id, parameters, record_id, status)
SELECT g,
       md5(pg_temp.h(331, g)::text),
       pg_temp.pick(332, g, ARRAY['upper', 'lower', 'bite', 'photo_front', 'photo_left',
                                  'photo_right', 'xray', 'invoice', 'setup', 'treatment_plan'])
           || '_' || g,
       pg_temp.pick(333, g, ARRAY['stl', 'stl', 'stl', 'ply', 'jpg', 'jpg', 'jpeg', 'png', 'gif',
                                  'pdf', 'pdf', 'zip', 'rar', 'tar', '', 'STL', 'docx']),
       1000 + pg_temp.ri(334, g, 80000000),
       CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_file'),
                                greatest(1, pg_temp.n('dispatch_file') / 10000), 335) THEN 42
            ELSE 1 + pg_temp.ri(336, g, 13)::integer END,
       CASE WHEN pg_temp.chance(337, g, 8) THEN NULL
            ELSE pg_temp.block_of(g, pg_temp.n('dispatch_file'), pg_temp.n('dispatch_instruction')) END,
       CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_file'), 1, 338)
                THEN timestamptz '2032-01-15 00:00:00+00'
            ELSE pg_temp.ts(339, g, pg_temp.n('dispatch_file')) END,
       CASE WHEN pg_temp.chance(340, g, 85) THEN '' ELSE pg_temp.phrase(341, g) END,
       CASE WHEN pg_temp.chance(342, g, 90) THEN NULL ELSE 1 + pg_temp.ri(343, g, 40) END,
       CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_file'),
                                greatest(1, pg_temp.n('dispatch_file') / 20000), 344)
                THEN '{"dpi": 300,'
            WHEN pg_temp.chance(345, g, 60) THEN '{}'
            ELSE '{"dpi": ' || (72 + pg_temp.ri(346, g, 600)) || ', "units": "mm"}' END,
       CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_file'),
                                greatest(1, pg_temp.n('dispatch_file') / 60), 347)
            THEN 1 + pg_temp.ri(348, g, pg_temp.n('dispatch_record')) END,
       pg_temp.ri(349, g, 4)::integer
FROM generate_series(1, pg_temp.n('dispatch_file')) g;

-- @step dispatch_record_links
-- Attachments: distinct files per row; the last rows repeat links that dispatch_file.record_id
-- already holds (the migration takes the union).
INSERT INTO dispatch_record_attachments (id, record_id, file_id)
SELECT r, 1 + pg_temp.ri(351, r, pg_temp.n('dispatch_record')),
       pg_temp.slot(352, r, pg_temp.n('dispatch_file'), pg_temp.n('ra_main'))
FROM generate_series(1, pg_temp.n('ra_main')) r
UNION ALL
SELECT pg_temp.n('ra_main') + row_number() OVER (ORDER BY f.id), f.record_id, f.id
FROM (SELECT id, record_id FROM dispatch_file WHERE record_id IS NOT NULL
      ORDER BY id LIMIT pg_temp.n('dispatch_record_attachments') - pg_temp.n('ra_main')) f;

INSERT INTO dispatch_record_roles (id, record_id, role_id)
SELECT r, pg_temp.slot(353, r, pg_temp.n('dispatch_record'), pg_temp.n('dispatch_record_roles')),
       1 + pg_temp.ri(354, r, 48)
FROM generate_series(1, pg_temp.n('dispatch_record_roles')) r;

-- @step dispatch_task
-- Tasks come in blocks per instruction; a task's plan and file are drawn from its own
-- instruction's plans and files.
INSERT INTO dispatch_task (id, checked, file_id, template_id, done_at, text, plan_id,
                           instruction_id, actor_id, jaw)
SELECT x.g,
       x.done IS NOT NULL OR pg_temp.chance(361, x.g, 10),
       CASE WHEN pg_temp.chance(362, x.g, 85) THEN NULL
            ELSE pg_temp.block_pick(363, x.g, x.i, pg_temp.n('dispatch_file'),
                                    pg_temp.n('dispatch_instruction')) END,
       CASE WHEN pg_temp.chance(364, x.g, 10) THEN NULL ELSE 1 + pg_temp.ri(365, x.g, 169) END,
       x.done,
       pg_temp.pick(366, x.g, ARRAY['', '', 'Check attachments', 'Segment lower arch',
                                    'Approve design', 'Re-scan requested', 'Trim line review',
                                    'Print batch', 'Pack and label', 'QC photos']),
       CASE WHEN pg_temp.chance(367, x.g, 30) THEN NULL
            ELSE pg_temp.block_pick(368, x.g, x.i, pg_temp.n('dispatch_plan'),
                                    pg_temp.n('dispatch_instruction')) END,
       x.i,
       CASE WHEN pg_temp.chance(369, x.g, 20) THEN NULL ELSE pg_temp.any_technician(370, x.g) END,
       CASE WHEN pg_temp.chance(371, x.g, 60) THEN NULL ELSE pg_temp.ri(372, x.g, 3)::integer END
FROM (
    SELECT g, pg_temp.block_of(g, pg_temp.n('dispatch_task'), pg_temp.n('dispatch_instruction')) AS i,
           CASE WHEN pg_temp.chance(373, g, 25) THEN NULL
                ELSE pg_temp.ts(374, g, pg_temp.n('dispatch_task')) END AS done
    FROM generate_series(1, pg_temp.n('dispatch_task')) g
    OFFSET 0
) x;

-- @step dispatch_comment_note
INSERT INTO dispatch_comment (id, created_at, text, author_id, plan_id)
SELECT g,
       pg_temp.ts(381, g, pg_temp.n('dispatch_comment')),
       CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_comment'), 1, 382)
                THEN repeat('Pasted chat transcript with the patient, kept in full. ', 1900)
            WHEN pg_temp.chance(383, g, 5) THEN ''
            WHEN pg_temp.chance(384, g, 30) THEN pg_temp.phrase(385, g) || ' ' || pg_temp.phrase(386, g)
            ELSE pg_temp.phrase(387, g) END,
       CASE WHEN pg_temp.chance(388, g, 10) THEN NULL
            WHEN pg_temp.chance(389, g, 55) THEN pg_temp.any_doctor(390, g)
            ELSE pg_temp.any_technician(391, g) END,
       1 + pg_temp.ri(392, g, pg_temp.n('dispatch_plan'))
FROM generate_series(1, pg_temp.n('dispatch_comment')) g;

INSERT INTO dispatch_note (id, created_at, text, author_id, doctor_id)
SELECT g,
       pg_temp.ts(393, g, pg_temp.n('dispatch_note')),
       CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_note'), 1, 394)
                THEN repeat('Account history copied from the old CRM, line after line. ', 1800)
            WHEN pg_temp.chance(395, g, 5) THEN ''
            ELSE pg_temp.phrase(396, g) END,
       CASE WHEN pg_temp.chance(397, g, 10) THEN NULL ELSE pg_temp.any_staff(398, g) END,
       CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_note'), 1, 399)
            THEN pg_temp.n('auth_user') + 600000 + g
            ELSE pg_temp.any_doctor(400, g) END
FROM generate_series(1, pg_temp.n('dispatch_note')) g;

-- @step dispatch_notification
-- The big one (three quarters of all rows): kept to cheap expressions. Items are mostly
-- instructions (a few of them missing), then plans and patients; some have no item.
INSERT INTO dispatch_notification (id, created_at, sender, template_name, template_context, read,
                                   item_id, item_type_id, recipient_id, sent, send)
SELECT x.g,
       CASE WHEN pg_temp.spread(x.g, pg_temp.n('dispatch_notification'),
                                greatest(1, pg_temp.n('dispatch_notification') / 1000000), 411)
                THEN timestamptz '2033-02-01 00:00:00+00'
            ELSE pg_temp.ts(412, x.g, pg_temp.n('dispatch_notification')) END,
       (ARRAY['system', 'scheduler', 'no-reply@mdw.example', ''])[1 + pg_temp.ri(413, x.g, 4)],
       x.tpl,
       CASE WHEN x.bad > 0
                THEN (ARRAY['{''item'': ' || coalesce(x.item_id, 0) || '}',
                            '{"item": ' || coalesce(x.item_id, 0), '', 'None'])[x.bad % 4 + 1]
            ELSE '{"item": ' || coalesce(x.item_id::text, 'null') || ', "template": "' || x.tpl
                 || '", "link": "/dispatch/' || x.g || '"}' END,
       pg_temp.chance(414, x.g, 60),
       x.item_id,
       x.item_type,
       CASE WHEN x.rr < 70 THEN pg_temp.any_doctor(415, x.g)
            WHEN x.rr < 85 THEN pg_temp.any_technician(416, x.g) END,
       pg_temp.chance(417, x.g, 90),
       pg_temp.chance(418, x.g, 95)
FROM (
    SELECT y.*,
           CASE WHEN y.ri < 85 OR y.missing THEN c.instruction WHEN y.ri < 93 THEN c.plan
                WHEN y.ri < 97 THEN c.patient END AS item_type,
           CASE WHEN y.missing THEN pg_temp.n('dispatch_instruction') + 800000 + y.g
                WHEN y.ri < 85 THEN 1 + pg_temp.ri(419, y.g, pg_temp.n('dispatch_instruction'))
                WHEN y.ri < 93 THEN 1 + pg_temp.ri(420, y.g, pg_temp.n('dispatch_plan'))
                WHEN y.ri < 97 THEN 1 + pg_temp.ri(421, y.g, pg_temp.n('dispatch_patient'))
           END AS item_id
    FROM (
        SELECT g,
               pg_temp.ri(422, g, 100) AS ri,
               pg_temp.ri(423, g, 100) AS rr,
               (ARRAY['instruction_submitted', 'plan_ready', 'plan_approved', 'payment_received',
                      'shipment_sent', 'comment_added', 'task_assigned', 'password_reset'])
                   [1 + pg_temp.ri(424, g, 8)] AS tpl,
               pg_temp.spread(g, pg_temp.n('dispatch_notification'),
                              greatest(1, pg_temp.n('dispatch_notification') / 50000), 425) AS missing,
               pg_temp.spread_idx(g, pg_temp.n('dispatch_notification'),
                                  greatest(4, pg_temp.n('dispatch_notification') / 100000), 426) AS bad
        FROM generate_series(1, pg_temp.n('dispatch_notification')) g
        OFFSET 0
    ) y
    CROSS JOIN ct c
    OFFSET 0
) x;

-- @step money
INSERT INTO dispatch_order (id, created_at, doctor_id, office_id, patient_id, course_id)
SELECT g,
       pg_temp.ts(431, g, pg_temp.n('dispatch_order')),
       CASE WHEN pg_temp.chance(432, g, 5) THEN NULL ELSE pg_temp.any_doctor(433, g) END,
       CASE WHEN pg_temp.chance(434, g, 20) THEN NULL
            ELSE 1 + pg_temp.ri(435, g, pg_temp.n('dispatch_office')) END,
       CASE WHEN pg_temp.chance(436, g, 30) THEN NULL
            ELSE 1 + pg_temp.ri(437, g, pg_temp.n('dispatch_patient')) END,
       CASE WHEN pg_temp.chance(438, g, 20) THEN NULL
            ELSE pg_temp.pick(439, g, ARRAY[7, 8, 1, 2, 3]) END
FROM generate_series(1, pg_temp.n('dispatch_order')) g;

INSERT INTO dispatch_purchase (id, order_id, product_id, quantity, price)
SELECT g,
       pg_temp.block_of(g, pg_temp.n('dispatch_purchase'), pg_temp.n('dispatch_order')),
       CASE WHEN pg_temp.chance(441, g, 5) THEN NULL ELSE 1 + pg_temp.ri(442, g, 40) END,
       1 + pg_temp.ri(443, g, 3)::integer,
       pg_temp.money(444, g, 500, 250000)
FROM generate_series(1, pg_temp.n('dispatch_purchase')) g;

-- Amounts are exact numerics with cents; total = subtotal + additional - credit + tax.
INSERT INTO dispatch_payment (id, made_at, free, paid, canceled, netsuite, tax_rate, tax_value,
                              paid_price, used_credit, custom_price, subtotal_price,
                              additional_price, total_price, installments, instruction_id,
                              doctor_id, office_id, order_id)
SELECT x.g, x.made_at, x.free, x.paid, x.canceled, x.netsuite, x.tax_rate, x.tax_value,
       CASE WHEN x.paid THEN x.subtotal + x.additional - x.credit + x.tax_value ELSE 0.00 END,
       x.credit, x.custom, x.subtotal, x.additional,
       x.subtotal + x.additional - x.credit + x.tax_value,
       CASE WHEN pg_temp.chance(451, x.g, 85) THEN '[]'
            ELSE jsonb_build_array(
                     jsonb_build_object('due', (x.made_at + interval '30 days')::date,
                                       'amount', round(x.subtotal / 3, 2)::text),
                     jsonb_build_object('due', (x.made_at + interval '60 days')::date,
                                       'amount', round(x.subtotal / 3, 2)::text),
                     jsonb_build_object('due', (x.made_at + interval '90 days')::date,
                                       'amount', (x.subtotal - 2 * round(x.subtotal / 3, 2))::text)
                 )::text END,
       CASE WHEN pg_temp.spread(x.g, pg_temp.n('dispatch_payment'),
                                greatest(1, pg_temp.n('dispatch_payment') / 1000), 452)
                THEN pg_temp.n('dispatch_instruction') + 700000 + x.g
            WHEN pg_temp.chance(453, x.g, 10) THEN NULL
            ELSE 1 + pg_temp.ri(454, x.g, pg_temp.n('dispatch_instruction')) END,
       CASE WHEN pg_temp.chance(455, x.g, 5) THEN NULL ELSE pg_temp.any_doctor(456, x.g) END,
       CASE WHEN pg_temp.chance(457, x.g, 20) THEN NULL
            ELSE 1 + pg_temp.ri(458, x.g, pg_temp.n('dispatch_office')) END,
       CASE WHEN pg_temp.chance(459, x.g, 40) THEN NULL
            ELSE 1 + pg_temp.ri(460, x.g, pg_temp.n('dispatch_order')) END
FROM (
    SELECT y.*, round(y.subtotal * y.tax_rate / 100, 2) AS tax_value
    FROM (
        SELECT g,
               pg_temp.ts(461, g, pg_temp.n('dispatch_payment')) AS made_at,
               pg_temp.chance(462, g, 3) AS free,
               pg_temp.chance(463, g, 80) AS paid,
               pg_temp.chance(464, g, 5) AS canceled,
               pg_temp.chance(465, g, 50) AS netsuite,
               pg_temp.pick(466, g, ARRAY[0.0000, 6.2500, 7.2500, 8.8750, 10.2500,
                                          13.0000]::numeric[]) AS tax_rate,
               pg_temp.money(467, g, 19900, 450000) AS subtotal,
               CASE WHEN pg_temp.chance(468, g, 85) THEN 0.00
                    ELSE pg_temp.money(469, g, 500, 20000) END AS additional,
               CASE WHEN pg_temp.chance(470, g, 90) THEN 0.00
                    ELSE pg_temp.money(471, g, 100, 10000) END AS credit,
               CASE WHEN pg_temp.chance(472, g, 80) THEN 0.00
                    ELSE pg_temp.money(473, g, 10000, 400000) END AS custom
        FROM generate_series(1, pg_temp.n('dispatch_payment')) g
        OFFSET 0
    ) y
) x;

INSERT INTO dispatch_operation (id, type, made_at, price, sq_order_id, sq_payment_id,
                                sq_refund_id, card_brand, card_bin, card_last, office_card,
                                payment_id, attempts)
SELECT x.g, x.type,
       pg_temp.ts(481, x.g, pg_temp.n('dispatch_operation')),
       pg_temp.money(482, x.g, 1000, 450000),
       upper(substr(md5(pg_temp.h(483, x.g)::text), 1, 22)),
       upper(substr(md5(pg_temp.h(484, x.g)::text), 1, 26)),
       CASE WHEN x.type = 2 THEN upper(substr(md5(pg_temp.h(485, x.g)::text), 1, 26)) ELSE '' END,
       x.brand,
       CASE x.brand WHEN 'VISA' THEN '4' WHEN 'MASTERCARD' THEN '5' WHEN 'AMERICAN_EXPRESS' THEN '3'
                    WHEN 'DISCOVER' THEN '6' ELSE '' END
           || CASE WHEN x.brand = '' THEN '' ELSE lpad(pg_temp.ri(486, x.g, 100000)::text, 5, '0') END,
       CASE WHEN x.brand = '' THEN '' ELSE lpad(pg_temp.ri(487, x.g, 10000)::text, 4, '0') END,
       pg_temp.chance(488, x.g, 30),
       1 + pg_temp.ri(489, x.g, pg_temp.n('dispatch_payment')),
       1 + pg_temp.ri(490, x.g, 3)::integer
FROM (
    SELECT g,
           CASE WHEN pg_temp.spread(g, pg_temp.n('dispatch_operation'), 1, 491) THEN 3
                WHEN pg_temp.chance(492, g, 14) THEN 2 ELSE 1 END AS type,
           pg_temp.pick(493, g, ARRAY['VISA', 'VISA', 'MASTERCARD', 'AMERICAN_EXPRESS',
                                      'DISCOVER', '']) AS brand
    FROM generate_series(1, pg_temp.n('dispatch_operation')) g
) x;

INSERT INTO dispatch_offer (id, doctor_id, product_id, price_both, price_upper, price_lower)
SELECT g, pg_temp.any_doctor(501, g),
       CASE WHEN pg_temp.chance(502, g, 10) THEN NULL ELSE 1 + pg_temp.ri(503, g, 40) END,
       CASE WHEN pg_temp.chance(504, g, 20) OR pg_temp.spread(g, pg_temp.n('dispatch_offer'), 1, 510)
            THEN NULL ELSE pg_temp.money(505, g, 90000, 300000) END,
       CASE WHEN pg_temp.chance(506, g, 20) THEN NULL ELSE pg_temp.money(507, g, 50000, 180000) END,
       CASE WHEN pg_temp.chance(508, g, 20) THEN NULL ELSE pg_temp.money(509, g, 50000, 180000) END
FROM generate_series(1, pg_temp.n('dispatch_offer')) g;

INSERT INTO dispatch_discount (id, offer_id, percent, reason, count, used, start, finish, total)
SELECT x.g, 1 + pg_temp.ri(511, x.g, pg_temp.n('dispatch_offer')),
       ((500 + pg_temp.ri(512, x.g, 4501))::numeric / 100)::numeric(5,2),
       pg_temp.pick(513, x.g, ARRAY['Loyalty', 'Conference promo', 'Bulk order', 'Courtesy', '']),
       x.cnt, pg_temp.ri(514, x.g, x.cnt + 1)::integer, x.start,
       CASE WHEN x.start IS NULL OR pg_temp.chance(515, x.g, 50) THEN NULL
            ELSE x.start + 30 + pg_temp.ri(516, x.g, 335)::integer END,
       pg_temp.chance(517, x.g, 30)
FROM (
    SELECT g, 1 + pg_temp.ri(518, g, 20)::integer AS cnt,
           CASE WHEN pg_temp.chance(519, g, 30) THEN NULL
                ELSE date '2018-01-01' + pg_temp.ri(520, g, 2500)::integer END AS start
    FROM generate_series(1, pg_temp.n('dispatch_discount')) g
) x;

-- @step unknown_tables
-- The tables whose real columns are unknown: small, plausible, archived as JSON by the tool.
INSERT INTO dispatch_action (id, name, code, enabled)
SELECT g, 'Action ' || g, 'act_' || g, pg_temp.chance(531, g, 80)
FROM generate_series(1, pg_temp.n('dispatch_action')) g;

INSERT INTO dispatch_client (id, name, api_key, active, created_at)
SELECT g, (ARRAY['Web', 'iOS', 'Android', 'Desktop', 'Partner API', 'Legacy'])[(g - 1) % 6 + 1],
       md5(pg_temp.h(532, g)::text), g <> 6, pg_temp.ts(533, g, 6)
FROM generate_series(1, pg_temp.n('dispatch_client')) g;

INSERT INTO dispatch_client3d (id, version, platform, released_at)
SELECT g, '3.' || g || '.0', (ARRAY['win', 'mac', 'linux'])[(g - 1) % 3 + 1], pg_temp.ts(534, g, 12)
FROM generate_series(1, pg_temp.n('dispatch_client3d')) g;

INSERT INTO dispatch_event (id, kind, payload, user_id, created_at)
SELECT g, pg_temp.pick(535, g, ARRAY['login', 'logout', 'export', 'import', 'sync']),
       '{"seq": ' || g || '}',
       CASE WHEN pg_temp.chance(536, g, 20) THEN NULL
            ELSE 1 + pg_temp.ri(537, g, pg_temp.n('auth_user')) END,
       pg_temp.ts(538, g, pg_temp.n('dispatch_event'))
FROM generate_series(1, pg_temp.n('dispatch_event')) g;

INSERT INTO dispatch_instance (id, hostname, version, started_at)
SELECT g, 'mdw-app-0' || g, '2.' || (g + 3) || '.1', pg_temp.ts(539, g, 5)
FROM generate_series(1, pg_temp.n('dispatch_instance')) g;

INSERT INTO dispatch_language (id, code, name)
SELECT t.ord, t.code, t.name
FROM unnest(ARRAY['en', 'es', 'fr', 'de', 'it', 'pt', 'ja', 'zh', 'ko', 'hi', 'ru', 'ar'],
            ARRAY['English', 'Español', 'Français', 'Deutsch', 'Italiano', 'Português', '日本語',
                  '中文', '한국어', 'हिन्दी', 'Русский', 'العربية'])
     WITH ORDINALITY AS t(code, name, ord);

INSERT INTO dispatch_link (id, url, label, created_at)
SELECT g, 'https://example.com/l/' || md5(pg_temp.h(541, g)::text), 'Link ' || g,
       pg_temp.ts(542, g, pg_temp.n('dispatch_link'))
FROM generate_series(1, pg_temp.n('dispatch_link')) g;

INSERT INTO dispatch_master (id, user_id, name, level)
SELECT g, pg_temp.any_staff(543, g), 'Master ' || g, 1 + pg_temp.ri(544, g, 3)::integer
FROM generate_series(1, pg_temp.n('dispatch_master')) g;

INSERT INTO dispatch_reading (id, user_id, notification_id, read_at)
SELECT g, 1 + pg_temp.ri(545, g, pg_temp.n('auth_user')),
       1 + pg_temp.ri(546, g, pg_temp.n('dispatch_notification')),
       pg_temp.ts(547, g, pg_temp.n('dispatch_reading'))
FROM generate_series(1, pg_temp.n('dispatch_reading')) g;

INSERT INTO dispatch_storage (id, bucket, path, size)
SELECT g, pg_temp.pick(548, g, ARRAY['mdw-files', 'mdw-archive', 'mdw-exports']),
       'files/' || md5(pg_temp.h(549, g)::text), 1000 + pg_temp.ri(550, g, 100000000)
FROM generate_series(1, pg_temp.n('dispatch_storage')) g;

INSERT INTO dispatch_ware (id, name, sku, quantity, price)
SELECT g, pg_temp.pick(551, g, ARRAY['Aligner case', 'Chewies', 'Cleaning crystals',
                                     'Retainer box', 'Brush kit']) || ' ' || g,
       'SKU-' || lpad(g::text, 6, '0'), pg_temp.ri(552, g, 500)::integer,
       pg_temp.money(553, g, 100, 20000)
FROM generate_series(1, pg_temp.n('dispatch_ware')) g;
