-- The people directory, the leads converted into people, and the API keys.
CREATE TABLE people.persons (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    full_name      text NOT NULL CHECK (length(full_name) BETWEEN 1 AND 200),
    preferred_name text CHECK (length(preferred_name) BETWEEN 1 AND 200),
    sort_name      text GENERATED ALWAYS AS (lower(full_name)) STORED,
    emails         text[] NOT NULL DEFAULT '{}' CHECK (cardinality(emails) <= 10),
    phones         text[] NOT NULL DEFAULT '{}' CHECK (cardinality(phones) <= 10),
    organisation   text CHECK (length(organisation) BETWEEN 1 AND 200),
    roles          text[] NOT NULL DEFAULT '{}'
                   CHECK (roles <@ ARRAY['client', 'staff', 'contact', 'partner', 'supplier']),
    tags           text[] NOT NULL DEFAULT '{}' CHECK (cardinality(tags) <= 20),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    updated_by     text NOT NULL
);
CREATE INDEX persons_sort_idx ON people.persons (sort_name, id);
CREATE INDEX persons_emails_idx ON people.persons USING gin (emails);
CREATE INDEX persons_phones_idx ON people.persons USING gin (phones);
CREATE INDEX persons_tags_idx ON people.persons USING gin (tags);
CREATE INDEX persons_roles_idx ON people.persons USING gin (roles);

-- A lead (leads.leads.id) converted into a person. One row per lead: converting it again finds this row.
-- No foreign key into the leads schema, so each service migrates and deploys on its own.
CREATE TABLE people.person_leads (
    lead_id      uuid PRIMARY KEY,
    person_id    uuid NOT NULL REFERENCES people.persons (id) ON DELETE CASCADE,
    converted_at timestamptz NOT NULL DEFAULT now(),
    converted_by text NOT NULL
);
CREATE INDEX person_leads_person_idx ON people.person_leads (person_id);

CREATE TABLE people.api_keys (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL UNIQUE,
    key_prefix text NOT NULL,
    key_hash   bytea NOT NULL UNIQUE,
    scopes     text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
-- Keys are created by the migration role's CLI; the runtime role only reads them.
REVOKE INSERT, UPDATE, DELETE ON people.api_keys FROM people_app;
