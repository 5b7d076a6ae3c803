-- The recipient index serves one question: how many sign-in codes went to this number in the
-- last hour (the OTP rate limit). Only `sms` messages are asked about, so only they are kept in
-- it; order and booking notifications (two messages per order on a launch day) no longer each
-- add an entry the question never reads.
DROP INDEX outbox_recipient;
CREATE INDEX outbox_recipient ON outbox (tenant_id, recipient, created_at) WHERE kind = 'sms';
