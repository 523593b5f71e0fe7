// The cluster: one primary forking WORKERS server processes on one port (node:cluster).
export { startCluster, type ClusterOptions, type RunningCluster } from './primary.ts';
export { clusterMetrics, tellPrimary, workerRole, type WorkerRole } from './worker.ts';
