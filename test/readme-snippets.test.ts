import * as fs from 'fs';
import * as path from 'path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { runSnippet, userProject } from './support/readme-run';
import {
  compileSnippets, countTypeScriptFences, extractSnippets, readmeFiles, ROOT, snippetSource, transpileSnippet, type SnippetSource,
} from './support/readme-snippets';

/**
 * Every TypeScript block of README.md and lib/**\/README.md compiles against the library's source and,
 * unless it is a Lambda handler, synthesizes with the five cdk-nag packs on and no unacknowledged
 * finding. Docs cannot rot: a renamed prop, a default that changed, or a snippet a user cannot deploy
 * fails here with the snippet's file and line.
 */
const sources: SnippetSource[] = readmeFiles().flatMap((file) => extractSnippets(file)).map(snippetSource);
const name = (s: SnippetSource) => `${s.snippet.file}:${s.snippet.line} (${s.snippet.kind}${s.snippet.harness ? ` in ${s.snippet.harness}` : ''})`;

let compiled: Map<SnippetSource, string[]>;
const synthesized = new Map<SnippetSource, App[]>();
let project: string;
// One program type-checks every snippet with the library's source: tens of seconds on a loaded machine.
beforeAll(() => {
  compiled = compileSnippets(sources);
  project = userProject();
}, 600_000);
afterAll(() => fs.rmSync(project, { recursive: true, force: true }));

test('every TypeScript block of the READMEs is checked', () => {
  const files = readmeFiles();
  expect(files).toContain('README.md');
  expect(files).toContain('lib/streaming-lake/README.md');
  for (const file of files) {
    const text = fs.readFileSync(path.join(ROOT, file), 'utf8');
    expect({ file, checked: sources.filter((s) => s.snippet.file === file).length }).toEqual({ file, checked: countTypeScriptFences(text) });
  }
  expect(sources.length).toBeGreaterThan(0);
});

describe('snippet markers', () => {
  const md = (...lines: string[]) => lines.join('\n');

  test('a block without a marker is a complete program; its line is its first code line', () => {
    expect(extractSnippets('X.md', md('# T', '', '```ts', 'const a = 1;', '```'))).toEqual([{ file: 'X.md', line: 4, kind: 'program', code: 'const a = 1;' }]);
  });

  test('a marker names the kind and harness; blocks inside another fence and other languages are not snippets', () => {
    const found = extractSnippets('X.md', md(
      '<!-- snippet: fragment harness=lake -->', '', '```typescript', 'lake;', '```',
      '````markdown', '```ts', 'not a snippet', '```', '````',
      '```bash', 'echo', '```',
      '1. step', '   <!-- snippet: handler -->', '   ```ts', '   export const h = 1;', '   ```',
    ));
    expect(found.map((s) => [s.kind, s.harness, s.code])).toEqual([['fragment', 'lake', 'lake;'], ['handler', undefined, 'export const h = 1;']]);
  });

  test('a malformed marker, a fragment without a harness, or an unknown harness fails with its line', () => {
    expect(() => extractSnippets('X.md', md('<!-- snippet: fragmnet harness=lake -->', '```ts', 'x', '```'))).toThrow('X.md:1: malformed snippet marker');
    expect(() => extractSnippets('X.md', md('', '<!-- snippet: fragment -->', '```ts', 'x', '```'))).toThrow('X.md:2: a fragment needs harness=NAME');
    expect(() => extractSnippets('X.md', md('<!-- snippet: fragment harness=nope -->', '```ts', 'x', '```'))).toThrow('X.md:1: no harness test/readme-harness/nope.ts');
  });

  test('a fragment\'s lines map to its README lines, the harness\'s to the harness file', () => {
    const [snippet] = extractSnippets('X.md', md('<!-- snippet: fragment harness=lake -->', '```ts', 'const ok = 1;', 'const bad = 2;', '```'));
    const source = snippetSource(snippet, 0);
    const lines = source.text.split('\n');
    const at = lines.indexOf('const bad = 2;');
    expect([source.origin(at - 1), source.origin(at)]).toEqual(['X.md:3', 'X.md:4']);
    expect(source.origin(0)).toBe('test/readme-harness/lake.ts:1');
    expect(lines[at + 1]).toBe('');
    const harness = fs.readFileSync(path.join(ROOT, 'test/readme-harness/lake.ts'), 'utf8').split('\n');
    expect(harness[Number(source.origin(at + 1).split(':')[1]) - 1]).toBe(lines[at + 1]);
  });
});

describe.each(sources.map((s) => [name(s), s] as const))('%s', (_, source) => {
  test('compiles', () => {
    expect(compiled.get(source)).toEqual([]);
  });

  if (source.snippet.kind !== 'handler') {
    test('synthesizes with the five cdk-nag packs and no unacknowledged finding', () => {
      if (compiled.get(source)!.length > 0) throw new Error('does not compile (see above)');
      const { problems, apps } = runSnippet(source, transpileSnippet(source), project);
      synthesized.set(source, apps);
      expect(problems).toEqual([]);
    });
  }
});

test('the Quick start\'s alarm topic lets CloudWatch publish to it and use its key', () => {
  // A topic policy replaces SNS's default one: without this Allow, the alarms could not notify anyone.
  const source = sources.find((s) => s.snippet.code.includes("new sns.Topic(stack, 'Pager'"))!;
  const apps = synthesized.get(source) ?? runSnippet(source, transpileSnippet(source), project).apps;
  const stack = apps[0].node.children.find((c): c is Stack => Stack.isStack(c))!;
  const t = Template.fromStack(stack);
  const pagerKey = Object.keys(t.findResources('AWS::KMS::Key')).find((id) => id.startsWith('PagerKey'))!;
  t.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [pagerKey, 'Arn'] } });
  t.hasResourceProperties('AWS::SNS::TopicPolicy', {
    PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({
      Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: 'sns:Publish',
      Condition: { StringEquals: { 'aws:SourceAccount': Match.anyValue() }, ArnLike: { 'aws:SourceArn': Match.anyValue() } },
    })]) },
  });
  const key = t.findResources('AWS::KMS::Key')[pagerKey].Properties;
  expect(key.EnableKeyRotation).toBe(true);
  expect(key.KeyPolicy.Statement).toContainEqual(expect.objectContaining({
    Effect: 'Allow', Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
  }));
});
