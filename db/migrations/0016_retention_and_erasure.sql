CREATE TYPE "public"."purge_reason" AS ENUM('retention', 'erasure', 'evidence_retention');--> statement-breakpoint
CREATE TABLE "capture_tombstones" (
	"capture_id" uuid PRIMARY KEY NOT NULL,
	"message_sha256" text NOT NULL,
	"media_sha256s" jsonb NOT NULL,
	"reason" "purge_reason" NOT NULL,
	"state" "capture_state" NOT NULL,
	"reject_reason_code" text,
	"clock_started_at" timestamp with time zone NOT NULL,
	"purged_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "captures" DROP CONSTRAINT "accepted_capture_is_complete";--> statement-breakpoint
ALTER TABLE "captures" ADD COLUMN "purged_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "capture_tombstones" ADD CONSTRAINT "capture_tombstones_capture_id_captures_id_fk" FOREIGN KEY ("capture_id") REFERENCES "public"."captures"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "captures" ADD CONSTRAINT "purged_capture_keeps_no_personal_data" CHECK ("captures"."purged_at" IS NULL OR ("captures"."manifest" IS NULL AND octet_length("captures"."raw_message") = 0));--> statement-breakpoint
ALTER TABLE "captures" ADD CONSTRAINT "accepted_capture_is_complete" CHECK ("captures"."state" = 'quarantined' OR ("captures"."device_id" IS NOT NULL AND "captures"."device_capture_id" IS NOT NULL AND "captures"."captured_at" IS NOT NULL AND ("captures"."manifest" IS NOT NULL OR "captures"."purged_at" IS NOT NULL)));--> statement-breakpoint
-- A tombstone is the record that a purge happened: written once, never changed or removed.
CREATE TRIGGER capture_tombstones_append_only
  BEFORE UPDATE OR DELETE ON capture_tombstones
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_record();
--> statement-breakpoint
CREATE TRIGGER capture_tombstones_no_truncate
  BEFORE TRUNCATE ON capture_tombstones
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_record();
--> statement-breakpoint
-- Signed fields stay immutable, with one exception the law requires (retention and erasure,
-- docs/party.md): the purge itself may empty the raw message and the manifest, once, and only
-- with the capture's tombstone already written in the same transaction. After it the row is a
-- tombstone too, and nothing about it changes any more.
CREATE OR REPLACE FUNCTION captures_refuse_signed_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changed text[] := ARRAY[]::text[];
  purging boolean := OLD.purged_at IS NULL AND NEW.purged_at IS NOT NULL;
BEGIN
  IF OLD.purged_at IS NOT NULL THEN
    RAISE EXCEPTION 'captures: % was purged and is a tombstone; refused change', OLD.id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF purging AND NOT EXISTS (SELECT 1 FROM capture_tombstones WHERE capture_id = NEW.id) THEN
    RAISE EXCEPTION 'captures: % may be purged only with its tombstone written first', OLD.id
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF purging AND NEW.state IS DISTINCT FROM OLD.state THEN
    RAISE EXCEPTION 'captures: a purge keeps the state it found (%)', OLD.state USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF NEW.message_sha256 IS DISTINCT FROM OLD.message_sha256 THEN changed := array_append(changed, 'message_sha256'); END IF;
  IF NOT purging AND NEW.raw_message IS DISTINCT FROM OLD.raw_message THEN changed := array_append(changed, 'raw_message'); END IF;
  IF NOT purging AND NEW.manifest IS DISTINCT FROM OLD.manifest THEN changed := array_append(changed, 'manifest'); END IF;
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
