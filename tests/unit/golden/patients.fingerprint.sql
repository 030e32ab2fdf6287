COPY (SELECT (t."id"::bigint >> 5), count(*), sum(hashint8extended(t."id"::bigint, t.xmin::text::bigint))::numeric
FROM dispatch_patient AS t GROUP BY 1) TO STDOUT (FORMAT BINARY)
