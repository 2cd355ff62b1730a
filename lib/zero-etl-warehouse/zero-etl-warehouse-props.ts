import type { RedshiftWarehouseProps } from '../core/redshift-warehouse';

/**
 * Properties of a {@link ZeroEtlWarehouse}: those of its Redshift Serverless warehouse. What it loads
 * is added with `autoCopy`, `streamingIngestion` and `zeroEtl`.
 */
export interface ZeroEtlWarehouseProps extends RedshiftWarehouseProps {}
