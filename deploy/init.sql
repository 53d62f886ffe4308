-- Seeds the PostgreSQL of docker-compose.yml: a demo table, the publication the replicator streams, and
-- a replication role with the least privilege it needs. Run once by the postgres image, as superuser,
-- in the database POSTGRES_DB (shop), when the data volume is first initialised.

CREATE TABLE public.orders (
    id         bigserial PRIMARY KEY,
    customer   text          NOT NULL,
    amount     numeric(10,2) NOT NULL,
    status     text          NOT NULL DEFAULT 'new',
    created_at timestamptz   NOT NULL DEFAULT now()
);

INSERT INTO public.orders (customer, amount) VALUES
    ('Ada', 42.50),
    ('Grace', 17.00),
    ('Edsger', 99.90);

-- Created here by the owner of the table, so the replicator needs no CREATE privilege
-- ([postgres] create_publication stays false).
CREATE PUBLICATION cdc_publication FOR TABLE public.orders;

-- REPLICATION lets it create its slot and stream; it is not a superuser and owns nothing.
-- The password is for this demo only: it is repeated in docker-compose.yml as PGRK_POSTGRES_PASSWORD.
CREATE ROLE cdc_replicator LOGIN REPLICATION PASSWORD 'replicator-demo-password';
GRANT CONNECT ON DATABASE shop TO cdc_replicator;
GRANT USAGE ON SCHEMA public TO cdc_replicator;
-- SELECT on each published table, and nothing more: the replicator checks at start-up that it can
-- read every table it streams (README.md lists the same grants for your own server).
GRANT SELECT ON public.orders TO cdc_replicator;
