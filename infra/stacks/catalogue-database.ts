import { RemovalPolicy } from 'aws-cdk-lib';
import * as ec2 from 'aws-cdk-lib/aws-ec2';
import * as rds from 'aws-cdk-lib/aws-rds';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

/** Where the gateway's product catalogue lives: SQLite inside each task, or one shared Aurora cluster. */
export const CATALOGUE_KINDS = ['sqlite', 'aurora'] as const;
export type CatalogueKind = (typeof CATALOGUE_KINDS)[number];

/** The name of the VPC's isolated subnets, made only for the database. */
export const DATABASE_SUBNET_GROUP = 'database';
/** The master user, which the gateway connects as (it runs CREATE EXTENSION vector, which needs rds_superuser). */
export const DATABASE_USER = 'clip';
/** The database the cluster creates for the catalogue. */
export const DATABASE_NAME = 'catalogue';
export const DATABASE_PORT = 5432;

/**
 * TLS without checking the server's certificate. pg 8 reads `sslmode=require` as verify-full
 * against Node's bundled CAs, which do not include the RDS CAs, so it would refuse every Aurora
 * connection; `no-verify` is pg's name for "encrypt, but do not verify". The server side refuses
 * plain connections (rds.force_ssl below).
 */
export const DATABASE_TLS_QUERY = '?sslmode=no-verify';

export interface CatalogueDatabaseProps {
  /** The VPC; it must have PRIVATE_ISOLATED subnets in two AZs, named DATABASE_SUBNET_GROUP. Required. */
  readonly vpc: ec2.IVpc;
  /** Least capacity in ACUs (0.5 to 256, in steps of 0.5); billed every hour the cluster exists. Default 0.5. */
  readonly minCapacity?: number;
  /** Most capacity in ACUs (1 to 256, in steps of 0.5, at least minCapacity). Default 4. */
  readonly maxCapacity?: number;
}

/**
 * The shared catalogue: an Aurora Serverless v2 PostgreSQL cluster (one writer) in isolated
 * subnets, storage encrypted, its master password generated into Secrets Manager. Nothing in the
 * VPC may connect to it until `allowFrom` says who.
 */
export class CatalogueDatabase extends Construct {
  readonly cluster: rds.DatabaseCluster;
  /** The generated master secret (JSON: username, password, host, port, dbname, engine). */
  readonly secret: secretsmanager.ISecret;
  /** The gateway's DATABASE_URL: user, cluster endpoint, port, database and TLS mode, and no password. */
  readonly url: string;

  constructor(scope: Construct, id: string, props: CatalogueDatabaseProps) {
    super(scope, id);
    const minCapacity = props.minCapacity ?? 0.5;
    const maxCapacity = props.maxCapacity ?? 4;
    // Not 0 (auto-pause): the gateway's job runner polls the catalogue every second and its pool
    // holds connections open, so the cluster would never be idle long enough to pause.
    checkCapacity('auroraMinAcu', minCapacity, 0.5);
    checkCapacity('auroraMaxAcu', maxCapacity, 1);
    if (maxCapacity < minCapacity) {
      throw new Error(`auroraMaxAcu (${maxCapacity}) must be at least auroraMinAcu (${minCapacity}).`);
    }

    this.cluster = new rds.DatabaseCluster(this, 'Cluster', {
      // A 16.x from after AWS brought pgvector 0.8 to Aurora (2025): 0.8's iterative index scans keep
      // filtered searches from coming back short. The gateway reads the version it gets when it
      // migrates (it needs 0.5, and uses iterative scans only from 0.8). Pinned, so that a minor
      // upgrade is a reviewed change rather than whatever is newest at the next deploy.
      engine: rds.DatabaseClusterEngine.auroraPostgres({ version: rds.AuroraPostgresEngineVersion.VER_16_8 }),
      writer: rds.ClusterInstance.serverlessV2('writer', { publiclyAccessible: false }),
      serverlessV2MinCapacity: minCapacity,
      serverlessV2MaxCapacity: maxCapacity,
      vpc: props.vpc,
      vpcSubnets: { subnetGroupName: DATABASE_SUBNET_GROUP },
      port: DATABASE_PORT,
      credentials: rds.Credentials.fromGeneratedSecret(DATABASE_USER),
      defaultDatabaseName: DATABASE_NAME,
      storageEncrypted: true,
      // Aurora PostgreSQL 16 accepts plain connections unless told otherwise.
      parameters: { 'rds.force_ssl': '1' },
      // The catalogue (products, tags, embeddings that cost inference to recompute) outlives the
      // stack: deleting or replacing the cluster leaves a final snapshot. No deletion protection,
      // so that `cdk destroy` still works in one step; the snapshot is the safety net.
      removalPolicy: RemovalPolicy.SNAPSHOT,
      deletionProtection: false,
    });
    if (!this.cluster.secret) throw new Error('The cluster has no generated secret.');
    this.secret = this.cluster.secret;
    this.url = `postgres://${DATABASE_USER}@${this.cluster.clusterEndpoint.socketAddress}/${DATABASE_NAME}${DATABASE_TLS_QUERY}`;
  }

  /** Admits `peer` (the gateway service) on the database port, and nothing else. */
  allowFrom(peer: ec2.IConnectable): void {
    // The port by number rather than allowDefaultPortFrom, whose port is the cluster's Endpoint.Port
    // attribute: the rule then says what it admits in the template itself.
    this.cluster.connections.allowFrom(peer, ec2.Port.tcp(DATABASE_PORT), 'The gateway tasks');
  }
}

function checkCapacity(name: string, value: number, min: number): void {
  if (!Number.isFinite(value) || value < min || value > 256 || !Number.isInteger(value * 2)) {
    throw new Error(`${name} must be from ${min} to 256 ACUs in steps of 0.5, got ${value}.`);
  }
}
