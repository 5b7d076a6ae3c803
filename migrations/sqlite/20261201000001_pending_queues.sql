-- The due-queue indexes hold only the rows still waiting (pending messages and timers,
-- requested refunds). Keyed on (status, due time) they held
-- every delivered message and fired timer as well, and they misled SQLite's planner: a claim of
-- listed outbox ids, or a cancel of one instance's timers, walked every pending row through the
-- status prefix instead of looking the rows up by key (15 ms per relay claim at a backlog of
-- 23,000 messages). A partial index answers "what is due" alone, and the key lookups keep the
-- primary key.
DROP INDEX outbox_due;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE status = 'pending';
DROP INDEX workflow_timers_due;
CREATE INDEX workflow_timers_due ON workflow_timers (due_at) WHERE status = 'pending';
DROP INDEX refunds_due;
CREATE INDEX refunds_due ON refunds (next_attempt_at) WHERE status = 'requested';
