/**
 * Every TypeScript block of README.md and lib/**\/README.md, as a program the tests compile and synthesize.
 *
 * A block is a complete program unless the line before it (blank lines aside) is a marker:
 *   <!-- snippet: fragment harness=NAME -->  spliced into test/readme-harness/NAME.ts at its `// README fragment` line
 *   <!-- snippet: handler -->                a Lambda handler module: compiled, not synthesized
 *   <!-- snippet: handler harness=NAME -->   the same, spliced into a harness (e.g. one declaring the user's own helpers)
 */
import * as fs from 'fs';
import * as path from 'path';
import * as ts from 'typescript';

export const ROOT = path.join(__dirname, '..', '..');
export const HARNESS_DIR = path.join(ROOT, 'test', 'readme-harness');
/** The line of a harness that a fragment replaces. */
export const SPLICE_MARKER = '// README fragment';

export type SnippetKind = 'program' | 'fragment' | 'handler';

export interface Snippet {
  /** Markdown file, relative to the repository root. */
  readonly file: string;
  /** 1-based line of the block's first code line in `file`. */
  readonly line: number;
  readonly kind: SnippetKind;
  readonly harness?: string;
  readonly code: string;
}

/** A snippet made a TypeScript module: its text and where each of its lines comes from. */
export interface SnippetSource {
  readonly snippet: Snippet;
  /** Absolute path of the (virtual) module, inside the repository so node_modules resolve. */
  readonly fileName: string;
  readonly text: string;
  /** The `file:line` a 0-based line of `text` comes from. */
  readonly origin: (line: number) => string;
}

/** README.md and every README.md under lib/. */
export function readmeFiles(): string[] {
  const found: string[] = ['README.md'];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(path.join(ROOT, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, entry.name);
      if (entry.isDirectory()) walk(rel);
      else if (entry.name === 'README.md') found.push(rel);
    }
  };
  walk('lib');
  return found;
}

/** Opening fences whose info string starts with ts or typescript, counted line by line, independently of the parser below. */
export function countTypeScriptFences(markdown: string): number {
  return markdown.split('\n').filter((l) => /^\s*(```|~~~)\s*(ts|typescript)\b/i.test(l)).length;
}

const MARKER = /^<!--\s*snippet:\s*(program|fragment|handler)((?:\s+[a-z]+=[\w-]+)*)\s*-->$/;

/** The TypeScript blocks of one markdown file, with their markers. Throws on a malformed marker. */
export function extractSnippets(file: string, markdown = fs.readFileSync(path.join(ROOT, file), 'utf8')): Snippet[] {
  const lines = markdown.split('\n');
  const out: Snippet[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^\s`]*)/.exec(lines[i]);
    if (!open) continue;
    const [, indent, fence, info] = open;
    let end = i + 1;
    while (end < lines.length && !new RegExp(`^\\s*${fence[0] === '`' ? '`' : '~'}{${fence.length},}\\s*$`).test(lines[end])) end++;
    if (/^(ts|typescript)$/i.test(info)) {
      const body = lines.slice(i + 1, end).map((l) => (l.startsWith(indent) ? l.slice(indent.length) : l.trimStart()));
      out.push({ file, line: i + 2, code: body.join('\n'), ...markerBefore(lines, i, file) });
    }
    i = end;
  }
  return out;
}

function markerBefore(lines: string[], fenceIndex: number, file: string): { kind: SnippetKind; harness?: string } {
  let j = fenceIndex - 1;
  while (j >= 0 && lines[j].trim() === '') j--;
  const text = j >= 0 ? lines[j].trim() : '';
  if (!text.startsWith('<!-- snippet')) return { kind: 'program' };
  const m = MARKER.exec(text);
  if (!m) throw new Error(`${file}:${j + 1}: malformed snippet marker ${text}`);
  const attrs = Object.fromEntries(m[2].trim().split(/\s+/).filter(Boolean).map((a) => a.split('=')));
  const unknown = Object.keys(attrs).filter((k) => k !== 'harness');
  if (unknown.length > 0) throw new Error(`${file}:${j + 1}: unknown snippet attribute(s) ${unknown.join(', ')}`);
  const kind = m[1] as SnippetKind;
  if (kind === 'fragment' && !attrs.harness) throw new Error(`${file}:${j + 1}: a fragment needs harness=NAME`);
  if (attrs.harness && !fs.existsSync(path.join(HARNESS_DIR, `${attrs.harness}.ts`))) throw new Error(`${file}:${j + 1}: no harness test/readme-harness/${attrs.harness}.ts`);
  return { kind, harness: attrs.harness };
}

/** The module a snippet compiles as: itself, or its harness with the snippet at the splice marker. */
export function snippetSource(snippet: Snippet, index: number): SnippetSource {
  const fileName = path.join(HARNESS_DIR, `__readme_snippet_${index}.ts`);
  const here = (line: number) => `${snippet.file}:${snippet.line + line}`;
  if (!snippet.harness) {
    // `export {}` makes every snippet a module, so snippets compiled together never share a scope.
    return { snippet, fileName, text: `${snippet.code}\nexport {};\n`, origin: here };
  }
  const harnessFile = `test/readme-harness/${snippet.harness}.ts`;
  const harness = fs.readFileSync(path.join(ROOT, harnessFile), 'utf8').split('\n');
  const at = harness.findIndex((l) => l.trim() === SPLICE_MARKER);
  if (at < 0) throw new Error(`${harnessFile} has no '${SPLICE_MARKER}' line`);
  const size = snippet.code.split('\n').length;
  const text = [...harness.slice(0, at), snippet.code, ...harness.slice(at + 1)].join('\n');
  const origin = (line: number) => {
    if (line < at) return `${harnessFile}:${line + 1}`;
    if (line < at + size) return here(line - at);
    return `${harnessFile}:${line - size + 2}`;
  };
  return { snippet, fileName, text, origin };
}

/** How snippets are compiled: strict, as a user's CDK app, with the package mapped to this repository's source. */
export const COMPILER_OPTIONS: ts.CompilerOptions = {
  strict: true,
  target: ts.ScriptTarget.ES2022,
  lib: ['lib.es2022.d.ts'],
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  esModuleInterop: true,
  skipLibCheck: true,
  noEmit: true,
  types: ['node'],
  paths: {
    'cdk-streaming-pipelines': [path.join(ROOT, 'lib', 'index.ts')],
    'cdk-streaming-pipelines/runtime': [path.join(ROOT, 'lambda', 'shared', 'runtime.ts')],
  },
};

/** Type-checks every snippet in one program; returns each snippet's errors as `file:line: message`. */
export function compileSnippets(sources: SnippetSource[]): Map<SnippetSource, string[]> {
  const byName = new Map(sources.map((s) => [s.fileName, s]));
  const host = ts.createCompilerHost(COMPILER_OPTIONS);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, ...rest) => {
    const s = byName.get(path.resolve(name));
    return s ? ts.createSourceFile(name, s.text, lang, true) : getSourceFile.call(host, name, lang, ...rest);
  };
  host.fileExists = (name) => byName.has(path.resolve(name)) || fileExists.call(host, name);
  host.readFile = (name) => byName.get(path.resolve(name))?.text ?? readFile.call(host, name);
  const program = ts.createProgram([...byName.keys()], COMPILER_OPTIONS, host);
  const result = new Map<SnippetSource, string[]>();
  for (const s of sources) {
    const sf = program.getSourceFile(s.fileName)!;
    const diagnostics = [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)];
    result.set(s, diagnostics.map((d) => {
      const where = d.start === undefined ? s.snippet.file : s.origin(sf.getLineAndCharacterOfPosition(d.start).line);
      return `${where}: TS${d.code}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    }));
  }
  return result;
}

/** The snippet as CommonJS, for running. */
export function transpileSnippet(source: SnippetSource): string {
  return ts.transpileModule(source.text, {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true },
    fileName: source.fileName,
  }).outputText;
}
