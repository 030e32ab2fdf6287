COPY (SELECT *
FROM (SELECT "id", "user_id", "doctor_id", "office_id", "birthdate", "sex", "suffix", "archived", "suspended", "status", "schemes", "submitted_at", "updated_at"
FROM dispatch_patient) AS src
WHERE (src."id" > 31 AND src."id" <= 63) OR (src."id" > 99 AND src."id" <= 100)
ORDER BY src."id") TO STDOUT (FORMAT BINARY)
