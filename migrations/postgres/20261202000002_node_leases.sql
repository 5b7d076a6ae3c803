-- Leases on node-wide roles. `outbox_relay`: the one node that relays the outbox. It used to be
-- shared by claiming every message with a lease of its own, which wrote each message twice
-- (claim, then outcome); with the relay lease a message is written once per delivery attempt.
-- `holder` is a random name of the holding node's relay; `expires_at` is in epoch milliseconds.
CREATE TABLE node_leases (
    name        TEXT    NOT NULL PRIMARY KEY,
    holder      TEXT    NOT NULL,
    expires_at  BIGINT  NOT NULL
);
INSERT INTO node_leases (name, holder, expires_at) VALUES ('outbox_relay', '', 0);
-- Not tenant data (a role name, a random node name, a time): no row-level security.
GRANT SELECT, UPDATE ON node_leases TO forecourt_app;
