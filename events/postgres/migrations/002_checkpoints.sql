-- How far each consumer of the log (the relay, every projection) has got.
-- A checkpoint only ever moves forward: an update that would move it back
-- fails, so a late or replayed worker can never rewind another's progress.
CREATE TABLE checkpoints (
    name       text        PRIMARY KEY,
    position   bigint      NOT NULL DEFAULT 0 CHECK (position >= 0),
    updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
);

CREATE FUNCTION parley_checkpoints_only_move_forward() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.position < OLD.position THEN
        RAISE EXCEPTION 'checkpoint % cannot move back from % to %',
            OLD.name, OLD.position, NEW.position
            USING ERRCODE = 'check_violation';
    END IF;
    NEW.updated_at := clock_timestamp();
    RETURN NEW;
END
$$;

CREATE TRIGGER checkpoints_only_move_forward
    BEFORE UPDATE ON checkpoints
    FOR EACH ROW EXECUTE FUNCTION parley_checkpoints_only_move_forward();
