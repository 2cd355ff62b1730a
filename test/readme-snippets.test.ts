import * as fs from 'fs';
import * as path from 'path';
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
const sources: SnippetSource[] = readmeFiles().flatMap(extractSnippets).map(snippetSource);
const name = (s: SnippetSource) => `${s.snippet.file}:${s.snippet.line} (${s.snippet.kind}${s.snippet.harness ? ` in ${s.snippet.harness}` : ''})`;

let compiled: Map<SnippetSource, string[]>;
let project: string;
beforeAll(() => {
  compiled = compileSnippets(sources);
  project = userProject();
});
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

describe.each(sources.map((s) => [name(s), s] as const))('%s', (_, source) => {
  test('compiles', () => {
    expect(compiled.get(source)).toEqual([]);
  });

  if (source.snippet.kind !== 'handler') {
    test('synthesizes with the five cdk-nag packs and no unacknowledged finding', () => {
      if (compiled.get(source)!.length > 0) throw new Error('does not compile (see above)');
      expect(runSnippet(source, transpileSnippet(source), project)).toEqual([]);
    });
  }
});
