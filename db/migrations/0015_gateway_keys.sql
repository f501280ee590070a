CREATE TABLE "gateway_keys" (
	"fingerprint" text PRIMARY KEY NOT NULL,
	"public_key_pem" text NOT NULL,
	"first_used_at" timestamp with time zone DEFAULT now() NOT NULL,
	"last_started_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "gateway_key_fingerprint_hex" CHECK ("gateway_keys"."fingerprint" ~ '^[0-9a-f]{64}$')
);
