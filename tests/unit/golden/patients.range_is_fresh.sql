SELECT NOT EXISTS (SELECT 1
FROM public."patients"
WHERE ("legacy_patient_id" > %(lo)s AND "legacy_patient_id" <= %(hi)s)) AND NOT EXISTS (SELECT 1
FROM migration.id_map
WHERE entity = %(entity)s AND (legacy_id > %(lo)s AND legacy_id <= %(hi)s))
