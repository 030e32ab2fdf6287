SELECT w._legacy_id
FROM pg_temp.mdw_work w
LEFT JOIN public."widgets" t ON t."legacy_widget_id" = w._legacy_id
WHERE w._outcome IS NULL AND (t."legacy_widget_id" IS NULL OR (t."id", t."kind", t."legacy_kind", t."spec", t."label", t."owner_id", t."shop_id", t."legacy_shop_id", t."metadata") IS DISTINCT
FROM (w._uuid, w."kind", w."legacy_kind", w."spec", w."label", w."owner_id", w."shop_id", w."legacy_shop_id", coalesce(w._metadata, '{}'::jsonb) || CASE WHEN w."_q_unknown_code_kind" OR w."_q_invalid_json_spec" THEN jsonb_build_object('legacy_raw', jsonb_strip_nulls(jsonb_build_object('kind', CASE WHEN w."_q_unknown_code_kind" THEN to_jsonb(w."_raw_kind") END, 'spec', CASE WHEN w."_q_invalid_json_spec" THEN to_jsonb(w."_raw_spec") END))) ELSE '{}'::jsonb END))
ORDER BY 1
