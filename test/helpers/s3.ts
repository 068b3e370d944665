import { ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';

/** An S3 server a test talks to: the run's (`inject('s3')`) or one it started itself. */
export interface S3Endpoint {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

/** The settings that put a worker's (or the CLI's) artifact store at s3://bucket/prefix on `s3`. */
export function s3StoreEnv(s3: S3Endpoint, bucket: string, prefix: string): Record<string, string> {
  return {
    MLOPS_STORE: `s3://${bucket}/${prefix}`,
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    AWS_REGION: s3.region,
    AWS_ENDPOINT_URL: s3.endpoint,
  };
}

/** An SDK client of `s3`, for what a test checks or plants in the bucket behind the store's back. */
export function s3Client(s3: S3Endpoint): S3Client {
  // As S3Backend does: the pinned SDK's notice about Node 22 would bury the test report.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  return new S3Client({ endpoint: s3.endpoint, region: s3.region, forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
}

/** Every key under `prefix/under` in the bucket, relative to `prefix`, sorted: what a test expects to find there. */
export async function bucketKeys(sdk: S3Client, bucket: string, prefix: string, under = ''): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await sdk.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${prefix}/${under}`, ContinuationToken: token }));
    out.push(...(page.Contents ?? []).map((o) => o.Key!.slice(prefix.length + 1)));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return out.sort();
}
