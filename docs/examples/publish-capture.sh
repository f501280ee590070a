#!/usr/bin/env bash
# Publishes one verity/2 capture (two JPEG frames) with openssl and mosquitto_pub only.
# Needs OpenSSL 3, mosquitto_pub and GNU coreutils (date +%N, base64 -w0, split -d).
# Prints the captureId on stdout; everything else goes to stderr.
set -euo pipefail

BROKER_HOST="${BROKER_HOST:-127.0.0.1}"
BROKER_PORT="${BROKER_PORT:-1883}"
TOPIC_ROOT="${TOPIC_ROOT:-verity/v1}"
DEVICE_ID="${DEVICE_ID:?set DEVICE_ID to the id assigned at enrolment}"
PRIVATE_KEY="${PRIVATE_KEY:-device-key.pem}"
FRAME1="${FRAME1:?set FRAME1 to the first JPEG}"
FRAME2="${FRAME2:?set FRAME2 to the second JPEG}"
MQTT_VERSION="${MQTT_VERSION:-mqttv311}"
LATITUDE="${LATITUDE:-22.5}"
LONGITUDE="${LONGITUDE:-114.05}"
# The broker login from the enrolment answer; a broker that takes anonymous clients (npm start's) needs none.
BROKER_AUTH=()
if [[ -n "${BROKER_USERNAME:-}" ]]; then
  BROKER_AUTH=(-u "$BROKER_USERNAME" -P "${BROKER_PASSWORD:?set BROKER_PASSWORD together with BROKER_USERNAME}")
fi

# The device id goes into topics and into the JSON below unescaped, so hold it to the protocol's rule.
if [[ ! "$DEVICE_ID" =~ ^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$ ]]; then
  echo "DEVICE_ID must be 1-64 of A-Z a-z 0-9 _ . - starting with a letter or digit" >&2
  exit 2
fi

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

publish() { # publish <topic> <file>: one QoS 1 message whose payload is the file's bytes
  mosquitto_pub -h "$BROKER_HOST" -p "$BROKER_PORT" "${BROKER_AUTH[@]}" -V "$MQTT_VERSION" -q 1 -t "$1" -f "$2"
}

iso_ms() { # iso_ms <milliseconds since the epoch>: RFC 3339 UTC with milliseconds
  date -u -d "@$(($1 / 1000)).$(printf '%03d' $(($1 % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ
}

# 1. The device key. Generate it once; the operator enrols the public key printed here.
if [[ ! -f "$PRIVATE_KEY" ]]; then
  (umask 077 && openssl genpkey -algorithm ed25519 -out "$PRIVATE_KEY")
  echo "generated $PRIVATE_KEY" >&2
fi
echo "public key to enrol for $DEVICE_ID:" >&2
openssl pkey -in "$PRIVATE_KEY" -pubout >&2

# 2. Hash and size of each frame, exactly as they will be sent.
SHA1="$(sha256sum "$FRAME1" | cut -d' ' -f1)"
SHA2="$(sha256sum "$FRAME2" | cut -d' ' -f1)"
SIZE1="$(wc -c <"$FRAME1" | tr -d ' ')"
SIZE2="$(wc -c <"$FRAME2" | tr -d ' ')"
for size in "$SIZE1" "$SIZE2"; do
  if ((size == 0 || size > 67108864)); then
    echo "a frame must be 1 byte to 64 MiB" >&2
    exit 2
  fi
done

# 3. Media chunks: at most 262144 bytes each, on <root>/devices/<id>/media/<sha256>/<index>/<count>.
publish_media() { # publish_media <file> <sha256>
  local dir="$WORK/chunks-$2" chunk index=0 count
  mkdir "$dir"
  split -b 262144 -d -a 4 "$1" "$dir/chunk."
  count="$(find "$dir" -name 'chunk.*' | wc -l | tr -d ' ')"
  for chunk in "$dir"/chunk.*; do # the glob sorts chunk.0000, chunk.0001, ... in order
    publish "$TOPIC_ROOT/devices/$DEVICE_ID/media/$2/$index/$count" "$chunk"
    index=$((index + 1))
  done
  echo "published $1 as $count chunk(s)" >&2
}
publish_media "$FRAME1" "$SHA1"
publish_media "$FRAME2" "$SHA2"

# 4. The manifest: one line of JSON, no trailing newline. These bytes are what gets signed and sent.
CAPTURE_ID="$(cat /proc/sys/kernel/random/uuid)"
NOW_MS="$(date -u +%s%3N)"
CAPTURED_AT="$(iso_ms "$NOW_MS")"
FRAME1_AT="$(iso_ms $((NOW_MS - 500)))" # the first frame half a second before the measurement
FRAME2_AT="$CAPTURED_AT"
printf '{"protocol":"verity/2","captureId":"%s","deviceId":"%s","capturedAt":"%s","clockOffsetMs":0,"location":{"latitude":%s,"longitude":%s},"violationType":"speeding","readings":{"speedKmh":92,"limitKmh":60},"media":[{"name":"frame-1.jpg","sha256":"%s","sizeBytes":%s,"contentType":"image/jpeg","capturedAt":"%s"},{"name":"frame-2.jpg","sha256":"%s","sizeBytes":%s,"contentType":"image/jpeg","capturedAt":"%s"}]}' \
  "$CAPTURE_ID" "$DEVICE_ID" "$CAPTURED_AT" "$LATITUDE" "$LONGITUDE" \
  "$SHA1" "$SIZE1" "$FRAME1_AT" "$SHA2" "$SIZE2" "$FRAME2_AT" >"$WORK/manifest.json"

# 5. Sign the manifest file's exact bytes with Ed25519 (64-byte signature).
openssl pkeyutl -sign -inkey "$PRIVATE_KEY" -rawin -in "$WORK/manifest.json" -out "$WORK/manifest.sig"

# 6. The envelope: base64 of those bytes and of the signature, published on <root>/devices/<id>/captures.
printf '{"manifest":"%s","signature":"%s"}' \
  "$(base64 -w0 "$WORK/manifest.json")" "$(base64 -w0 "$WORK/manifest.sig")" >"$WORK/envelope.json"
publish "$TOPIC_ROOT/devices/$DEVICE_ID/captures" "$WORK/envelope.json"

# 7. The captureId, to match against the acknowledgement on <root>/devices/<id>/acks (verify it: verify-ack.sh).
echo "$CAPTURE_ID"
