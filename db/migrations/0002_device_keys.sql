CREATE TABLE "device_keys" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"device_id" text NOT NULL,
	"public_key_pem" text NOT NULL,
	"fingerprint" text NOT NULL,
	"valid_from" timestamp with time zone NOT NULL,
	"valid_to" timestamp with time zone,
	"reason" text NOT NULL,
	CONSTRAINT "device_key_period_ordered" CHECK ("device_keys"."valid_to" IS NULL OR "device_keys"."valid_to" >= "device_keys"."valid_from")
);
--> statement-breakpoint
ALTER TABLE "device_keys" ADD CONSTRAINT "device_keys_device_id_devices_id_fk" FOREIGN KEY ("device_id") REFERENCES "public"."devices"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "device_keys_device_idx" ON "device_keys" USING btree ("device_id","valid_from");--> statement-breakpoint
CREATE UNIQUE INDEX "device_keys_one_current_key" ON "device_keys" USING btree ("device_id") WHERE "device_keys"."valid_to" IS NULL;--> statement-breakpoint
-- Devices enrolled before key history existed get their current key as the first entry, so
-- every device has exactly one open row for the next rotation to close.
INSERT INTO "device_keys" ("device_id", "public_key_pem", "fingerprint", "valid_from", "reason")
SELECT "id", "public_key_pem",
  encode(sha256(decode(regexp_replace("public_key_pem", '-----[A-Z ]+-----|\s', '', 'g'), 'base64')), 'hex'),
  "enrolled_at", 'enrolment (recorded before key history existed)'
FROM "devices";
--> statement-breakpoint
-- Revocation is final (a revoked key may be in someone else's hands): refuse undoing it even
-- from outside the registry service.
CREATE FUNCTION devices_refuse_unrevoke() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'device % is revoked, and revocation is final', OLD.id USING ERRCODE = 'integrity_constraint_violation';
END;
$$;
--> statement-breakpoint
CREATE TRIGGER devices_revocation_is_final
  BEFORE UPDATE OF status ON devices
  FOR EACH ROW WHEN (OLD.status = 'revoked' AND NEW.status <> 'revoked')
  EXECUTE FUNCTION devices_refuse_unrevoke();
