-- Which derivation of legacy id -> UUID a deployment uses. Layout 1 (deployments made before
-- this step, which have no row here) is the keyed hash of (entity, id). Layout 2 (every
-- deployment made since) takes the UUID's first 4 bytes from a keyed hash of the id's block
-- of 4096 ids instead, so that the rows of one batch land on a few pages of every UUID
-- index rather than on thousands. A deployment never changes layout: one legacy row never
-- gets two UUIDs.
CREATE TABLE IF NOT EXISTS migration.id_derivation (
    singleton boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    uuid_layout smallint NOT NULL CHECK (uuid_layout IN (1, 2)),
    chosen_at timestamptz NOT NULL DEFAULT now()
);
REVOKE ALL ON migration.id_derivation FROM PUBLIC;
