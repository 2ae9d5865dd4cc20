-- Leads submitted through the public intake form, their status history, and the staff API keys.
CREATE TABLE leads.leads (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    status          text NOT NULL DEFAULT 'new'
                    CHECK (status IN ('new', 'contacted', 'scheduled', 'won', 'lost')),
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    email           text CHECK (length(email) <= 254),
    phone           text CHECK (length(phone) <= 32),
    service         text NOT NULL CHECK (length(service) BETWEEN 1 AND 120),
    window_start    timestamptz,
    window_end      timestamptz,
    message         text CHECK (length(message) <= 5000),
    source          text NOT NULL CHECK (length(source) BETWEEN 1 AND 64),
    consent_at      timestamptz NOT NULL,
    idempotency_key text UNIQUE,
    request_hash    bytea,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CHECK (email IS NOT NULL OR phone IS NOT NULL),
    CHECK ((window_start IS NULL) = (window_end IS NULL) AND (window_end IS NULL OR window_end > window_start)),
    CHECK ((idempotency_key IS NULL) = (request_hash IS NULL))
);
CREATE INDEX leads_created_idx ON leads.leads (created_at DESC, id DESC);
CREATE INDEX leads_status_created_idx ON leads.leads (status, created_at DESC, id DESC);

CREATE TABLE leads.lead_status_history (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    lead_id     uuid NOT NULL REFERENCES leads.leads (id),
    from_status text,
    to_status   text NOT NULL,
    note        text CHECK (length(note) <= 1000),
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lead_status_history_lead_idx ON leads.lead_status_history (lead_id, id);

CREATE TABLE leads.api_keys (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL UNIQUE,
    key_prefix text NOT NULL,
    key_hash   bytea NOT NULL UNIQUE,
    scopes     text[] NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);
-- Keys are created by the migration role's CLI; the runtime role only reads them, the people API not at all.
REVOKE INSERT, UPDATE, DELETE ON leads.api_keys FROM lead_intake_app;
REVOKE ALL ON leads.api_keys FROM people_app;
