import { Lazy } from 'aws-cdk-lib';
import * as cw from 'aws-cdk-lib/aws-cloudwatch';
import * as cwActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { acknowledge, inCompliancePacks } from './acknowledge';
import { letAlarmsPublish, topicOfAction } from './alarm-topic';
import { propError } from './errors';

/**
 * How an alarm reaches a person: it pages on its own (lost, refused or undelivered data), or it
 * feeds the composite as a cause (capacity, failures) or a symptom (lag), and pages only through it.
 */
export type Paging = 'pages' | 'cause' | 'symptom';

/** What a monitor tells its {@link AlarmRouter}. */
export interface AlarmRouterProps {
  /** The action of the alarms that page and of the composite. @default - a created encrypted topic */
  readonly alarmAction?: cw.IAlarmAction;
  /** Key of the created topic; required without `alarmAction`. */
  readonly encryptionKey?: kms.IKey;
  /** What the composite alarm means, in the monitor's own terms. */
  readonly compositeDescription: string;
}

/**
 * The paging mechanics a monitor shares (PipelineMonitor, KafkaMonitor): the action or a created
 * topic CloudWatch may publish to, the one composite alarm (any cause AND any symptom), and the
 * alarm-status widget. It creates its constructs in the monitor's scope, under fixed ids
 * (`AlarmTopic`, `CauseAndSymptom`), so a monitor's template does not depend on this split.
 */
export class AlarmRouter {
  /** The topic alarms publish to, when no `alarmAction` was given. */
  public readonly alarmTopic?: sns.Topic;
  private readonly action: cw.IAlarmAction;
  private readonly statusAlarms: cw.IAlarm[] = [];
  private readonly causes: cw.IAlarm[] = [];
  private readonly symptoms: cw.IAlarm[] = [];
  private compositeAlarm?: cw.CompositeAlarm;
  private actionTopicChecked = false;
  private statusWidgetAdded = false;

  constructor(private readonly scope: Construct, private readonly props: AlarmRouterProps) {
    // Every alarm reaches a person, on its own or through the composite: an alarm nobody hears is not monitoring.
    if (props.alarmAction) {
      this.action = props.alarmAction;
    } else {
      if (!props.encryptionKey) throw propError(scope, 'encryptionKey', 'is required when `alarmAction` is not given, to encrypt the created alarm topic');
      this.alarmTopic = new sns.Topic(scope, 'AlarmTopic', { masterKey: props.encryptionKey, enforceSSL: true });
      letAlarmsPublish(scope, this.alarmTopic);
      this.action = new cwActions.SnsAction(this.alarmTopic);
    }
  }

  /** The composite alarm; undefined until an alarm feeds it. */
  public get composite(): cw.CompositeAlarm | undefined {
    return this.compositeAlarm;
  }

  /** Lists `alarm` on the status widget and pages with it, or feeds it to the composite (with no action of its own). */
  public route(alarm: cw.Alarm, paging: Paging): void {
    this.statusAlarms.push(alarm);
    if (paging === 'pages') {
      this.notify(alarm);
      return;
    }
    (paging === 'cause' ? this.causes : this.symptoms).push(alarm);
    this.ensureComposite();
    acknowledge(alarm.node.defaultChild!, inCompliancePacks('CloudWatchAlarmAction',
      `This alarm is a ${paging} feeding the composite alarm ${this.compositeAlarm!.node.path}, which notifies the alarm action; `
      + 'an action here too would page twice for one incident (alarms meaning lost or undelivered data page on their own).',
      ['HIPAA.Security', 'NIST.800.53.R5']));
  }

  /**
   * One alarm-status widget on `dashboard` listing every alarm, including those added later (the
   * widget reads the list when the dashboard renders). CloudWatch rejects the widget without
   * alarms, so it is created with the first one.
   */
  public ensureStatusWidget(dashboard: cw.Dashboard): void {
    if (this.statusWidgetAdded || this.statusAlarms.length === 0) return;
    dashboard.addWidgets(new cw.AlarmStatusWidget({ title: 'Alarms', width: 24, alarms: this.statusAlarms }));
    this.statusWidgetAdded = true;
  }

  /**
   * The one composite alarm, created with the first alarm that feeds it. Its rule is rendered at
   * synth, so alarms added later join it: any cause AND any symptom; only the causes, or only the
   * symptoms, when the monitor watches no alarm of the other kind.
   */
  private ensureComposite(): void {
    if (this.compositeAlarm) return;
    const anyOf = (alarms: cw.IAlarm[]): cw.IAlarmRule => cw.AlarmRule.anyOf(...alarms);
    const rule = (): cw.IAlarmRule => {
      if (this.causes.length > 0 && this.symptoms.length > 0) return cw.AlarmRule.allOf(anyOf(this.causes), anyOf(this.symptoms));
      return anyOf(this.causes.length > 0 ? this.causes : this.symptoms);
    };
    this.compositeAlarm = new cw.CompositeAlarm(this.scope, 'CauseAndSymptom', {
      // Page only when a sustained cause meets a symptom: a cause alone can be a burst the system absorbs.
      alarmRule: { renderAlarmRule: () => Lazy.string({ produce: () => rule().renderAlarmRule() }) },
      alarmDescription: this.props.compositeDescription,
    });
    this.statusAlarms.push(this.compositeAlarm);
    this.notify(this.compositeAlarm);
  }

  /** Adds the action to `alarm`; the first time, lets CloudWatch publish to the action's topic when it is one of this app's. */
  private notify(alarm: cw.IAlarm & { addAlarmAction(...actions: cw.IAlarmAction[]): void }): void {
    if (!this.actionTopicChecked && !this.alarmTopic) {
      const topic = topicOfAction(this.scope, this.action, alarm);
      if (topic) letAlarmsPublish(this.scope, topic);
    }
    this.actionTopicChecked = true;
    alarm.addAlarmAction(this.action);
  }
}
