#!/usr/bin/env bash
# Verifies one verity/2 acknowledgement with openssl only, as a device must before acting on it.
# Needs OpenSSL 3 and GNU coreutils (base64 -d, sha256sum).
# Prints the acknowledgement's JSON on stdout if it verifies; exits 1 (and says why) if not.
set -euo pipefail

ACK_FILE="${ACK_FILE:?set ACK_FILE to a file holding one payload from <root>/devices/<id>/acks}"
GATEWAY_KEY="${GATEWAY_KEY:?set GATEWAY_KEY to the gateway public key PEM (GET /api/public/gateway-keys)}"
DEVICE_ID="${DEVICE_ID:?set DEVICE_ID to this device id}"

if [[ ! "$DEVICE_ID" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]]; then
  echo "DEVICE_ID must be 1-64 of A-Z a-z 0-9 _ . - starting with a letter or digit" >&2
  exit 2
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

refuse() {
  echo "refused: $1" >&2
  exit 1
}

# 1. The envelope is {"ack":"<base64>","signature":"<base64>"}; a plain v1 ack or anything else is refused.
ENVELOPE="$(cat "$ACK_FILE")"
[[ "$ENVELOPE" =~ ^\{\"ack\":\"([A-Za-z0-9+/=]+)\",\"signature\":\"([A-Za-z0-9+/=]+)\"\}$ ]] ||
  refuse 'not a signed acknowledgement envelope'
printf '%s' "${BASH_REMATCH[1]}" | base64 -d >"$WORK/ack.json" 2>/dev/null || refuse 'ack is not base64'
printf '%s' "${BASH_REMATCH[2]}" | base64 -d >"$WORK/ack.sig" 2>/dev/null || refuse 'signature is not base64'

# 2. The key it names must be the one given: its fingerprint is SHA-256 of the key's DER (SPKI), in hex.
FINGERPRINT="$(openssl pkey -pubin -in "$GATEWAY_KEY" -outform DER | sha256sum | cut -d' ' -f1)"
grep -qF "\"gatewayKey\":\"$FINGERPRINT\"" "$WORK/ack.json" || refuse "not signed with gateway key $FINGERPRINT"

# 3. The Ed25519 signature over the ack's exact bytes.
openssl pkeyutl -verify -pubin -inkey "$GATEWAY_KEY" -rawin -in "$WORK/ack.json" -sigfile "$WORK/ack.sig" >/dev/null 2>&1 ||
  refuse 'the signature does not verify'

# 4. Version 2, and addressed to this device, or it is someone else's ack copied onto this topic.
grep -qF '"protocol":"verity/2"' "$WORK/ack.json" || refuse 'not a verity/2 acknowledgement'
grep -qF "\"deviceId\":\"$DEVICE_ID\"" "$WORK/ack.json" || refuse "not addressed to $DEVICE_ID"

cat "$WORK/ack.json"
echo
