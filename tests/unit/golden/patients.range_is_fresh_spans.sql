SELECT NOT EXISTS (SELECT 1
FROM public."patients"
WHERE ("legacy_patient_id" = ANY(%(span_keys)s::bigint[])))
