SELECT NOT EXISTS (SELECT 1
FROM public."widgets"
WHERE ("legacy_widget_id" > %(lo)s AND "legacy_widget_id" <= %(hi)s))
