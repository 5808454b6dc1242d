-- Snooze (issue #17): a snoozed conversation's inbox row says until when,
-- and the waker (commands/waker.py) finds the ones whose time has come.
--
-- ``snoozed_until``: the ``until`` of the ConversationSnoozed that set the
-- row's status to 'snoozed'; ``snoozed_version``: that event's stream
-- position (the waker's command id names it, so one snooze is woken once).
-- Both are NULL unless the conversation is snoozed: ConversationWoke, a
-- status change and a delete clear them.
ALTER TABLE conversations
    ADD COLUMN snoozed_until   timestamptz,
    ADD COLUMN snoozed_version integer;

-- The waker's due set: the snoozed rows, earliest ``until`` first.
CREATE INDEX conversations_snoozed ON conversations (snoozed_until) WHERE status = 'snoozed';

-- No conversation was snoozed before this release (there was no way to):
-- rows projected before this migration need nothing filled in.
