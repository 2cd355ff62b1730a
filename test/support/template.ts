import { CfnResource, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import type { Construct } from 'constructs';
import { newApp } from './nag';
import { ignoreCfnLint, ROLE_DEPENDS_ON } from '../../lib/core/cfn-lint';

/** Synthesizes what `build` adds to a fresh stack and returns its template. */
export function synth(build: (stack: Stack) => void): Template {
  const stack = new Stack(newApp(), 'TestStack');
  build(stack);
  return Template.fromStack(stack);
}

/**
 * A user's own inline function, as aws-cdk-lib makes it. cfn-lint skips W3005 on it for the
 * reason it does on the library's functions (lib/core/cfn-lint.ts): the L2's redundant role DependsOn.
 */
export function userFunction(scope: Construct, id: string, code = 'x', handler = 'i.h'): lambda.Function {
  const fn = new lambda.Function(scope, id, { runtime: lambda.Runtime.NODEJS_22_X, handler, code: lambda.Code.fromInline(code) });
  ignoreCfnLint(fn.node.defaultChild as CfnResource, 'W3005', ROLE_DEPENDS_ON);
  return fn;
}

/** The single resource of `type` in the template (fails if there is not exactly one). */
export function only(template: Template, type: string): any {
  const all = Object.values(template.findResources(type));
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}

/** The single `[logicalId, resource]` of `type` that `match` selects (fails if there is not exactly one). */
export function onlyWhere(template: Template, type: string, what: string, match: (resource: any) => boolean): [string, any] {
  const all = Object.entries(template.findResources(type)).filter(([, r]) => match(r));
  if (all.length !== 1) throw new Error(`expected one ${what} (${type}), found ${all.length}`);
  return all[0];
}

const isCurated = (ds: any): boolean => ds.Properties.ExtendedS3DestinationConfiguration?.DataFormatConversionConfiguration !== undefined;

/** `[logicalId, resource]` of the lake's curated delivery stream: the one converting to Parquet. */
export function curatedDeliveryEntry(template: Template): [string, any] {
  return onlyWhere(template, 'AWS::KinesisFirehose::DeliveryStream', 'curated (Parquet) delivery stream', isCurated);
}

/** The lake's curated delivery stream: the one whose S3 destination has a DataFormatConversionConfiguration. */
export function curatedDelivery(template: Template): any {
  return curatedDeliveryEntry(template)[1];
}

/** `[logicalId, resource]` of the raw-zone archive delivery stream: the one without Parquet conversion. */
export function archiveDeliveryEntry(template: Template): [string, any] {
  return onlyWhere(template, 'AWS::KinesisFirehose::DeliveryStream', 'archive delivery stream', (ds) => !isCurated(ds));
}

/** The raw-zone archive delivery stream (gzip JSON Lines, no Parquet conversion). */
export function archiveDelivery(template: Template): any {
  return archiveDeliveryEntry(template)[1];
}

/** The ExtendedS3DestinationConfiguration of the curated (Parquet) delivery stream. */
export function s3Destination(template: Template): any {
  return curatedDelivery(template).Properties.ExtendedS3DestinationConfiguration;
}

/** The ExtendedS3DestinationConfiguration of the archive delivery stream. */
export function archiveDestination(template: Template): any {
  return archiveDelivery(template).Properties.ExtendedS3DestinationConfiguration;
}

const PARQUET_SERDE = 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe';
const JSON_SERDE = 'org.openx.data.jsonserde.JsonSerDe';
const serdeOf = (t: any): string | undefined => t.Properties.TableInput.StorageDescriptor?.SerdeInfo?.SerializationLibrary;

/** `[logicalId, resource]` of the curated Glue table (Parquet). */
export function curatedTableEntry(template: Template): [string, any] {
  return onlyWhere(template, 'AWS::Glue::Table', 'curated (Parquet) table', (t) => serdeOf(t) === PARQUET_SERDE);
}

/** The curated Glue table (Parquet). */
export function curatedTable(template: Template): any {
  return curatedTableEntry(template)[1];
}

/** `[logicalId, resource]` of the raw-zone archive Glue table (JSON Lines). */
export function archiveTableEntry(template: Template): [string, any] {
  return onlyWhere(template, 'AWS::Glue::Table', 'archive (JSON) table', (t) => serdeOf(t) === JSON_SERDE);
}

/** The raw-zone archive Glue table (JSON Lines). */
export function archiveTable(template: Template): any {
  return archiveTableEntry(template)[1];
}

/** A Fn::Join of literal strings and tokens, rendered with `${token}` placeholders for comparison. */
export function joinToString(value: any): string {
  if (typeof value === 'string') return value;
  if (value?.['Fn::Join']) return value['Fn::Join'][1].map(joinToString).join(value['Fn::Join'][0]);
  if (value?.Ref) return `{${value.Ref}}`;
  if (value?.['Fn::GetAtt']) return `{${value['Fn::GetAtt'].join('.')}}`;
  return JSON.stringify(value);
}
