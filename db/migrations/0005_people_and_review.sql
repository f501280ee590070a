CREATE TYPE "public"."review_outcome" AS ENUM('approved', 'rejected', 'escalated');--> statement-breakpoint
CREATE TYPE "public"."review_step" AS ENUM('first', 'second');--> statement-breakpoint
ALTER TYPE "public"."capture_state" ADD VALUE 'awaiting_second_review';--> statement-breakpoint
ALTER TYPE "public"."capture_state" ADD VALUE 'escalated';--> statement-breakpoint
CREATE TABLE "audit_checkpoints" (
	"seq" bigint PRIMARY KEY NOT NULL,
	"hash" text NOT NULL,
	"signed_at" timestamp with time zone NOT NULL,
	"key_fingerprint" text NOT NULL,
	"signature" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "capture_annotations" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"capture_id" uuid NOT NULL,
	"person_id" uuid NOT NULL,
	"kind" text NOT NULL,
	"note" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "device_administrators" (
	"person_id" uuid NOT NULL,
	"device_id" text NOT NULL,
	CONSTRAINT "device_administrators_person_id_device_id_pk" PRIMARY KEY("person_id","device_id")
);
--> statement-breakpoint
CREATE TABLE "incidents" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"subject" text NOT NULL,
	"violation_type" text NOT NULL,
	"road" text NOT NULL,
	"direction" text NOT NULL,
	"first_captured_at" timestamp with time zone NOT NULL,
	"last_captured_at" timestamp with time zone NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "people" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"username" text NOT NULL,
	"display_name" text NOT NULL,
	"password_hash" text NOT NULL,
	"roles" jsonb NOT NULL,
	"certificate_number" text,
	"certificate_expires_at" timestamp with time zone,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"disabled_at" timestamp with time zone,
	CONSTRAINT "people_username_unique" UNIQUE("username"),
	CONSTRAINT "person_certificate_complete" CHECK (("people"."certificate_number" IS NULL) = ("people"."certificate_expires_at" IS NULL)),
	CONSTRAINT "deciding_role_needs_certificate" CHECK ("people"."certificate_number" IS NOT NULL OR NOT ("people"."roles" ?| array['reviewer', 'legal_reviewer']))
);
--> statement-breakpoint
CREATE TABLE "reject_reasons" (
	"code" text PRIMARY KEY NOT NULL,
	"label" text NOT NULL,
	"statutory" boolean DEFAULT false NOT NULL,
	"retired_at" timestamp with time zone
);
--> statement-breakpoint
CREATE TABLE "review_claims" (
	"capture_id" uuid PRIMARY KEY NOT NULL,
	"person_id" uuid NOT NULL,
	"claimed_at" timestamp with time zone NOT NULL,
	"expires_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "review_decisions" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"capture_id" uuid NOT NULL,
	"round" integer NOT NULL,
	"step" "review_step" NOT NULL,
	"outcome" "review_outcome" NOT NULL,
	"person_id" uuid NOT NULL,
	"certificate_number" text NOT NULL,
	"reason_code" text,
	"note" text,
	"decided_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "rejection_has_reason" CHECK (("review_decisions"."outcome" = 'rejected') = ("review_decisions"."reason_code" IS NOT NULL)),
	CONSTRAINT "escalation_is_explained" CHECK ("review_decisions"."outcome" <> 'escalated' OR length("review_decisions"."note") > 0)
);
--> statement-breakpoint
CREATE TABLE "sessions" (
	"token_sha256" text PRIMARY KEY NOT NULL,
	"person_id" uuid NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp with time zone NOT NULL,
	"ended_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "captures" ADD COLUMN "review_round" integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE "captures" ADD COLUMN "incident_id" uuid;--> statement-breakpoint
ALTER TABLE "audit_checkpoints" ADD CONSTRAINT "audit_checkpoints_seq_audit_log_seq_fk" FOREIGN KEY ("seq") REFERENCES "public"."audit_log"("seq") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "capture_annotations" ADD CONSTRAINT "capture_annotations_capture_id_captures_id_fk" FOREIGN KEY ("capture_id") REFERENCES "public"."captures"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "capture_annotations" ADD CONSTRAINT "capture_annotations_person_id_people_id_fk" FOREIGN KEY ("person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "device_administrators" ADD CONSTRAINT "device_administrators_person_id_people_id_fk" FOREIGN KEY ("person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "device_administrators" ADD CONSTRAINT "device_administrators_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_claims" ADD CONSTRAINT "review_claims_capture_id_captures_id_fk" FOREIGN KEY ("capture_id") REFERENCES "public"."captures"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_claims" ADD CONSTRAINT "review_claims_person_id_people_id_fk" FOREIGN KEY ("person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_decisions" ADD CONSTRAINT "review_decisions_capture_id_captures_id_fk" FOREIGN KEY ("capture_id") REFERENCES "public"."captures"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_decisions" ADD CONSTRAINT "review_decisions_person_id_people_id_fk" FOREIGN KEY ("person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "review_decisions" ADD CONSTRAINT "review_decisions_reason_code_reject_reasons_code_fk" FOREIGN KEY ("reason_code") REFERENCES "public"."reject_reasons"("code") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "sessions" ADD CONSTRAINT "sessions_person_id_people_id_fk" FOREIGN KEY ("person_id") REFERENCES "public"."people"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "capture_annotations_capture_idx" ON "capture_annotations" USING btree ("capture_id");--> statement-breakpoint
CREATE INDEX "incidents_grouping_idx" ON "incidents" USING btree ("subject","violation_type","road","direction","last_captured_at");--> statement-breakpoint
CREATE INDEX "review_claims_person_idx" ON "review_claims" USING btree ("person_id");--> statement-breakpoint
CREATE UNIQUE INDEX "review_decisions_one_per_step" ON "review_decisions" USING btree ("capture_id","round","step") WHERE "review_decisions"."outcome" <> 'escalated';--> statement-breakpoint
CREATE UNIQUE INDEX "review_decisions_one_step_per_person" ON "review_decisions" USING btree ("capture_id","round","person_id") WHERE "review_decisions"."outcome" <> 'escalated';--> statement-breakpoint
CREATE INDEX "sessions_person_idx" ON "sessions" USING btree ("person_id");--> statement-breakpoint
ALTER TABLE "captures" ADD CONSTRAINT "captures_incident_id_incidents_id_fk" FOREIGN KEY ("incident_id") REFERENCES "public"."incidents"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "captures_state_captured_idx" ON "captures" USING btree ("state","captured_at");--> statement-breakpoint
ALTER TABLE "captures" ADD CONSTRAINT "incident_holds_approved_captures" CHECK ("captures"."incident_id" IS NULL OR "captures"."state" = 'approved');--> statement-breakpoint
-- Decisions and signed chain heads are part of the record: once written, never changed.
CREATE FUNCTION refuse_change_to_record() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER review_decisions_append_only
  BEFORE UPDATE OR DELETE ON review_decisions
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_record();
--> statement-breakpoint
CREATE TRIGGER review_decisions_no_truncate
  BEFORE TRUNCATE ON review_decisions
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_record();
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_append_only
  BEFORE UPDATE OR DELETE ON audit_checkpoints
  FOR EACH ROW EXECUTE FUNCTION refuse_change_to_record();
--> statement-breakpoint
CREATE TRIGGER audit_checkpoints_no_truncate
  BEFORE TRUNCATE ON audit_checkpoints
  FOR EACH STATEMENT EXECUTE FUNCTION refuse_change_to_record();
--> statement-breakpoint
-- Law L3 in the database: a capture is approved only on a person's approval in its current review round.
CREATE FUNCTION captures_approval_needs_decision() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NOT EXISTS (
    SELECT 1 FROM review_decisions
    WHERE capture_id = NEW.id AND round = NEW.review_round AND outcome = 'approved'
  ) THEN
    RAISE EXCEPTION 'capture % cannot be approved without a recorded approval', NEW.id USING ERRCODE = 'check_violation';
  END IF;
  RETURN NEW;
END;
$$;
--> statement-breakpoint
CREATE TRIGGER captures_approval_needs_decision
  BEFORE INSERT OR UPDATE OF state, review_round ON captures
  FOR EACH ROW WHEN (NEW.state = 'approved')
  EXECUTE FUNCTION captures_approval_needs_decision();
--> statement-breakpoint
-- The statutory erasure cases (MPS order 157, art. 22) start the maintained list of reject reasons.
INSERT INTO reject_reasons (code, label, statutory) VALUES
  ('emergency_vehicle_on_duty', 'Emergency vehicle on duty', true),
  ('stolen_or_cloned_plate', 'Stolen or cloned plate', true),
  ('emergency_avoidance', 'Emergency avoidance', true),
  ('handled_on_the_spot', 'Already handled on the spot', true),
  ('conflicting_signals', 'Conflicting signals or signs', true),
  ('unclear_record', 'Unclear record', true),
  ('plate_does_not_match', 'Plate does not match the vehicle', true);
