INSERT INTO public."widgets" AS t ("id", "legacy_widget_id", "kind", "legacy_kind", "spec", "label", "owner_id", "shop_id", "legacy_shop_id", "metadata")
SELECT _uuid, _legacy_id, "kind", "legacy_kind", "spec", "label", "owner_id", "shop_id", "legacy_shop_id", coalesce(_metadata, '{}'::jsonb) || CASE WHEN "_q_unknown_code_kind" OR "_q_invalid_json_spec" THEN jsonb_build_object('legacy_raw', jsonb_strip_nulls(jsonb_build_object('kind', CASE WHEN "_q_unknown_code_kind" THEN to_jsonb("_raw_kind") END, 'spec', CASE WHEN "_q_invalid_json_spec" THEN to_jsonb("_raw_spec") END))) ELSE '{}'::jsonb END
FROM pg_temp.mdw_work
WHERE _outcome IS NULL
