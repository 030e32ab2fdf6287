COPY (SELECT *
FROM (SELECT "id", "user_id", "doctor_id", "office_id", "birthdate", "sex", "suffix", "archived", "suspended", "status", "schemes", "submitted_at", "updated_at"
FROM dispatch_patient) AS src
WHERE src."id" > 41 AND src."id" <= 9000
ORDER BY src."id" LIMIT 500) TO STDOUT (FORMAT BINARY)
