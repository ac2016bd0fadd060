/** Query parameters. */

/** A whole number from 1 to max; the fallback when absent; undefined when invalid. */
export function positiveInteger(
  raw: string | undefined,
  fallback: number,
  max: number,
): number | undefined {
  if (raw === undefined || raw === "") return fallback;
  if (!/^\d{1,16}$/.test(raw)) return undefined;
  const value = Number(raw);
  return value >= 1 && value <= max ? value : undefined;
}
