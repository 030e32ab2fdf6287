WITH w AS (INSERT INTO public."widgets" AS t ("id", "legacy_widget_id", "kind", "legacy_kind", "spec", "label", "owner_id", "shop_id", "legacy_shop_id", "metadata")
SELECT _uuid, _legacy_id, "kind", "legacy_kind", "spec", "label", "owner_id", "shop_id", "legacy_shop_id", coalesce(_metadata, '{}'::jsonb) || CASE WHEN "_q_unknown_code_kind" OR "_q_invalid_json_spec" THEN jsonb_build_object('legacy_raw', jsonb_strip_nulls(jsonb_build_object('kind', CASE WHEN "_q_unknown_code_kind" THEN to_jsonb("_raw_kind") END, 'spec', CASE WHEN "_q_invalid_json_spec" THEN to_jsonb("_raw_spec") END))) ELSE '{}'::jsonb END
FROM (SELECT w.*
FROM pg_temp.mdw_work w
WHERE w._outcome IS NULL AND NOT EXISTS (SELECT 1
FROM public."widgets" t
WHERE t."legacy_widget_id" = w._legacy_id AND (t."kind", t."legacy_kind", t."spec", t."label", t."owner_id", t."shop_id", t."legacy_shop_id", t.metadata) IS NOT DISTINCT
FROM (w."kind", w."legacy_kind", w."spec", w."label", w."owner_id", w."shop_id", w."legacy_shop_id", coalesce(w._metadata, '{}'::jsonb) || CASE WHEN w."_q_unknown_code_kind" OR w."_q_invalid_json_spec" THEN jsonb_build_object('legacy_raw', jsonb_strip_nulls(jsonb_build_object('kind', CASE WHEN w."_q_unknown_code_kind" THEN to_jsonb(w."_raw_kind") END, 'spec', CASE WHEN w."_q_invalid_json_spec" THEN to_jsonb(w."_raw_spec") END))) ELSE '{}'::jsonb END))) AS changed
WHERE _outcome IS NULL
ON CONFLICT ("legacy_widget_id")
DO UPDATE SET "kind" = EXCLUDED."kind", "legacy_kind" = EXCLUDED."legacy_kind", "spec" = EXCLUDED."spec", "label" = EXCLUDED."label", "owner_id" = EXCLUDED."owner_id", "shop_id" = EXCLUDED."shop_id", "legacy_shop_id" = EXCLUDED."legacy_shop_id", "metadata" = EXCLUDED."metadata", updated_at = now()
WHERE (t."kind", t."legacy_kind", t."spec", t."label", t."owner_id", t."shop_id", t."legacy_shop_id", t."metadata") IS DISTINCT
FROM (EXCLUDED."kind", EXCLUDED."legacy_kind", EXCLUDED."spec", EXCLUDED."label", EXCLUDED."owner_id", EXCLUDED."shop_id", EXCLUDED."legacy_shop_id", EXCLUDED."metadata") RETURNING (t.xmax = 0) AS inserted, t."legacy_widget_id" AS k)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted), coalesce(array_agg(k::bigint) FILTER (WHERE inserted), '{}')
FROM w
