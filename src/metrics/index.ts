export { HealthCheck, type Health, type HealthProbes } from './health.js';
export { dockerOperation, enableMetrics, LATENCY_BUCKETS, Metrics, record } from './metrics.js';
export { MetricsServer } from './server.js';
