/** Jest globalTeardown: stops the servers global-setup.ts started, so jest exits without open handles. */
import type {} from './local-aws'; // the globalThis.__LOCAL_AWS__ declaration

export default async function globalTeardown(): Promise<void> {
  const local = globalThis.__LOCAL_AWS__;
  globalThis.__LOCAL_AWS__ = undefined;
  delete process.env.LOCAL_AWS_KINESIS;
  delete process.env.LOCAL_AWS_DYNAMODB;
  delete process.env.LOCAL_AWS_S3;
  await local?.stop();
}
