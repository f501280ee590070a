ALTER TABLE "incidents" ADD COLUMN "closed_at" timestamp with time zone;--> statement-breakpoint
ALTER TABLE "incidents" ADD COLUMN "closed_into" jsonb;--> statement-breakpoint
ALTER TABLE "incidents" ADD CONSTRAINT "incident_closure_complete" CHECK (("incidents"."closed_at" IS NULL) = ("incidents"."closed_into" IS NULL));