import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import type { DataConverter, Payload, PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { modulePath } from './module-path';

/**
 * Optional end-to-end encryption of every payload Temporal stores (workflow inputs and results,
 * activity arguments, signals, updates, queries, memos, failure details): AES-256-GCM with a key
 * from the environment, so the server and anyone reading its database see only ciphertext.
 *
 * Wire format of an encrypted payload: metadata `encoding: binary/encrypted` and
 * `encryption-key-id: <id>`, data = 12-byte IV ‖ ciphertext ‖ 16-byte GCM tag of the original
 * Payload (protobuf-encoded, so its own metadata is hidden too). The key id is the first 16 hex
 * digits of the key's sha256: it names the key without revealing it, which is what lets a rotated
 * key keep decoding older histories (MLOPS_PAYLOAD_PREVIOUS_KEYS).
 */
export const ENCRYPTED_ENCODING = 'binary/encrypted';
const KEY_ID_METADATA = 'encryption-key-id';
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class PayloadKeyError extends Error {
  override name = 'PayloadKeyError';
}

export interface PayloadKey {
  id: string;
  key: Buffer;
}

/** A base64 key of exactly 32 bytes (e.g. `openssl rand -base64 32`). */
export function parsePayloadKey(base64: string, variable = 'MLOPS_PAYLOAD_KEY'): PayloadKey {
  const trimmed = base64.trim();
  const key = Buffer.from(trimmed, 'base64');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(trimmed) || key.length !== 32) {
    throw new PayloadKeyError(`${variable} must be 32 random bytes in base64 (44 characters), got ${key.length} bytes; create one with: openssl rand -base64 32`);
  }
  return { id: createHash('sha256').update(key).digest('hex').slice(0, 16), key };
}

const text = (s: string) => new TextEncoder().encode(s);
const untext = (b: Uint8Array | null | undefined) => (b ? new TextDecoder().decode(b) : '');

export class AesGcmPayloadCodec implements PayloadCodec {
  private readonly byId: Map<string, Buffer>;

  /** `current` encrypts; it and `previous` decrypt. */
  constructor(
    private readonly current: PayloadKey,
    previous: readonly PayloadKey[] = [],
  ) {
    this.byId = new Map([current, ...previous].map((k) => [k.id, k.key]));
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', this.current.key, iv);
      const plain = temporal.api.common.v1.Payload.encode(payload).finish();
      const data = Buffer.concat([iv, cipher.update(plain), cipher.final(), cipher.getAuthTag()]);
      return { metadata: { encoding: text(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: text(this.current.id) }, data };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      // Payloads written before encryption was switched on stay readable.
      if (untext(payload.metadata?.encoding) !== ENCRYPTED_ENCODING) return payload;
      const keyId = untext(payload.metadata?.[KEY_ID_METADATA]);
      const key = this.byId.get(keyId);
      if (!key) {
        throw new PayloadKeyError(
          `Payload was encrypted with key ${keyId || '(no id)'}, which is neither MLOPS_PAYLOAD_KEY (${this.current.id}) nor in MLOPS_PAYLOAD_PREVIOUS_KEYS`,
        );
      }
      const data = Buffer.from(payload.data ?? []);
      if (data.length < IV_BYTES + TAG_BYTES) throw new PayloadKeyError(`Encrypted payload is truncated (${data.length} bytes)`);
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plain: Buffer;
      try {
        plain = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new PayloadKeyError(`Encrypted payload (key ${keyId}) failed authentication: it was altered or corrupted`);
      }
      return temporal.api.common.v1.Payload.decode(plain);
    });
  }
}

export interface PayloadEncryptionSettings {
  key: PayloadKey;
  previousKeys: PayloadKey[];
}

/**
 * The data converter for clients and workers: with a key, every payload is encrypted, and
 * failure messages and stack traces are moved into (encrypted) payloads too.
 */
export function dataConverterOf(encryption: PayloadEncryptionSettings | undefined): DataConverter | undefined {
  if (!encryption) return undefined;
  return {
    payloadCodecs: [new AesGcmPayloadCodec(encryption.key, encryption.previousKeys)],
    failureConverterPath: modulePath(__dirname, 'failure-converter'),
  };
}
