CREATE TYPE "public"."health_event_kind" AS ENUM('heartbeat', 'self_test', 'fault_report', 'clock_sync', 'offline');--> statement-breakpoint
CREATE TYPE "public"."window_source" AS ENUM('device_reported', 'operator', 'heartbeat_silence', 'self_test_failed', 'verification_expired', 'clock_offset', 'sensor_out_of_range', 'sensor_stuck', 'capture_rate_jump');--> statement-breakpoint
CREATE TABLE "device_health_events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"device_id" text NOT NULL,
	"kind" "health_event_kind" NOT NULL,
	"reported_at" timestamp with time zone NOT NULL,
	"received_at" timestamp with time zone DEFAULT now() NOT NULL,
	"payload" jsonb NOT NULL
);
--> statement-breakpoint
CREATE TABLE "malfunction_windows" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"device_id" text NOT NULL,
	"source" "window_source" NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"ends_at" timestamp with time zone,
	"reason" text NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"recorded_by" text NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	"withdrawn_at" timestamp with time zone,
	"withdrawn_by" text,
	"withdrawal_reason" text,
	CONSTRAINT "window_period_ordered" CHECK ("malfunction_windows"."ends_at" IS NULL OR "malfunction_windows"."ends_at" > "malfunction_windows"."starts_at"),
	CONSTRAINT "withdrawal_is_explained" CHECK (("malfunction_windows"."withdrawn_at" IS NULL) = ("malfunction_windows"."withdrawn_by" IS NULL) AND ("malfunction_windows"."withdrawn_at" IS NULL) = ("malfunction_windows"."withdrawal_reason" IS NULL))
);
--> statement-breakpoint
CREATE TABLE "media_quality" (
	"sha256" text PRIMARY KEY NOT NULL,
	"width" integer,
	"height" integer,
	"sharpness" double precision,
	"mean_luminance" double precision,
	"dark_clipped_fraction" double precision,
	"bright_clipped_fraction" double precision,
	"duration_seconds" double precision,
	"probe" jsonb,
	"flags" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"measured_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "tampering_findings" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"capture_id" uuid NOT NULL,
	"window_id" uuid NOT NULL,
	"evidence" text NOT NULL,
	"recorded_by" text NOT NULL,
	"recorded_at" timestamp with time zone DEFAULT now() NOT NULL,
	"confirmed_by" text,
	"confirmed_at" timestamp with time zone,
	CONSTRAINT "tampering_needs_two_people" CHECK ("tampering_findings"."confirmed_by" IS NULL OR "tampering_findings"."confirmed_by" <> "tampering_findings"."recorded_by"),
	CONSTRAINT "tampering_confirmation_complete" CHECK (("tampering_findings"."confirmed_by" IS NULL) = ("tampering_findings"."confirmed_at" IS NULL))
);
--> statement-breakpoint
ALTER TABLE "captures" ADD COLUMN "exclusion_window_ids" jsonb;--> statement-breakpoint
ALTER TABLE "device_health_events" ADD CONSTRAINT "device_health_events_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "malfunction_windows" ADD CONSTRAINT "malfunction_windows_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "media_quality" ADD CONSTRAINT "media_quality_sha256_media_sha256_fk" FOREIGN KEY ("sha256") REFERENCES "public"."media"("sha256") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tampering_findings" ADD CONSTRAINT "tampering_findings_capture_id_captures_id_fk" FOREIGN KEY ("capture_id") REFERENCES "public"."captures"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "tampering_findings" ADD CONSTRAINT "tampering_findings_window_id_malfunction_windows_id_fk" FOREIGN KEY ("window_id") REFERENCES "public"."malfunction_windows"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "device_health_events_device_idx" ON "device_health_events" USING btree ("device_id","reported_at");--> statement-breakpoint
CREATE INDEX "malfunction_windows_device_idx" ON "malfunction_windows" USING btree ("device_id","starts_at");--> statement-breakpoint
CREATE INDEX "tampering_findings_capture_idx" ON "tampering_findings" USING btree ("capture_id");--> statement-breakpoint
ALTER TABLE "captures" ADD CONSTRAINT "exclusion_names_its_windows" CHECK (("captures"."state" = 'excluded') = ("captures"."exclusion_window_ids" IS NOT NULL AND jsonb_array_length("captures"."exclusion_window_ids") > 0));