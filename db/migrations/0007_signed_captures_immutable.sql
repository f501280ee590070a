-- What a device signed is evidence: the raw message and every column that repeats a signed
-- field are written once, when the message arrives, and never changed afterwards. Review,
-- screening and incidents only move a capture's state and links; an edit of a signed field is
-- refused here, and one made with triggers disabled is caught by the integrity check, which
-- compares these columns with the signed bytes on every evidence read.
CREATE FUNCTION captures_refuse_signed_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed text[] := ARRAY[]::text[];
BEGIN
  IF NEW.message_sha256 IS DISTINCT FROM OLD.message_sha256 THEN changed := array_append(changed, 'message_sha256'); END IF;
  IF NEW.raw_message IS DISTINCT FROM OLD.raw_message THEN changed := array_append(changed, 'raw_message'); END IF;
  IF NEW.manifest IS DISTINCT FROM OLD.manifest THEN changed := array_append(changed, 'manifest'); END IF;
  IF NEW.device_id IS DISTINCT FROM OLD.device_id THEN changed := array_append(changed, 'device_id'); END IF;
  IF NEW.device_capture_id IS DISTINCT FROM OLD.device_capture_id THEN changed := array_append(changed, 'device_capture_id'); END IF;
  IF NEW.captured_at IS DISTINCT FROM OLD.captured_at THEN changed := array_append(changed, 'captured_at'); END IF;
  IF NEW.received_at IS DISTINCT FROM OLD.received_at THEN changed := array_append(changed, 'received_at'); END IF;
  IF NEW.violation_type IS DISTINCT FROM OLD.violation_type THEN changed := array_append(changed, 'violation_type'); END IF;
  IF NEW.latitude IS DISTINCT FROM OLD.latitude THEN changed := array_append(changed, 'latitude'); END IF;
  IF NEW.longitude IS DISTINCT FROM OLD.longitude THEN changed := array_append(changed, 'longitude'); END IF;
  IF cardinality(changed) > 0 THEN
    RAISE EXCEPTION 'captures: signed fields are immutable, refused change of %', array_to_string(changed, ', ')
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER captures_signed_fields_immutable
  BEFORE UPDATE ON captures
  FOR EACH ROW EXECUTE FUNCTION captures_refuse_signed_change();
--> statement-breakpoint
-- Which stored file is which signed medium, and what a stored file is, never change either.
CREATE TRIGGER capture_media_immutable
  BEFORE UPDATE ON capture_media
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_record();
--> statement-breakpoint
CREATE FUNCTION media_refuse_identity_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.sha256 IS DISTINCT FROM OLD.sha256 OR NEW.size_bytes IS DISTINCT FROM OLD.size_bytes
     OR NEW.content_type IS DISTINCT FROM OLD.content_type THEN
    RAISE EXCEPTION 'media: a stored file''s hash, size and type are immutable' USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER media_identity_immutable
  BEFORE UPDATE ON media
  FOR EACH ROW EXECUTE FUNCTION media_refuse_identity_change();
