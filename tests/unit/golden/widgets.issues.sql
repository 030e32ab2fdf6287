SELECT w._legacy_id, i.kind, i.col
FROM pg_temp.mdw_work w
CROSS JOIN LATERAL (VALUES ('unknown_code', 'kind', w."_q_unknown_code_kind"), ('invalid_json', 'spec', w."_q_invalid_json_spec"), ('unlabelled', 'label', w."_q_unlabelled_label"), ('missing_parent', 'shop_id', w."_q_missing_parent_shop_id")) AS i (kind, col, flagged)
WHERE w._outcome IS NULL AND (w."_q_unknown_code_kind" OR w."_q_invalid_json_spec" OR w."_q_unlabelled_label" OR w."_q_missing_parent_shop_id") AND i.flagged
