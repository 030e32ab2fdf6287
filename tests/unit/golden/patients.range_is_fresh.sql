SELECT NOT EXISTS (SELECT 1
FROM public."patients"
WHERE ("legacy_patient_id" > %(lo)s AND "legacy_patient_id" <= %(hi)s))
