/** ListObjectsV2, every page: the keys under a prefix, or the common prefixes one level below it. */
import { ListObjectsV2Command, type ListObjectsV2CommandOutput, type S3Client } from '@aws-sdk/client-s3';

async function eachPage(
  s3: Pick<S3Client, 'send'>,
  input: { Bucket: string; Prefix: string; Delimiter?: string },
  visit: (page: ListObjectsV2CommandOutput) => void,
): Promise<void> {
  let ContinuationToken: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ ...input, ContinuationToken }));
    visit(page);
    ContinuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (ContinuationToken);
}

/** Every object key under a prefix, in S3's (lexicographic) order. */
export async function listAllKeys(s3: Pick<S3Client, 'send'>, bucket: string, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  await eachPage(s3, { Bucket: bucket, Prefix: prefix }, (page) => {
    for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
  });
  return keys;
}

/** The common prefixes up to the next '/' below a prefix (`<prefix>dt=2026-11-01/`, …), whole. */
export async function listCommonPrefixes(s3: Pick<S3Client, 'send'>, bucket: string, prefix: string): Promise<string[]> {
  const prefixes: string[] = [];
  await eachPage(s3, { Bucket: bucket, Prefix: prefix, Delimiter: '/' }, (page) => {
    for (const p of page.CommonPrefixes ?? []) if (p.Prefix) prefixes.push(p.Prefix);
  });
  return prefixes;
}
