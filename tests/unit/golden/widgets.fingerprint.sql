COPY (SELECT (t."id"::bigint >> 5), count(*), bit_xor(hashxidextended(t.xmin, t."id"::bigint))::numeric
FROM legacy_widget AS t GROUP BY 1) TO STDOUT (FORMAT BINARY)
