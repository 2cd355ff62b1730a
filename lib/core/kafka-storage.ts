import type { Size } from 'aws-cdk-lib';
import * as appscaling from 'aws-cdk-lib/aws-applicationautoscaling';
import type { IConstruct } from 'constructs';
import { Construct } from 'constructs';
import { propError } from './errors';

/** EBS storage of each Standard broker, and how far autoscaling may grow it. */
export interface KafkaBrokerStorage {
  /**
   * EBS volume of each broker at creation, and the floor of storage autoscaling.
   *
   * **Never change it after the cluster exists.** Autoscaling grows the volumes behind
   * CloudFormation's back; a later stack update that sends this (smaller) size fails with "you must
   * increase it by at least 10 GiB" (cloudformation-coverage-roadmap #1129), and MSK never shrinks a
   * volume. To grow storage, raise `maxVolumeSize` and let autoscaling do it.
   * @default Size.gibibytes(100)
   */
  readonly volumeSize?: Size;
  /** The most autoscaling may grow each broker's volume to (MSK's ceiling is 16,384 GiB). @default Size.gibibytes(1000) */
  readonly maxVolumeSize?: Size;
  /**
   * Disk utilization (`KafkaBrokerStorageUtilization`, percent) autoscaling keeps each broker under,
   * 10–80. Each step grows a volume by at least 10 GiB or 10%, at most once every 6 hours, so leave headroom.
   * @default 60
   */
  readonly targetUtilizationPercent?: number;
}

/** A {@link KafkaBrokerStorage} with its defaults applied, in GiB. */
export interface ResolvedBrokerStorage {
  /** Initial EBS volume per broker, GiB. */
  readonly volumeGib: number;
  /** Autoscaling ceiling per broker, GiB. */
  readonly maxVolumeGib: number;
  /** Target utilization percent. */
  readonly targetUtilizationPercent: number;
}

/** MSK's limit on one broker's EBS volume. */
const MAX_GIB = 16_384;

/** Applies the defaults of `storage` and checks them against MSK's limits; errors name `prop`.<field>. */
export function resolveBrokerStorage(scope: IConstruct, prop: string, storage: KafkaBrokerStorage = {}): ResolvedBrokerStorage {
  const gib = (field: 'volumeSize' | 'maxVolumeSize', fallback: number): number => {
    const size = storage[field];
    const value = size ? size.toMebibytes() / 1024 : fallback;
    if (!Number.isInteger(value) || value < 1 || value > MAX_GIB) {
      throw propError(scope, `${prop}.${field}`, `(${value} GiB) must be a whole number of GiB from 1 to ${MAX_GIB}`);
    }
    return value;
  };
  const volumeGib = gib('volumeSize', 100);
  const maxVolumeGib = gib('maxVolumeSize', Math.max(1000, volumeGib));
  if (maxVolumeGib < volumeGib) {
    throw propError(scope, `${prop}.maxVolumeSize`, `(${maxVolumeGib} GiB) must be at least \`${prop}.volumeSize\` (${volumeGib} GiB)`);
  }
  const target = storage.targetUtilizationPercent ?? 60;
  if (!Number.isFinite(target) || target < 10 || target > 80) {
    throw propError(scope, `${prop}.targetUtilizationPercent`, `(${target}) must be from 10 to 80 (Application Auto Scaling's range for KafkaBrokerStorageUtilization)`);
  }
  return { volumeGib, maxVolumeGib, targetUtilizationPercent: target };
}

/** Properties of a {@link KafkaStorageAutoScaling}. */
export interface KafkaStorageAutoScalingProps {
  /** The MSK cluster ARN (Standard brokers only: Express and Serverless manage storage). */
  readonly clusterArn: string;
  /** Sizes and target, from {@link resolveBrokerStorage}. */
  readonly storage: ResolvedBrokerStorage;
}

/**
 * Storage autoscaling of a Standard-broker cluster: a scalable target on
 * `kafka:broker-storage:VolumeSize` and a target-tracking policy on `KafkaBrokerStorageUtilization`
 * with scale-in disabled (MSK cannot shrink volumes).
 */
export class KafkaStorageAutoScaling extends Construct {
  /** The scalable target. */
  public readonly target: appscaling.CfnScalableTarget;
  /** The target-tracking policy. */
  public readonly policy: appscaling.CfnScalingPolicy;

  constructor(scope: Construct, id: string, props: KafkaStorageAutoScalingProps) {
    super(scope, id);
    // No RoleARN: Application Auto Scaling uses its service-linked role for MSK
    // (AWSServiceRoleForApplicationAutoScaling_KafkaCluster), which holds exactly the MSK actions it needs.
    this.target = new appscaling.CfnScalableTarget(this, 'Target', {
      serviceNamespace: 'kafka',
      scalableDimension: 'kafka:broker-storage:VolumeSize',
      resourceId: props.clusterArn,
      minCapacity: props.storage.volumeGib,
      maxCapacity: props.storage.maxVolumeGib,
    });
    this.policy = new appscaling.CfnScalingPolicy(this, 'Policy', {
      policyName: 'broker-storage-utilization',
      policyType: 'TargetTrackingScaling',
      scalingTargetId: this.target.ref,
      targetTrackingScalingPolicyConfiguration: {
        predefinedMetricSpecification: { predefinedMetricType: 'KafkaBrokerStorageUtilization' },
        targetValue: props.storage.targetUtilizationPercent,
        disableScaleIn: true,
      },
    });
  }
}

