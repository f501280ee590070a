CREATE TYPE "public"."capture_state" AS ENUM('received', 'verified', 'quarantined', 'screened', 'excluded', 'awaiting_review', 'approved', 'rejected');--> statement-breakpoint
CREATE TYPE "public"."certification_kind" AS ENUM('legal_review', 'technical_review', 'metrological_verification', 'signage', 'location_publication');--> statement-breakpoint
CREATE TYPE "public"."device_kind" AS ENUM('traffic_camera', 'speed_radar', 'noise_sensor', 'emission_sensor', 'weigh_in_motion');--> statement-breakpoint
CREATE TYPE "public"."device_status" AS ENUM('enabled', 'disabled', 'revoked');--> statement-breakpoint
CREATE TABLE "audit_log" (
	"seq" bigserial PRIMARY KEY NOT NULL,
	"recorded_at" timestamp with time zone NOT NULL,
	"actor" text NOT NULL,
	"action" text NOT NULL,
	"subject_type" text NOT NULL,
	"subject_id" text NOT NULL,
	"details" jsonb NOT NULL,
	"previous_hash" text NOT NULL,
	"hash" text NOT NULL,
	CONSTRAINT "audit_log_hash_unique" UNIQUE("hash")
);
--> statement-breakpoint
CREATE TABLE "capture_media" (
	"capture_id" uuid NOT NULL,
	"media_sha256" text NOT NULL,
	"name" text NOT NULL,
	CONSTRAINT "capture_media_capture_id_name_pk" PRIMARY KEY("capture_id","name")
);
--> statement-breakpoint
CREATE TABLE "captures" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"message_sha256" text NOT NULL,
	"device_id" text,
	"device_capture_id" text,
	"state" "capture_state" NOT NULL,
	"quarantine_reasons" jsonb,
	"violation_type" text,
	"captured_at" timestamp with time zone,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"latitude" double precision,
	"longitude" double precision,
	"manifest" jsonb,
	"raw_message" "bytea" NOT NULL,
	CONSTRAINT "quarantine_has_reason" CHECK (("captures"."state" = 'quarantined') = ("captures"."quarantine_reasons" IS NOT NULL AND jsonb_array_length("captures"."quarantine_reasons") > 0)),
	CONSTRAINT "accepted_capture_is_complete" CHECK ("captures"."state" = 'quarantined' OR ("captures"."device_id" IS NOT NULL AND "captures"."device_capture_id" IS NOT NULL AND "captures"."captured_at" IS NOT NULL AND "captures"."manifest" IS NOT NULL))
);
--> statement-breakpoint
CREATE TABLE "device_certifications" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"device_id" text NOT NULL,
	"kind" "certification_kind" NOT NULL,
	"reference" text NOT NULL,
	"valid_from" timestamp with time zone NOT NULL,
	"valid_to" timestamp with time zone NOT NULL,
	"document_sha256" text,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "certification_period_ordered" CHECK ("device_certifications"."valid_to" > "device_certifications"."valid_from")
);
--> statement-breakpoint
CREATE TABLE "devices" (
	"id" text PRIMARY KEY NOT NULL,
	"kind" "device_kind" NOT NULL,
	"model" text NOT NULL,
	"serial" text NOT NULL,
	"agency" text NOT NULL,
	"public_key_pem" text NOT NULL,
	"status" "device_status" DEFAULT 'enabled' NOT NULL,
	"road" text NOT NULL,
	"direction" text NOT NULL,
	"latitude" double precision NOT NULL,
	"longitude" double precision NOT NULL,
	"enrolled_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "media" (
	"sha256" text PRIMARY KEY NOT NULL,
	"size_bytes" bigint NOT NULL,
	"content_type" text NOT NULL,
	"width" integer,
	"height" integer,
	"stored_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "media_chunks" (
	"sha256" text NOT NULL,
	"chunk_index" integer NOT NULL,
	"chunk_count" integer NOT NULL,
	"device_id" text NOT NULL,
	"data" "bytea" NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "media_chunks_sha256_chunk_index_pk" PRIMARY KEY("sha256","chunk_index")
);
--> statement-breakpoint
CREATE TABLE "media_derivatives" (
	"source_sha256" text NOT NULL,
	"kind" text NOT NULL,
	"derived_sha256" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "media_derivatives_source_sha256_kind_pk" PRIMARY KEY("source_sha256","kind")
);
--> statement-breakpoint
CREATE TABLE "outbox" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"queue" text NOT NULL,
	"job_name" text NOT NULL,
	"job_id" text NOT NULL,
	"payload" jsonb NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"dispatched_at" timestamp with time zone
);
--> statement-breakpoint
ALTER TABLE "capture_media" ADD CONSTRAINT "capture_media_capture_id_captures_id_fk" FOREIGN KEY ("capture_id") REFERENCES "public"."captures"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "capture_media" ADD CONSTRAINT "capture_media_media_sha256_media_sha256_fk" FOREIGN KEY ("media_sha256") REFERENCES "public"."media"("sha256") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "device_certifications" ADD CONSTRAINT "device_certifications_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "media_derivatives" ADD CONSTRAINT "media_derivatives_source_sha256_media_sha256_fk" FOREIGN KEY ("source_sha256") REFERENCES "public"."media"("sha256") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "media_derivatives" ADD CONSTRAINT "media_derivatives_derived_sha256_media_sha256_fk" FOREIGN KEY ("derived_sha256") REFERENCES "public"."media"("sha256") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "captures_message_sha256_key" ON "captures" USING btree ("message_sha256");--> statement-breakpoint
CREATE UNIQUE INDEX "captures_accepted_device_capture_key" ON "captures" USING btree ("device_id","device_capture_id") WHERE "captures"."state" <> 'quarantined';--> statement-breakpoint
CREATE INDEX "captures_state_received_idx" ON "captures" USING btree ("state","received_at");--> statement-breakpoint
CREATE INDEX "device_certifications_device_idx" ON "device_certifications" USING btree ("device_id");--> statement-breakpoint
CREATE INDEX "outbox_pending_idx" ON "outbox" USING btree ("id") WHERE "outbox"."dispatched_at" IS NULL;