COPY (SELECT *
FROM (SELECT "id", "owner_id", "shop_id", "kind", "spec", "label"
FROM legacy_widget) AS src
WHERE (src."id" > 31 AND src."id" <= 63) OR (src."id" > 99 AND src."id" <= 100)
ORDER BY src."id") TO STDOUT (FORMAT BINARY)
