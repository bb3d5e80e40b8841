/** The breach lab for integration tests: bring it up in beforeAll, down in afterAll. */
export {
  EICAR,
  LAB_CONTAINER_NAMES,
  LAB_LABEL,
  LAB_PATHS,
  LAB_SIGNATURE_TEXT,
  type LabInfo,
  type LabScenario,
  type LabStatus,
  type LabTrojan,
  labDown,
  labStatus,
  labUp,
} from "../../lab/lab-core.js";
export { parseLoopbackPackets, procLoopbackPackets, sha256File } from "../../lab/lab-proc.js";
