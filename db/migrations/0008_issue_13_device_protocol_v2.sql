ALTER TABLE "device_health_events" ADD COLUMN "message_sha256" text;--> statement-breakpoint
CREATE INDEX "device_health_events_kind_idx" ON "device_health_events" USING btree ("device_id","kind","reported_at");--> statement-breakpoint
CREATE UNIQUE INDEX "device_health_events_one_message" ON "device_health_events" USING btree ("device_id","message_sha256");