SELECT s."id"::bigint AS _legacy_id, encode(set_byte(set_byte(s._uuid_h, 6, (get_byte(s._uuid_h, 6) & 15) | 128), 8, (get_byte(s._uuid_h, 8) & 63) | 128), 'hex')::uuid AS _uuid, (CASE WHEN (s."owner_id" IS NULL OR r_owner IS NULL) THEN 'rejected' WHEN s.label ILIKE 'test%%' THEN 'excluded' END) AS _outcome, (CASE WHEN (s."owner_id" IS NULL OR r_owner IS NULL) THEN 'ORPHAN_OWNER' WHEN s.label ILIKE 'test%%' THEN 'TEST_WIDGET' END) AS _reason, (CASE WHEN (s."owner_id" IS NULL OR r_owner IS NULL) THEN 'owner_id=' || coalesce(s."owner_id"::text, 'NULL') || ' has no migrated profiles row' WHEN s.label ILIKE 'test%%' THEN NULL END) AS _detail, s."_c_kind" AS "kind", s."_c_legacy_kind" AS "legacy_kind", s."_c_spec" AS "spec", s."_c_label" AS "label", (jsonb_build_object('legacy_label', s.label)) AS _metadata, r_owner AS "owner_id", r_shop AS "shop_id", s."shop_id"::bigint AS "legacy_shop_id", coalesce((s.kind IS NOT NULL AND s.kind NOT IN (1, 2)), false) AS "_q_unknown_code_kind", coalesce((s."_c_spec" IS NULL AND s.spec IS NOT NULL), false) AS "_q_invalid_json_spec", coalesce(s."_c_label" IS NULL, false) AS "_q_unlabelled_label", coalesce((s."shop_id" IS NOT NULL AND r_shop IS NULL), false) AS "_q_missing_parent_shop_id", CASE WHEN coalesce((s.kind IS NOT NULL AND s.kind NOT IN (1, 2)), false) THEN s."kind" END AS "_raw_kind", CASE WHEN coalesce((s."_c_spec" IS NULL AND s.spec IS NOT NULL), false) THEN s."spec" END AS "_raw_spec"
FROM (SELECT s.*, CASE WHEN %(uuid_layout)s::smallint = 2 THEN s._uuid_prefix || substring(sha256(%(secret)s::bytea || convert_to(%(entity)s::text || ':' || (s."id")::bigint::text, 'UTF8'))
FROM 5 FOR 12) ELSE substring(sha256(%(secret)s::bytea || convert_to(%(entity)s::text || ':' || (s."id")::bigint::text, 'UTF8'))
FROM 1 FOR 16) END AS _uuid_h, ((CASE s.kind WHEN 1 THEN 'small' WHEN 2 THEN 'large' ELSE 'unknown' END)::public.widget_kind) AS "_c_kind", ((CASE WHEN s.kind BETWEEN -32768 AND 32767 THEN s.kind::smallint END)) AS "_c_legacy_kind", (migration.try_jsonb(s.spec)) AS "_c_spec", (nullif(btrim(s.label), '')) AS "_c_label"
FROM (SELECT st.*, m_owner.id AS r_owner, m_shop.id AS r_shop, blk.prefix AS _uuid_prefix
FROM pg_temp.mdw_stage st
LEFT JOIN (SELECT m_owner_t.id, m_owner_t."legacy_user_id" AS legacy_id
FROM public."profiles" m_owner_t
WHERE NOT EXISTS (SELECT 1
FROM migration.pending_deletions q
WHERE q.entity = 'profiles' AND q.legacy_id = m_owner_t."legacy_user_id" AND NOT q.kept)) AS m_owner ON m_owner.legacy_id = st."owner_id"
LEFT JOIN (SELECT m_shop_t.id, m_shop_t."legacy_office_id" AS legacy_id
FROM public."offices" m_shop_t
WHERE NOT EXISTS (SELECT 1
FROM migration.pending_deletions q
WHERE q.entity = 'offices' AND q.legacy_id = m_shop_t."legacy_office_id" AND NOT q.kept)) AS m_shop ON m_shop.legacy_id = st."shop_id" 
LEFT JOIN (SELECT b.block, substring(sha256(%(secret)s::bytea || convert_to(%(entity)s::text || '#' || (b.block)::text, 'UTF8'))
FROM 1 FOR 4) AS prefix
FROM (SELECT DISTINCT (s0."id")::bigint >> 12 AS block
FROM pg_temp.mdw_stage s0) AS b) AS blk ON blk.block = (st."id")::bigint >> 12) AS s OFFSET 0) AS s
