CREATE TABLE "device_broker_credentials" (
	"device_id" text PRIMARY KEY NOT NULL,
	"password_hash" text NOT NULL,
	"issued_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "device_broker_credentials" ADD CONSTRAINT "device_broker_credentials_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE no action ON UPDATE no action;