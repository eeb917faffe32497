-- The customer directory's read model (ADR 0048): customers, and their contacts.
-- A contact's name, e-mail and phone are personal data: they read `erased` once
-- the contact is erased (the projection overwrites them; a rebuild reads them so).

CREATE TABLE customers (
    customer_id TEXT PRIMARY KEY,
    aggregate_id {UUID} NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    tenant_id TEXT NOT NULL,
    primary_domain TEXT NOT NULL,
    relationship TEXT NOT NULL,
    indirect_provider TEXT,
    channels TEXT NOT NULL,
    webhook_url TEXT,
    opted_out TEXT NOT NULL,
    registered_at {MOMENT} NOT NULL,
    version INTEGER NOT NULL,
    position {BIGINT} NOT NULL
);

CREATE TABLE customer_contacts (
    contact_id {UUID} PRIMARY KEY,
    customer_id TEXT NOT NULL,
    role TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    language TEXT NOT NULL,
    removed {BOOLEAN} NOT NULL DEFAULT {FALSE},
    version INTEGER NOT NULL,
    position {BIGINT} NOT NULL
);
CREATE INDEX customer_contacts_customer ON customer_contacts (customer_id, role);
