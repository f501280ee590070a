CREATE TYPE "public"."hotspot_category" AS ENUM('hotspot', 'spike', 'ordinary');--> statement-breakpoint
ALTER TABLE "hotspot_results" ADD COLUMN "category" "hotspot_category" DEFAULT 'ordinary' NOT NULL;--> statement-breakpoint
ALTER TABLE "hotspot_results" ADD COLUMN "sustained" integer;--> statement-breakpoint
ALTER TABLE "hotspot_results" ADD COLUMN "spike_days" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "hotspot_results" ADD COLUMN "prior_dispersion" double precision;--> statement-breakpoint
ALTER TABLE "hotspot_results" ADD COLUMN "dispersion_index" double precision;