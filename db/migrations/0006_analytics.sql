CREATE TYPE "public"."analytics_count_state" AS ENUM('approved', 'excluded');--> statement-breakpoint
CREATE TYPE "public"."analytics_site_scope" AS ENUM('cell', 'device');--> statement-breakpoint
CREATE TYPE "public"."anomaly_basis" AS ENUM('own_history', 'peers');--> statement-breakpoint
CREATE TYPE "public"."anomaly_metric" AS ENUM('capture_rate', 'exclusion_rate');--> statement-breakpoint
CREATE TYPE "public"."remediation_cause" AS ENUM('signage', 'road_design', 'signal_timing', 'device_placement', 'enforcement_gap', 'other');--> statement-breakpoint
CREATE TYPE "public"."remediation_status" AS ENUM('open', 'fixed', 'dismissed');--> statement-breakpoint
CREATE TABLE "analytics_daily_counts" (
	"day" date NOT NULL,
	"device_id" text NOT NULL,
	"cell" text NOT NULL,
	"violation_type" text NOT NULL,
	"state" "analytics_count_state" NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "analytics_daily_counts_pk" PRIMARY KEY("day","device_id","cell","violation_type","state"),
	CONSTRAINT "analytics_daily_count_positive" CHECK ("analytics_daily_counts"."count" > 0)
);
--> statement-breakpoint
CREATE TABLE "analytics_hourly_counts" (
	"month" date NOT NULL,
	"device_id" text NOT NULL,
	"cell" text NOT NULL,
	"violation_type" text NOT NULL,
	"state" "analytics_count_state" NOT NULL,
	"hour_of_week" smallint NOT NULL,
	"count" integer NOT NULL,
	CONSTRAINT "analytics_hourly_counts_pk" PRIMARY KEY("month","device_id","cell","violation_type","state","hour_of_week"),
	CONSTRAINT "analytics_hour_of_week_range" CHECK ("analytics_hourly_counts"."hour_of_week" BETWEEN 0 AND 167),
	CONSTRAINT "analytics_hourly_count_positive" CHECK ("analytics_hourly_counts"."count" > 0)
);
--> statement-breakpoint
CREATE TABLE "analytics_locations" (
	"h3_resolution" smallint NOT NULL,
	"latitude_e5" integer NOT NULL,
	"longitude_e5" integer NOT NULL,
	"cell" text NOT NULL,
	CONSTRAINT "analytics_locations_pk" PRIMARY KEY("h3_resolution","latitude_e5","longitude_e5")
);
--> statement-breakpoint
CREATE TABLE "analytics_runs" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"started_at" timestamp with time zone NOT NULL,
	"finished_at" timestamp with time zone,
	"period_from" date NOT NULL,
	"period_to" date NOT NULL,
	"settings" jsonb NOT NULL,
	"summary" jsonb
);
--> statement-breakpoint
CREATE TABLE "analytics_watermarks" (
	"name" text PRIMARY KEY NOT NULL,
	"audit_seq" bigint NOT NULL,
	"h3_resolution" smallint NOT NULL,
	"time_zone" text NOT NULL,
	"aggregated_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE TABLE "device_anomalies" (
	"run_id" uuid NOT NULL,
	"device_id" text NOT NULL,
	"metric" "anomaly_metric" NOT NULL,
	"basis" "anomaly_basis" NOT NULL,
	"observed" double precision NOT NULL,
	"expected" double precision NOT NULL,
	"rate_ratio" double precision,
	"ci_low" double precision,
	"ci_high" double precision,
	"statistic" double precision NOT NULL,
	"p_value" double precision NOT NULL,
	"q_value" double precision,
	"flagged" boolean NOT NULL,
	"detail" jsonb DEFAULT '{}'::jsonb NOT NULL,
	CONSTRAINT "device_anomalies_pk" PRIMARY KEY("run_id","device_id","metric","basis")
);
--> statement-breakpoint
CREATE TABLE "hotspot_results" (
	"run_id" uuid NOT NULL,
	"scope" "analytics_site_scope" NOT NULL,
	"site_id" text NOT NULL,
	"violation_type" text NOT NULL,
	"rank" integer NOT NULL,
	"road" text,
	"kind" text,
	"device_ids" jsonb NOT NULL,
	"latitude" double precision NOT NULL,
	"longitude" double precision NOT NULL,
	"reference_group" text NOT NULL,
	"observed" integer NOT NULL,
	"exposure_days" integer NOT NULL,
	"predicted" double precision NOT NULL,
	"dispersion" double precision NOT NULL,
	"eb_weight" double precision NOT NULL,
	"eb_expected" double precision NOT NULL,
	"eb_low" double precision NOT NULL,
	"eb_high" double precision NOT NULL,
	"excess" double precision NOT NULL,
	"p_value" double precision NOT NULL,
	"q_value" double precision NOT NULL,
	"flagged" boolean NOT NULL,
	"recent_per_day" double precision,
	"baseline_per_day" double precision,
	"trend_ratio" double precision,
	"trend_low" double precision,
	"trend_high" double precision,
	"gi_star" double precision,
	CONSTRAINT "hotspot_results_pk" PRIMARY KEY("run_id","scope","site_id","violation_type")
);
--> statement-breakpoint
CREATE TABLE "remediation_cases" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"scope" "analytics_site_scope" NOT NULL,
	"site_id" text NOT NULL,
	"violation_type" text NOT NULL,
	"suspected_cause" "remediation_cause" NOT NULL,
	"note" text,
	"action_taken" text,
	"action_date" date,
	"status" "remediation_status" DEFAULT 'open' NOT NULL,
	"closing_reason" text,
	"opened_by" text NOT NULL,
	"opened_at" timestamp with time zone DEFAULT now() NOT NULL,
	"action_recorded_by" text,
	"action_recorded_at" timestamp with time zone,
	"closed_by" text,
	"closed_at" timestamp with time zone,
	CONSTRAINT "remediation_action_complete" CHECK (("remediation_cases"."action_taken" IS NULL) = ("remediation_cases"."action_date" IS NULL) AND ("remediation_cases"."action_taken" IS NULL) = ("remediation_cases"."action_recorded_by" IS NULL) AND ("remediation_cases"."action_taken" IS NULL) = ("remediation_cases"."action_recorded_at" IS NULL)),
	CONSTRAINT "remediation_closing_complete" CHECK (("remediation_cases"."status" = 'open') = ("remediation_cases"."closed_at" IS NULL) AND ("remediation_cases"."closed_at" IS NULL) = ("remediation_cases"."closed_by" IS NULL) AND ("remediation_cases"."closed_at" IS NULL) = ("remediation_cases"."closing_reason" IS NULL)),
	CONSTRAINT "remediation_fix_has_action" CHECK ("remediation_cases"."status" <> 'fixed' OR "remediation_cases"."action_date" IS NOT NULL)
);
--> statement-breakpoint
ALTER TABLE "device_anomalies" ADD CONSTRAINT "device_anomalies_run_id_analytics_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."analytics_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "hotspot_results" ADD CONSTRAINT "hotspot_results_run_id_analytics_runs_id_fk" FOREIGN KEY ("run_id") REFERENCES "public"."analytics_runs"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "analytics_daily_counts_cell_idx" ON "analytics_daily_counts" USING btree ("cell","day");--> statement-breakpoint
CREATE INDEX "analytics_daily_counts_device_idx" ON "analytics_daily_counts" USING btree ("device_id","day");--> statement-breakpoint
CREATE INDEX "analytics_hourly_counts_cell_idx" ON "analytics_hourly_counts" USING btree ("cell","month");--> statement-breakpoint
CREATE INDEX "analytics_hourly_counts_device_idx" ON "analytics_hourly_counts" USING btree ("device_id","month");--> statement-breakpoint
CREATE INDEX "analytics_runs_finished_idx" ON "analytics_runs" USING btree ("finished_at");--> statement-breakpoint
CREATE INDEX "hotspot_results_rank_idx" ON "hotspot_results" USING btree ("run_id","scope","rank");--> statement-breakpoint
CREATE UNIQUE INDEX "remediation_cases_one_open_per_site" ON "remediation_cases" USING btree ("scope","site_id","violation_type") WHERE "remediation_cases"."status" = 'open';--> statement-breakpoint
CREATE INDEX "remediation_cases_site_idx" ON "remediation_cases" USING btree ("scope","site_id");