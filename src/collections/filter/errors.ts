import { TenantbaseError } from "../../tools/error.js";

/**
 * A filter or sort expression that cannot be used: bad syntax, an unknown or
 * hidden field, an unsupported feature, a limit exceeded. `details.position`
 * is the 0-based offset in the input (in UTF-16 code units, as JS indexes
 * strings) where the problem starts.
 */
export class FilterError extends TenantbaseError {
  readonly position: number;

  constructor(problem: string, position: number) {
    super("FILTER_INVALID", `Invalid filter: ${problem} (at position ${position}).`, {
      problem,
      position,
    });
    this.position = position;
  }
}
