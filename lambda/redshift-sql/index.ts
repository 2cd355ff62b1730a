// Placeholder until the SQL runner lands (issue 12, runner branch): refuses every event.
export async function handler(): Promise<never> {
  throw new Error('redshift-sql: the SQL runner is not built yet');
}
