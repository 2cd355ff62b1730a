/**
 * Jest globalSetup: starts the local AWS servers once for the whole run.
 * It runs in jest's parent process; the env vars set here are inherited by the
 * test workers, and the handle stays on globalThis for global-teardown.ts.
 */
import { startLocalAws } from './local-aws';

export default async function globalSetup(): Promise<void> {
  const local = await startLocalAws();
  globalThis.__LOCAL_AWS__ = local;
  process.env.LOCAL_AWS_KINESIS = local.endpoints.kinesis;
  process.env.LOCAL_AWS_DYNAMODB = local.endpoints.dynamodb;
  process.env.LOCAL_AWS_S3 = local.endpoints.s3;
}
