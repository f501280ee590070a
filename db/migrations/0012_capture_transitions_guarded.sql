-- The changes of captures.state that must never happen, whoever asks: a decided capture leaves
-- its decision only through exclusion by a malfunction window, and nothing reaches approved
-- except from review. The pairs are forbiddenInDatabase over all states of the lifecycle table
-- in core/domain/capture-lifecycle.ts; a unit test keeps this list equal to it.
CREATE FUNCTION captures_refuse_forbidden_transition() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF (OLD.state::text, NEW.state::text) IN (
    ('received', 'approved'),
    ('verified', 'approved'),
    ('quarantined', 'approved'),
    ('screened', 'approved'),
    ('excluded', 'approved'),
    ('approved', 'received'),
    ('approved', 'verified'),
    ('approved', 'quarantined'),
    ('approved', 'screened'),
    ('approved', 'awaiting_review'),
    ('approved', 'rejected'),
    ('approved', 'awaiting_second_review'),
    ('approved', 'escalated'),
    ('rejected', 'received'),
    ('rejected', 'verified'),
    ('rejected', 'quarantined'),
    ('rejected', 'screened'),
    ('rejected', 'excluded'),
    ('rejected', 'awaiting_review'),
    ('rejected', 'approved'),
    ('rejected', 'awaiting_second_review'),
    ('rejected', 'escalated')
  ) THEN
    RAISE EXCEPTION 'captures: a capture may not go from % to %', OLD.state, NEW.state
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER captures_transitions_guarded
  BEFORE UPDATE OF state ON captures
  FOR EACH ROW WHEN (OLD.state IS DISTINCT FROM NEW.state)
  EXECUTE FUNCTION captures_refuse_forbidden_transition();
