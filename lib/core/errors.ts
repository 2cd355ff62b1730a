import { ValidationError } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** Per parent construct: child id → the parent's name for each prop it passes on to that child. */
const PROP_NAMES = new WeakMap<IConstruct, Map<string, { [childProp: string]: string }>>();

/**
 * Makes the errors of block `childId` of `parent` (and of the blocks inside it) name the prop
 * the user set on `parent`, so the block's own check serves the L3 too: an L3 passing its
 * `rawLifecycle` on as a block's `lifecycle` registers `{ lifecycle: 'rawLifecycle' }` before
 * creating the block. A key renames the prop and its sub-props (`lifecycle.expireAfter`).
 */
export function namePropsAs(parent: IConstruct, childId: string, names: { [childProp: string]: string }): void {
  let byChild = PROP_NAMES.get(parent);
  if (!byChild) PROP_NAMES.set(parent, byChild = new Map());
  byChild.set(childId, names);
}

/** `prop` of the block `scope`, renamed by each ancestor that passed it on under another name. */
export function userPropName(scope: IConstruct, prop: string): string {
  let name = prop;
  for (let c = scope; c.node.scope; c = c.node.scope) {
    const names = PROP_NAMES.get(c.node.scope)?.get(c.node.id);
    const head = name.split('.')[0];
    if (names?.[head] !== undefined) name = names[head] + name.slice(head.length);
  }
  return name;
}

/**
 * A synth-time error that names the offending prop and the rule it breaks,
 * e.g. "`partitionKeys[1].field` ('region') is not a column of `schema`".
 */
export function propError(scope: IConstruct, prop: string, rule: string): ValidationError {
  // aws-cdk-lib brands error names as literal strings; ours are fixed identifiers.
  return new ValidationError('StreamingPipelinesInvalidProp' as never, `\`${userPropName(scope, prop)}\` ${rule}`, scope);
}
