import type { Config } from '../domain/config.js';
import { FilesystemMediaStore, type MediaStore } from './media-store.js';
import { createS3MediaStore } from './s3-media-store.js';

/** The media store the configuration names: the local filesystem, or any S3-compatible service. */
export function createMediaStore(config: Config): MediaStore {
  const { media } = config;
  if (media.store === 'filesystem') return new FilesystemMediaStore(media.dir);
  return createS3MediaStore(media.s3);
}
