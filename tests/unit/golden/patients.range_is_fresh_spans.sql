SELECT NOT EXISTS (SELECT 1
FROM public."patients"
WHERE ("legacy_patient_id" = ANY(%(span_keys)s::bigint[]))) AND NOT EXISTS (SELECT 1
FROM migration.id_map
WHERE entity = %(entity)s AND (legacy_id = ANY(%(span_keys)s::bigint[])))
