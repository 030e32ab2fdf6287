-- Key ranges of an entity split over workers, each with its own checkpoint, so that a
-- resumed run continues every range from its last committed batch.
CREATE TABLE IF NOT EXISTS migration.range_progress (
    entity text NOT NULL,
    range_no integer NOT NULL,
    lo bigint NOT NULL,
    hi bigint NOT NULL,
    last_legacy_id bigint,
    done boolean NOT NULL DEFAULT false,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (entity, range_no)
);
