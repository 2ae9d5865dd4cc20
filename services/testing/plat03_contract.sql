-- The PLAT_03 PostgreSQL contract, as the services' tests create it.
-- Run by a superuser with psql, passwords passed as variables:
--   psql -v ON_ERROR_STOP=1 -v owner_password=... -v lead_intake_password=... \
--        -v people_password=... -v ro_password=... -f plat03_contract.sql postgres
-- The platform helper's PLAT_03 role should produce the same database, schemas, roles and (default) privileges.

CREATE ROLE motorcade_owner LOGIN PASSWORD :'owner_password';
CREATE ROLE lead_intake_app LOGIN PASSWORD :'lead_intake_password';
CREATE ROLE people_app LOGIN PASSWORD :'people_password';
CREATE ROLE motorcade_ro LOGIN PASSWORD :'ro_password';

CREATE DATABASE motorcade OWNER motorcade_owner ENCODING 'UTF8' TEMPLATE template0;
REVOKE ALL ON DATABASE motorcade FROM PUBLIC;
GRANT CONNECT ON DATABASE motorcade TO motorcade_owner, lead_intake_app, people_app, motorcade_ro;

\connect motorcade

-- PostgreSQL 15 already refuses CREATE on public to PUBLIC; nobody but the owner uses it.
REVOKE ALL ON SCHEMA public FROM PUBLIC;

CREATE SCHEMA leads AUTHORIZATION motorcade_owner;
CREATE SCHEMA people AUTHORIZATION motorcade_owner;

-- leads: the lead-intake API reads and writes, the people API and read-only role only read.
GRANT USAGE ON SCHEMA leads TO lead_intake_app, people_app, motorcade_ro;
ALTER DEFAULT PRIVILEGES FOR ROLE motorcade_owner IN SCHEMA leads
    GRANT SELECT, INSERT, UPDATE ON TABLES TO lead_intake_app;
ALTER DEFAULT PRIVILEGES FOR ROLE motorcade_owner IN SCHEMA leads
    GRANT USAGE, SELECT ON SEQUENCES TO lead_intake_app;
ALTER DEFAULT PRIVILEGES FOR ROLE motorcade_owner IN SCHEMA leads
    GRANT SELECT ON TABLES TO people_app, motorcade_ro;

-- people: the people API reads, writes and deletes; the read-only role only reads.
GRANT USAGE ON SCHEMA people TO people_app, motorcade_ro;
ALTER DEFAULT PRIVILEGES FOR ROLE motorcade_owner IN SCHEMA people
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO people_app;
ALTER DEFAULT PRIVILEGES FOR ROLE motorcade_owner IN SCHEMA people
    GRANT USAGE, SELECT ON SEQUENCES TO people_app;
ALTER DEFAULT PRIVILEGES FOR ROLE motorcade_owner IN SCHEMA people
    GRANT SELECT ON TABLES TO motorcade_ro;
