import { join } from "node:path";
import { sqlite } from "../../src/index.js";
import { tempDir } from "../helpers/temp.js";
import { driverConformance } from "./conformance.js";

driverConformance("sqlite", {
  async fresh() {
    const dir = join(tempDir(), "data");
    return { driver: () => sqlite({ dir }), dispose: async () => {} };
  },
});
