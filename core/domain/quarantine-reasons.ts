/** Every reason a capture can be quarantined for, with the sentence a reviewer or device maker reads. */
export const QUARANTINE_REASONS = {
  message_malformed: 'The message is not a JSON envelope with base64 manifest and signature',
  manifest_invalid: 'The manifest does not match the protocol schema',
  device_mismatch: 'The manifest names a different device than the topic it was published on',
  device_unknown: 'No device with this id is registered',
  device_disabled: 'The device is disabled in the registry',
  device_revoked: 'The device has been revoked',
  signature_invalid: "The signature does not verify against the device's registered public key",
  media_hash_mismatch: 'A media file does not have the SHA-256 the manifest states',
  media_size_mismatch: 'A media file does not have the size the manifest states',
  media_incomplete: 'Not every media file named in the manifest arrived in time',
  not_certified_at_capture: 'The device was not certified at the moment of capture',
  clock_offset_exceeded: "The device's clock was more than 1.0 s off standard time",
  captured_in_future: 'The capture time lies after the moment the gateway received it',
  captured_outside_window: 'The capture is older than the accepted window',
  evidence_insufficient: 'The media do not meet the evidence minimum for this violation type',
  readings_invalid: 'The readings do not match the reading schema of the violation type',
  replayed: 'A different message already used this capture id',
  processing_failed: 'The gateway could not process this message; kept for investigation',
} as const;

export type QuarantineCode = keyof typeof QUARANTINE_REASONS;

export interface QuarantineReason {
  code: QuarantineCode;
  detail: string;
}

export function reason(code: QuarantineCode, detail?: string): QuarantineReason {
  return { code, detail: detail ?? QUARANTINE_REASONS[code] };
}
