/** The bench as a library: run scenarios programmatically (smoke checks) and the tools behind the CLI. */
export { runBench, runOnce, machine } from './run.js';
export { parseOptions, SCENARIOS } from './options.js';
export type { BenchOptions, ScenarioName } from './options.js';
export { REQUIRED_FIELDS, failures, formatTable, combineRuns } from './result.js';
export type { BenchResult } from './result.js';
export { latencyChart, resultsFromJson } from './chart.js';
export { summarizeProfile, formatProfile } from './profile-summary.js';
export type { CpuProfile, ProfileSummary } from './profile-summary.js';
export { Histogram } from './histogram.js';
