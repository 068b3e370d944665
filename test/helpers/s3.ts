import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';

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
