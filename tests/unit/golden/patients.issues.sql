SELECT w._legacy_id, i.kind, i.col
FROM pg_temp.mdw_work w
CROSS JOIN LATERAL (VALUES ('unknown_code', 'sex', w."_q_unknown_code_sex"), ('unknown_code', 'status', w."_q_unknown_code_status"), ('invalid_json', 'schemes', w."_q_invalid_json_schemes"), ('python_literal_json', 'schemes', w."_q_python_literal_json_schemes"), ('placeholder_date', 'date_of_birth', w."_q_placeholder_date_date_of_birth"), ('future_date', 'date_of_birth', w."_q_future_date_date_of_birth"), ('missing_parent', 'doctor_id', w."_q_missing_parent_doctor_id"), ('missing_parent', 'office_id', w."_q_missing_parent_office_id")) AS i (kind, col, flagged)
WHERE w._outcome IS NULL AND i.flagged
