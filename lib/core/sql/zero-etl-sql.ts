import { sqlIdent, sqlLiteral } from '../redshift-sql-text';

/**
 * `CREATE DATABASE "<database>" FROM INTEGRATION '<integration id>' [DATABASE "<source>"]`: the
 * statement that makes a zero-ETL integration's replicated database in the warehouse (Amazon
 * Redshift Management Guide, "Creating destination databases in Amazon Redshift"). The source
 * database is named for Aurora PostgreSQL sources only. `integrationId` may be a token (the last
 * segment of the integration's ARN); it is kept as it is inside the literal.
 */
export function createDatabaseFromIntegration(database: string, integrationId: string, sourceDatabase?: string): string {
  const source = sourceDatabase === undefined ? '' : ` DATABASE ${sqlIdent(sourceDatabase)}`;
  return `CREATE DATABASE ${sqlIdent(database)} FROM INTEGRATION ${sqlLiteral(integrationId)}${source}`;
}

