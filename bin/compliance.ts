import * as fs from 'fs';
import * as path from 'path';
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks, ServerlessChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** The five packs every app and construct test runs. */
export const PACKS = ['AwsSolutions', 'HIPAA.Security', 'NIST.800.53.R5', 'PCI.DSS.321', 'Serverless'];

/** One unacknowledged finding. */
export interface Finding {
  readonly pack: string;
  readonly rule: string;
  readonly severity: string;
  readonly path: string;
  readonly description: string;
}

/** Applies AwsSolutions, HIPAA Security, NIST 800-53 R5, PCI DSS 3.2.1 and Serverless to the app. */
export function applyAllPacks(app: App): void {
  Validations.of(app).addPlugins(
    new AwsSolutionsChecks(app),
    new HIPAASecurityChecks(app),
    new NIST80053R5Checks(app),
    new PCIDSS321Checks(app),
    new ServerlessChecks(app),
  );
}

/** Reads every unacknowledged finding (errors and warnings) from the cloud assembly's validation report. */
export function readFindings(outdir: string): Finding[] {
  const file = path.join(outdir, 'validation-report.json');
  if (!fs.existsSync(file)) return [];
  const report = JSON.parse(fs.readFileSync(file, 'utf8'));
  const findings: Finding[] = [];
  for (const plugin of report.pluginReports ?? []) {
    for (const v of plugin.violations ?? []) {
      for (const c of v.violatingConstructs ?? []) {
        findings.push({ pack: plugin.pluginName, rule: v.ruleName, severity: v.severity, path: c.constructPath, description: v.description });
      }
    }
  }
  return findings;
}

/**
 * Synthesizes the app and returns its unacknowledged findings. Errors make
 * `app.synth()` throw after writing the report; warnings do not, so both are
 * read back from the report.
 */
export function synthFindings(app: App): Finding[] {
  let thrown: unknown;
  try {
    app.synth();
  } catch (e) {
    thrown = e;
  }
  const findings = readFindings(app.outdir);
  if (thrown && findings.length === 0) throw thrown;
  return findings;
}

/** One line per finding: `path  rule  [severity]`. */
export function formatFindings(findings: Finding[]): string {
  return findings.map((f) => `${f.path}  ${f.rule}  [${f.severity}]  ${f.description.split(' - (Control')[0]}`).join('\n');
}

/** One acknowledgement: where it is recorded, the finding id and the reason. */
export interface Acknowledgement {
  readonly path: string;
  readonly id: string;
  readonly reason: string;
}

/** Every acknowledgement recorded under `scope`. */
export function listAcknowledgements(scope: IConstruct): Acknowledgement[] {
  const out: Acknowledgement[] = [];
  for (const c of scope.node.findAll()) {
    for (const m of c.node.metadata) {
      if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY || !m.data) continue;
      // aws-cdk-lib records ids namespaced as `Annotation::<rule>`; report the rule id as it was acknowledged.
      for (const [id, reason] of Object.entries(m.data as { [id: string]: string })) out.push({ path: c.node.path, id: id.replace(/^Annotation::/, ''), reason });
    }
  }
  return out;
}

/** Acknowledgements under `scope`, counted by pack (CloudFormation Validate findings under their own name). */
export function countAcknowledgements(scope: IConstruct): { [pack: string]: number } {
  const counts: { [pack: string]: number } = Object.fromEntries([...PACKS, 'CloudFormation-Validate'].map((p) => [p, 0]));
  for (const { id } of listAcknowledgements(scope)) {
    const pack = Object.keys(counts).find((p) => id.startsWith(`${p}-`) || id.startsWith(`${p}::`));
    if (pack) counts[pack] += 1;
  }
  return counts;
}
