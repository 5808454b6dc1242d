-- The inbox's totals (issue #18): ``include_total`` reads these counters
-- instead of counting rows. One row per combination of the columns the
-- counted filters name; a trigger on ``conversations`` keeps them exact
-- whatever statement changes a row (the projection, a rebuild, an erasure).
-- A rebuild copies the triggers onto its shadow table (projections/rebuild.py);
-- the function names ``inbox_counts`` unqualified, so it counts into the
-- shadow copy there.
CREATE TABLE inbox_counts (
    status      text    NOT NULL,
    assignee_id text    NOT NULL,  -- '' for none
    team_id     text    NOT NULL,  -- '' for none
    priority    text    NOT NULL,
    deleted     boolean NOT NULL,
    n           bigint  NOT NULL,
    PRIMARY KEY (status, assignee_id, team_id, priority, deleted)
);

CREATE FUNCTION parley_inbox_counts() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    left_over bigint;
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE inbox_counts SET n = n - 1
        WHERE status = OLD.status AND assignee_id = coalesce(OLD.assignee_id, '')
          AND team_id = coalesce(OLD.team_id, '') AND priority = OLD.priority
          AND deleted = OLD.deleted
        RETURNING n INTO left_over;
        IF left_over = 0 THEN  -- no empty rows: the table is the GROUP BY of its rows
            DELETE FROM inbox_counts
            WHERE status = OLD.status AND assignee_id = coalesce(OLD.assignee_id, '')
              AND team_id = coalesce(OLD.team_id, '') AND priority = OLD.priority
              AND deleted = OLD.deleted AND n = 0;
        END IF;
    END IF;
    IF TG_OP IN ('UPDATE', 'INSERT') THEN
        INSERT INTO inbox_counts AS c (status, assignee_id, team_id, priority, deleted, n)
        VALUES (NEW.status, coalesce(NEW.assignee_id, ''), coalesce(NEW.team_id, ''),
                NEW.priority, NEW.deleted, 1)
        ON CONFLICT (status, assignee_id, team_id, priority, deleted)
        DO UPDATE SET n = c.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER conversations_counted
    AFTER INSERT OR DELETE ON conversations
    FOR EACH ROW EXECUTE FUNCTION parley_inbox_counts();

CREATE TRIGGER conversations_recounted
    AFTER UPDATE OF status, assignee_id, team_id, priority, deleted ON conversations
    FOR EACH ROW
    WHEN (OLD.status IS DISTINCT FROM NEW.status
          OR OLD.assignee_id IS DISTINCT FROM NEW.assignee_id
          OR OLD.team_id IS DISTINCT FROM NEW.team_id
          OR OLD.priority IS DISTINCT FROM NEW.priority
          OR OLD.deleted IS DISTINCT FROM NEW.deleted)
    EXECUTE FUNCTION parley_inbox_counts();

INSERT INTO inbox_counts (status, assignee_id, team_id, priority, deleted, n)
SELECT status, coalesce(assignee_id, ''), coalesce(team_id, ''), priority, deleted, count(*)
FROM conversations
GROUP BY 1, 2, 3, 4, 5;

-- The status filter (a tab of the inbox) on the default sort: rare statuses
-- (pending, snoozed) would otherwise walk the whole activity index.
CREATE INDEX conversations_by_status
    ON conversations (status, activity_at DESC, conversation_id DESC);
