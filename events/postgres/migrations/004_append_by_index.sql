-- parley_append reads the log only by index: every lookup is a probe for a
-- few keys (the head, each stream's version, each append's first event id),
-- so none may ever scan the events table, however large it is.
--
-- Why the planner needs telling: PL/pgSQL caches a generic plan for each
-- statement of the function, per connection, and keeps it until the table's
-- statistics change. A writer connection opened while the log was small
-- (any new deployment, any test database) planned the event-id lookup as a
-- hash join over a sequential scan of events, the cheapest plan for a few
-- hundred rows, and kept it while the log grew: each group commit then read
-- the whole log under the append lock (measured: 1.6 ms and 300 buffers per
-- call at 4,000 events, 4.7 ms at 20,000, where the index probes take 0.4 ms
-- and 14 buffers). Autovacuum's ANALYZE would replace the plan eventually,
-- but the lock cannot wait for it.
--
-- With sequential scans, hash joins and merge joins off for this function
-- only, every statement in it is an index scan or a nested loop of index
-- probes, whatever the statistics said when it was planned.
ALTER FUNCTION parley_append(text[], integer[], integer[], uuid[], text[], smallint[],
                             jsonb[], jsonb[], boolean)
    SET enable_seqscan = off
    SET enable_hashjoin = off
    SET enable_mergejoin = off;
