ALTER TABLE "device_certifications" ADD COLUMN "recorded_by" text;--> statement-breakpoint
ALTER TABLE "device_certifications" ADD COLUMN "confirmed_by" text;--> statement-breakpoint
ALTER TABLE "device_certifications" ADD COLUMN "confirmed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "incidents" ADD COLUMN "closed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "incidents" ADD COLUMN "closed_into" jsonb;--> statement-breakpoint
ALTER TABLE "review_decisions" ADD COLUMN "late_reason" text;--> statement-breakpoint
ALTER TABLE "device_certifications" ADD CONSTRAINT "certification_confirmation_complete" CHECK (("device_certifications"."confirmed_by" IS NULL) = ("device_certifications"."confirmed_at" IS NULL));--> statement-breakpoint
ALTER TABLE "device_certifications" ADD CONSTRAINT "certification_needs_two_people" CHECK ("device_certifications"."confirmed_by" IS NULL OR "device_certifications"."confirmed_by" IS DISTINCT FROM "device_certifications"."recorded_by");--> statement-breakpoint
ALTER TABLE "incidents" ADD CONSTRAINT "incident_closure_complete" CHECK (("incidents"."closed_at" IS NULL) = ("incidents"."closed_into" IS NULL));--> statement-breakpoint
ALTER TABLE "review_decisions" ADD CONSTRAINT "late_reason_on_approvals" CHECK ("review_decisions"."late_reason" IS NULL OR ("review_decisions"."outcome" = 'approved' AND length("review_decisions"."late_reason") > 0));--> statement-breakpoint
-- Records kept before confirmations existed and back-dated at the time were taken on one
-- person's word; they are marked as such rather than left to stop counting for their past.
UPDATE "device_certifications" SET "confirmed_by" = 'migration 0008: recorded before confirmations were kept', "confirmed_at" = "recorded_at"
  WHERE "valid_from" < "recorded_at";
--> statement-breakpoint
-- The seven erasure cases of MPS order 157 art. 22 are the law's list: a reviewer must always be
-- able to give them, so no one retires, renames or deletes them, and no reason becomes one later.
CREATE FUNCTION reject_reasons_keep_statutory() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.statutory THEN
    RAISE EXCEPTION 'reject_reasons: % is a statutory erasure case and cannot be retired, edited or deleted', OLD.code
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
  IF NEW.statutory AND (TG_OP = 'INSERT' OR NOT OLD.statutory) THEN
    RAISE EXCEPTION 'reject_reasons: the statutory list is fixed by law; % cannot be added to it', NEW.code
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER reject_reasons_statutory_fixed
  BEFORE INSERT OR UPDATE OR DELETE ON reject_reasons
  FOR EACH ROW EXECUTE FUNCTION reject_reasons_keep_statutory();
