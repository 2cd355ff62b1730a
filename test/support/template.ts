import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { newApp } from './nag';

/** Synthesizes what `build` adds to a fresh stack and returns its template. */
export function synth(build: (stack: Stack) => void): Template {
  const stack = new Stack(newApp(), 'TestStack');
  build(stack);
  return Template.fromStack(stack);
}

/** The single resource of `type` in the template (fails if there is not exactly one). */
export function only(template: Template, type: string): any {
  const all = Object.values(template.findResources(type));
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}

/** The ExtendedS3DestinationConfiguration of the single delivery stream. */
export function s3Destination(template: Template): any {
  return only(template, 'AWS::KinesisFirehose::DeliveryStream').Properties.ExtendedS3DestinationConfiguration;
}

/** A Fn::Join of literal strings and tokens, rendered with `${token}` placeholders for comparison. */
export function joinToString(value: any): string {
  if (typeof value === 'string') return value;
  if (value?.['Fn::Join']) return value['Fn::Join'][1].map(joinToString).join(value['Fn::Join'][0]);
  if (value?.Ref) return `{${value.Ref}}`;
  if (value?.['Fn::GetAtt']) return `{${value['Fn::GetAtt'].join('.')}}`;
  return JSON.stringify(value);
}
