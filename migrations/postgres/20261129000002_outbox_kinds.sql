-- The outbox takes two more kinds of message: `sms` (a text to a mobile number, e.g. a buyer's
-- sign-in code, through the SMS adapter) and `refund` (a refund request to the payment
-- provider).
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check
    CHECK (kind IN ('notify', 'event', 'hook', 'sms', 'refund'));
-- Rate limits count a recipient's recent messages (sign-in codes per number and hour).
CREATE INDEX outbox_recipient ON outbox (tenant_id, recipient, created_at);
