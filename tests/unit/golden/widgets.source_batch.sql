COPY (SELECT *
FROM (SELECT "id", "owner_id", "shop_id", "kind", "spec", "label"
FROM legacy_widget) AS src
WHERE src."id" > 41 AND src."id" <= 9000
ORDER BY src."id" LIMIT 500) TO STDOUT (FORMAT BINARY)
