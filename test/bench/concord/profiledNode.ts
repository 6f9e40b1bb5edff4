// Node entry for `--profile`: the product's node process under the V8 sampling profiler.
// Node 20 refuses --cpu-prof in NODE_OPTIONS and launchCluster runs `node <node's V8 flags>
// --import tsx <entry>`, so this entry starts the profiler first (import order is execution
// order), then runs services/node/main.ts unchanged; the node exits on SIGTERM and the profile
// is written.
import './startCpuProfiler';
import '../../../services/node/main';
