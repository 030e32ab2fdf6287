SELECT NOT EXISTS (SELECT 1
FROM public."widgets"
WHERE ("legacy_widget_id" = ANY(%(span_keys)s::bigint[])))
