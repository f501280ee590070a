ALTER TABLE "media_chunks" DROP CONSTRAINT "media_chunks_sha256_device_id_chunk_index_pk";--> statement-breakpoint
ALTER TABLE "media_chunks" ADD CONSTRAINT "media_chunks_sha256_device_id_chunk_count_chunk_index_pk" PRIMARY KEY("sha256","device_id","chunk_count","chunk_index");--> statement-breakpoint
ALTER TABLE "device_health_events" ADD COLUMN "message_sha256" text;--> statement-breakpoint
CREATE INDEX "device_health_events_kind_idx" ON "device_health_events" USING btree ("device_id","kind","reported_at");--> statement-breakpoint
CREATE UNIQUE INDEX "device_health_events_one_message" ON "device_health_events" USING btree ("device_id","message_sha256");