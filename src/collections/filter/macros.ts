/** PocketBase's date macros, all in UTC; dates as "YYYY-MM-DD HH:MM:SS.sssZ" text. */

import { type Literal, pbDate } from "./values.js";

const DAY_MS = 86_400_000;

function utc(y: number, m: number, d: number, h = 0, min = 0, s = 0, ms = 0): Date {
  return new Date(Date.UTC(y, m, d, h, min, s, ms));
}

const MACROS: Readonly<Record<string, (now: Date) => Literal>> = {
  "@now": (now) => pbDate(now),
  // Calendar days, as Go's AddDate(0, 0, ±1) (UTC has no DST, so 24 h).
  "@yesterday": (now) => pbDate(new Date(now.getTime() - DAY_MS)),
  "@tomorrow": (now) => pbDate(new Date(now.getTime() + DAY_MS)),
  "@second": (now) => now.getUTCSeconds(),
  "@minute": (now) => now.getUTCMinutes(),
  "@hour": (now) => now.getUTCHours(),
  "@day": (now) => now.getUTCDate(),
  "@month": (now) => now.getUTCMonth() + 1,
  "@weekday": (now) => now.getUTCDay(), // 0 = Sunday
  "@year": (now) => now.getUTCFullYear(),
  "@todayStart": (now) => pbDate(utc(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate())),
  "@todayEnd": (now) =>
    pbDate(utc(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 23, 59, 59, 999)),
  "@monthStart": (now) => pbDate(utc(now.getUTCFullYear(), now.getUTCMonth(), 1)),
  // Day 0 of the next month is the last day of this one.
  "@monthEnd": (now) =>
    pbDate(utc(now.getUTCFullYear(), now.getUTCMonth() + 1, 0, 23, 59, 59, 999)),
  "@yearStart": (now) => pbDate(utc(now.getUTCFullYear(), 0, 1)),
  "@yearEnd": (now) => pbDate(utc(now.getUTCFullYear(), 11, 31, 23, 59, 59, 999)),
};

export const MACRO_NAMES: readonly string[] = Object.keys(MACROS);

export function macroValue(name: string, now: Date): Literal | undefined {
  const macro = Object.hasOwn(MACROS, name) ? MACROS[name] : undefined;
  return macro?.(now);
}
