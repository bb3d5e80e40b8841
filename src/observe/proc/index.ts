/** The procfs observers: processes, container attribution, sockets, traffic, host facts. */
export { type CgroupContainer, type ContainerRuntime, containerFromCgroup } from "./cgroup.js";
export {
  DEFAULT_CLOCK_TICKS,
  type HostFacts,
  parseAuxvClockTicks,
  parseBootTimeMs,
  parseCpuCount,
  parseMemTotalBytes,
  parseProcUptime,
  readClockTicks,
  readHostFacts,
} from "./host-facts.js";
export { parseMountinfoLine, unescapeMountinfo, upperDirFromMountinfo } from "./mountinfo.js";
export { parseNetDev } from "./net-dev.js";
export {
  formatIpv6,
  hexToIpv4,
  hexToIpv6,
  NET_PROTOS,
  type NetProto,
  type NetTableEntry,
  parseNetTable,
  tcpStateName,
} from "./net-table.js";
export {
  type InterfaceRate,
  interfaceRate,
  type ReadNetworkOptions,
  readNetwork,
  trafficRates,
} from "./network.js";
export { type HashCacheEntry, type ReadProcessesOptions, readProcesses } from "./processes.js";
export {
  type IdPair,
  PF_KTHREAD,
  type ProcStat,
  type ProcStatus,
  parseStat,
  parseStatus,
} from "./stat.js";
