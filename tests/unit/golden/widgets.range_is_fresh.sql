SELECT NOT EXISTS (SELECT 1
FROM public."widgets"
WHERE ("legacy_widget_id" > %(lo)s AND "legacy_widget_id" <= %(hi)s)) AND NOT EXISTS (SELECT 1
FROM migration.id_map
WHERE entity = %(entity)s AND (legacy_id > %(lo)s AND legacy_id <= %(hi)s))
