import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Stack } from 'aws-cdk-lib';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { addDefaultLake, addFullLake, addLakeOnExistingResources } from '../bin/examples';
import { ROLE_DEPENDS_ON } from '../lib/core/cfn-lint';
import { collectTemplates } from './support/lint-collect';
import { newApp } from './support/nag';
import { synth } from './support/template';

const ROOT = path.join(__dirname, '..');
const LINT = path.join(ROOT, 'scripts', 'cfn-lint.mjs');

/** Hand-written templates: a CDK app here would be collected into npm test's lint run, and these must fail it. */
const CLEAN = { Resources: { Topic: { Type: 'AWS::SNS::Topic' } } };
const BAD = {
  Mappings: { Unused: { Key: { Value: 'x' } } },
  Resources: {
    Topic: { Type: 'AWS::SNS::Topic' },
    Queue: { Type: 'AWS::SQS::Queue', DependsOn: ['Topic'], Properties: { QueueName: { 'Fn::GetAtt': ['Topic', 'TopicName'] } } },
  },
};

function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

describe('npm test\'s cfn-lint step', () => {
  const outdir = tempDir('csp-lint-out-');
  const lintDir = tempDir('csp-lint-dir-');
  afterAll(() => {
    fs.rmSync(outdir, { recursive: true, force: true });
    fs.rmSync(lintDir, { recursive: true, force: true });
  });

  test('collects each template once by content, noting the test and stack it came from', () => {
    fs.writeFileSync(path.join(outdir, 'Bad.template.json'), JSON.stringify(BAD));
    fs.writeFileSync(path.join(outdir, 'Clean.template.json'), JSON.stringify(CLEAN));
    fs.mkdirSync(path.join(outdir, 'assembly-Stage'));
    fs.writeFileSync(path.join(outdir, 'assembly-Stage', 'Again.template.json'), JSON.stringify(CLEAN));
    expect(collectTemplates(outdir, 'test/cfn-lint.test.ts', lintDir)).toBe(3);
    expect(fs.readdirSync(lintDir).filter((f) => f.endsWith('.template.json'))).toHaveLength(2);
    expect(fs.readFileSync(path.join(lintDir, 'origins.tsv'), 'utf8')).toMatch(/\ttest\/cfn-lint\.test\.ts\tassembly-Stage\/Again\.template\.json\n/);
  });

  test('fails on an unused Mapping and a redundant DependsOn, naming file, origin, rule, resource and message', () => {
    const r = spawnSync(process.execPath, [LINT, '--dir', lintDir, '--jobs', '1'], { cwd: ROOT, encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/[0-9a-f]{64}\.template\.json \[test\/cfn-lint\.test\.ts Bad\.template\.json\]\n {4}W7001 Warning {2}Mappings\/Unused .*\n {4}Mapping 'Unused' is defined but not used/);
    expect(r.stderr).toMatch(/W3005 Warning {2}Resources\/Queue {2}at Resources\/Queue\/DependsOn\/0\n {4}'Topic' dependency already enforced/);
    expect(r.stdout).toMatch(/^cfn-lint: 1 passed, 1 failed$/m);
  }, 600_000);

  test('refuses to pass when there is nothing to lint', () => {
    const empty = tempDir('csp-lint-empty-');
    try {
      const r = spawnSync(process.execPath, [LINT, '--dir', empty], { cwd: ROOT, encoding: 'utf8' });
      expect([r.status, r.stderr]).toEqual([1, expect.stringMatching(/no templates in .*run the tests first/)]);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  }, 600_000);

  test('without python3, fails saying how to install it', () => {
    const r = spawnSync(process.execPath, [LINT, '--dir', lintDir], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, PYTHON: '/nonexistent/python3' } });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\/nonexistent\/python3 was not found\. Install Python 3\.10 or later .*apt-get install -y python3 python3-venv/);
  });
});

describe('what cfn-lint found, fixed', () => {
  const configurations = [['defaults', addDefaultLake], ['all options', addFullLake], ['existing resources', addLakeOnExistingResources]] as const;

  test.each(configurations)('%s: the Firehose L2\'s unused region→CIDR mapping is not rendered (W7001)', (_name, add) => {
    expect(synth((s) => add(s)).toJSON().Mappings).toBeUndefined();
  });

  test('a CIDR mapping another delivery stream put in the stack first is left alone', () => {
    const stack = new Stack(newApp(), 'Shared');
    new firehose.DeliveryStream(stack, 'Theirs', { destination: new firehose.S3Bucket(new s3.Bucket(stack, 'TheirBucket')) });
    addDefaultLake(stack);
    expect(stack.node.tryFindChild('@aws-cdk/aws-kinesisfirehose.CidrBlocks')).toBeDefined();
  });

  test.each(configurations.slice(0, 2))('%s: every function and state machine skips only W3005, with the reason, and still waits for its policy', (_name, add) => {
    const template = synth((s) => add(s)).toJSON();
    const withRoles = Object.values<any>(template.Resources).filter((r) => ['AWS::Lambda::Function', 'AWS::StepFunctions::StateMachine'].includes(r.Type));
    expect(withRoles.length).toBeGreaterThan(0);
    for (const r of withRoles) {
      expect(r.Metadata['cfn-lint']).toEqual({ config: { ignore_checks: ['W3005'] }, reasons: { W3005: ROLE_DEPENDS_ON } });
      const roleId = (r.Properties.Role ?? r.Properties.RoleArn)['Fn::GetAtt'][0];
      expect(r.DependsOn).toEqual(expect.arrayContaining([roleId, expect.stringMatching(/DefaultPolicy/)]));
    }
  });
});
